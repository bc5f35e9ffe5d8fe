/**
 * The AWS SDK clients of one set of deps, each built on first use by the adapter that needs it.
 * DynamoDB and SQS here (nearly every function uses them); S3, SES and STS in the modules of the
 * adapters that use them (aws-files.ts, aws-notifier.ts, aws-worker-channels.ts): a bundle requires
 * an SDK package whenever a module it includes imports it, so a function that is not wired with the
 * file store does not load @aws-sdk/client-s3 at cold start.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SESv2Client } from '@aws-sdk/client-sesv2';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { STSClient } from '@aws-sdk/client-sts';
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
export function clientBase(ctx: AwsContext, service: Service): { region?: string; endpoint?: string; credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } } {
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

export function sqsClient(ctx: AwsContext): SQSClient {
  return (ctx.clients.sqs ??= new SQSClient(clientBase(ctx, 'SQS')));
}
