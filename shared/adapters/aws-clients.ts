/**
 * The AWS SDK clients of one set of deps, each built on first use by the adapter that needs it.
 * One builder per client, in a module of its own making: a function's bundle requires only the SDK
 * packages of the adapters it is wired with (aws-adapters.ts), so a function that never touches S3
 * does not load @aws-sdk/client-s3 at cold start.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { SESv2Client } from '@aws-sdk/client-sesv2';
import { SQSClient } from '@aws-sdk/client-sqs';
import { STSClient } from '@aws-sdk/client-sts';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AwsConfig } from './aws-config';

export interface AwsClients {
  dynamo: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  s3: S3Client;
  /** Presigns only: flexible checksums when required, so no CRC32 of an empty body lands in URLs. */
  s3Presigner: S3Client;
  sqs: SQSClient;
  /** Only called with a worker-queue role (cloud). */
  sts: STSClient;
  /** Notifications (cloud); unused when a mailbox file is configured. */
  ses: SESv2Client;
}

/** What the adapters of one set of deps are built from. */
export interface AwsContext {
  config: AwsConfig;
  /** Injected clients, and those built so far (each is built once and shared). */
  clients: Partial<AwsClients>;
  /**
   * Where missing clients take region, endpoint and credentials from. Absent (deps built from given
   * clients): a missing client gets the configured region only.
   */
  env?: NodeJS.ProcessEnv;
}

type Service = 'DYNAMODB' | 'S3' | 'SQS' | 'STS' | 'SESV2';

/**
 * Region, endpoint and credentials of one service. When `env` is not `process.env` (tests, tools),
 * they are taken from `env` explicitly; otherwise the SDK reads the usual AWS variables itself.
 */
function clientBase(ctx: AwsContext, service: Service): { region?: string; endpoint?: string; credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } } {
  const env = ctx.env;
  if (!env) return { region: ctx.config.region };
  const explicit = env !== process.env;
  const region = env['AWS_REGION'] || env['AWS_DEFAULT_REGION'];
  const endpoint = env[`AWS_ENDPOINT_URL_${service}`] || env['AWS_ENDPOINT_URL'];
  const key = env['AWS_ACCESS_KEY_ID'];
  const secret = env['AWS_SECRET_ACCESS_KEY'];
  const token = env['AWS_SESSION_TOKEN'];
  return {
    ...(region ? { region } : {}),
    ...(endpoint ? { endpoint } : {}),
    ...(explicit && key && secret ? { credentials: { accessKeyId: key, secretAccessKey: secret, ...(token ? { sessionToken: token } : {}) } } : {}),
  };
}

export function dynamoClient(ctx: AwsContext): DynamoDBClient {
  return (ctx.clients.dynamo ??= new DynamoDBClient(clientBase(ctx, 'DYNAMODB')));
}

export function documentClient(ctx: AwsContext): DynamoDBDocumentClient {
  return (ctx.clients.doc ??= DynamoDBDocumentClient.from(dynamoClient(ctx), {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  }));
}

const s3Config = (ctx: AwsContext): S3ClientConfig => ({ ...clientBase(ctx, 'S3'), forcePathStyle: ctx.config.forcePathStyle });

export function s3Client(ctx: AwsContext): S3Client {
  return (ctx.clients.s3 ??= new S3Client(s3Config(ctx)));
}

export function s3PresignerClient(ctx: AwsContext): S3Client {
  return (ctx.clients.s3Presigner ??= new S3Client({ ...s3Config(ctx), requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' }));
}

export function sqsClient(ctx: AwsContext): SQSClient {
  return (ctx.clients.sqs ??= new SQSClient(clientBase(ctx, 'SQS')));
}

export function stsClient(ctx: AwsContext): STSClient {
  return (ctx.clients.sts ??= new STSClient(clientBase(ctx, 'STS')));
}

export function sesClient(ctx: AwsContext): SESv2Client {
  return (ctx.clients.ses ??= new SESv2Client(clientBase(ctx, 'SESV2')));
}
