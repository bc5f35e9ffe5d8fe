/**
 * Wiring for AWS (and the local stack's emulators): reads the environment once and builds every adapter.
 * Lambda handlers call `createAwsDeps()` once at module load; clients are cheap to build and connect lazily.
 *
 * Endpoints, region and credentials come from the usual AWS variables (`AWS_ENDPOINT_URL_DYNAMODB`,
 * `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL_SQS`, `AWS_REGION`, ...). When `env` is not `process.env`
 * (tests, tools), region, endpoints and static credentials are taken from `env` explicitly.
 */
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { SESv2Client, type SESv2ClientConfig } from '@aws-sdk/client-sesv2';
import { SQSClient, type SQSClientConfig } from '@aws-sdk/client-sqs';
import { STSClient, type STSClientConfig } from '@aws-sdk/client-sts';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { randomBytes } from 'node:crypto';
import {
  BUCKET_ENV_VAR,
  DEFAULT_WORKER_QUEUE_PREFIX,
  MAILBOX_FILE_ENV_VAR,
  NOTIFY_FROM_ENV_VAR,
  QUEUES,
  TABLES,
  VERIFY_MODE_ENV_VAR,
  WORKER_QUEUE_PREFIX_ENV_VAR,
  WORKER_QUEUE_ROLE_ENV_VAR,
} from '../manifest';
import type { Clock, Deps, IdGenerator, Notifier } from '../ports';
import { DynamoAccountsRepository, DynamoSchemaStore } from './dynamodb/accounts-repository';
import { DynamoArtifactRepository } from './dynamodb/artifact-repository';
import { DynamoAuditLog } from './dynamodb/audit-log';
import { DynamoCollectionRepository } from './dynamodb/collection-repository';
import { DynamoIdentityRepository } from './dynamodb/identity-repository';
import { DynamoNotificationChannelRepository } from './dynamodb/notification-channel-repository';
import { DynamoSequences } from './dynamodb/sequences';
import { BlockSequences } from './dynamodb/id-blocks';
import { DynamoRecurringJobRepository } from './dynamodb/recurring-job-repository';
import { DynamoWorkRequestRepository } from './dynamodb/work-request-repository';
import { DynamoWorkerRepository } from './dynamodb/worker-repository';
import { DynamoWorkflowTemplateRepository } from './dynamodb/workflow-template-repository';
import { MailboxNotifier } from './notify/mailbox-notifier';
import { SesNotifier } from './notify/ses-notifier';
import { S3FileStore, type VerifyMode } from './s3/file-store';
import { SqsJobQueues, type JobQueueUrls } from './sqs/job-queues';
import { SqsAccountingQueue } from './sqs/accounting-queue';
import { readQuotaSettings } from '../domain/quotas';
import { readSchedulingPolicy } from '../domain/scheduling-policy';
import { SqsWorkerChannels } from './sqs/worker-channels';
import { DynamoSocketConnections } from './sockets/dynamo-connections';
import { ManagementApiPusher } from './sockets/management-api-pusher';

export const FORCE_PATH_STYLE_ENV_VAR = 'CONVEYOR_S3_FORCE_PATH_STYLE';

/**
 * Each function receives only the variables of what it uses (least privilege), so everything
 * but the main table is optional here; using an adapter whose variable is missing fails loudly.
 */
export interface AwsConfig {
  mainTable: string;
  auditTable?: string;
  bucket?: string;
  queueUrls: JobQueueUrls;
  verifyMode: VerifyMode;
  forcePathStyle: boolean;
  /** Region of this deployment (the workers' queues live there). */
  region: string;
  workerQueuePrefix: string;
  /** The role handing workers credentials for their own queue (cloud only). */
  workerQueueRoleArn?: string;
  /** The SQS endpoint when not AWS's (local stack): workers are told to use it too. */
  sqsEndpoint?: string;
  /** Default sender of notification e-mails (CONVEYOR_NOTIFY_FROM). */
  notifyFrom?: string;
  /** Local stack: notifications go to this mbox file instead of SES (CONVEYOR_MAILBOX_FILE). */
  mailboxFile?: string;
  /** The accounting queue (QUEUES.accounting), for functions that report usage changes. */
  accountingQueueUrl?: string;
  quotaSettings: ReturnType<typeof readQuotaSettings>;
  schedulingPolicy: ReturnType<typeof readSchedulingPolicy>;
  /** Debusine's WebSocket connections (functions that talk to sockets only). */
  connectionsTable?: string;
}

/** Reads and checks Conveyor's variables; a missing one throws an Error naming it. */
export function readAwsConfig(env: NodeJS.ProcessEnv = process.env): AwsConfig {
  const verify = env[VERIFY_MODE_ENV_VAR] || 'checksum';
  if (verify !== 'checksum' && verify !== 'readback') {
    throw new Error(`${VERIFY_MODE_ENV_VAR} must be "checksum" or "readback", not ${JSON.stringify(verify)}`);
  }
  return {
    mainTable: required(env, TABLES.main.envVar),
    auditTable: env[TABLES.audit.envVar] || undefined,
    bucket: env[BUCKET_ENV_VAR] || undefined,
    queueUrls: {
      fileVerification: env[QUEUES['file-verification'].envVar] || undefined,
      scheduler: env[QUEUES.scheduler.envVar] || undefined,
      heartbeats: env[QUEUES.heartbeats.envVar] || undefined,
      serverTasks: env[QUEUES['server-tasks'].envVar] || undefined,
      orchestrator: env[QUEUES.orchestrator.envVar] || undefined,
    },
    verifyMode: verify,
    forcePathStyle: env[FORCE_PATH_STYLE_ENV_VAR] === '1',
    region: env['AWS_REGION'] || env['AWS_DEFAULT_REGION'] || 'us-east-1',
    workerQueuePrefix: env[WORKER_QUEUE_PREFIX_ENV_VAR] || DEFAULT_WORKER_QUEUE_PREFIX,
    workerQueueRoleArn: env[WORKER_QUEUE_ROLE_ENV_VAR] || undefined,
    sqsEndpoint: env['AWS_ENDPOINT_URL_SQS'] || env['AWS_ENDPOINT_URL'] || undefined,
    notifyFrom: env[NOTIFY_FROM_ENV_VAR] || undefined,
    mailboxFile: env[MAILBOX_FILE_ENV_VAR] || undefined,
    accountingQueueUrl: env[QUEUES.accounting.envVar] || undefined,
    quotaSettings: readQuotaSettings(env),
    schedulingPolicy: readSchedulingPolicy(env),
    connectionsTable: env[TABLES.connections.envVar] || undefined,
  };
}

export interface AwsClients {
  dynamo: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  s3: S3Client;
  /** Presigns only: flexible checksums when required, so no CRC32 of an empty body lands in URLs. */
  s3Presigner: S3Client;
  sqs: SQSClient;
  /** Only called with a worker-queue role (cloud); building it costs nothing until then. */
  sts: STSClient;
  /** Notifications (cloud); unused when a mailbox file is configured. */
  ses: SESv2Client;
}

/** Clients to inject instead of the default ones (e.g. a DynamoDB client with a capacity-counting middleware). */
export type AwsClientOverrides = Partial<Omit<AwsClients, 'doc'>>;

export function createAwsClients(env: NodeJS.ProcessEnv = process.env, overrides: AwsClientOverrides = {}): AwsClients {
  const config = readAwsConfig(env);
  const explicit = env !== process.env;
  const base = (service: 'DYNAMODB' | 'S3' | 'SQS' | 'STS' | 'SESV2') => {
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
  };
  const dynamo = overrides.dynamo ?? new DynamoDBClient(base('DYNAMODB') satisfies DynamoDBClientConfig);
  const doc = DynamoDBDocumentClient.from(dynamo, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
  const s3Config: S3ClientConfig = { ...base('S3'), forcePathStyle: config.forcePathStyle };
  const s3 = overrides.s3 ?? new S3Client(s3Config);
  const s3Presigner =
    overrides.s3Presigner ??
    new S3Client({ ...s3Config, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
  const sqs = overrides.sqs ?? new SQSClient(base('SQS') satisfies SQSClientConfig);
  const sts = overrides.sts ?? new STSClient(base('STS') satisfies STSClientConfig);
  const ses = overrides.ses ?? new SESv2Client(base('SESV2') satisfies SESv2ClientConfig);
  return { dynamo, doc, s3, s3Presigner, sqs, sts, ses };
}

export interface CreateAwsDepsOptions extends AwsClientOverrides {
  /** Alias of `dynamo`, for benchmarks that wrap the DynamoDB client. */
  dynamoClient?: DynamoDBClient;
  clock?: Clock;
  ids?: IdGenerator;
}

export function createAwsDeps(env: NodeJS.ProcessEnv = process.env, opts: CreateAwsDepsOptions = {}): Deps {
  const config = readAwsConfig(env);
  const { dynamoClient, clock, ids, ...overrides } = opts;
  const clients = createAwsClients(env, { ...overrides, ...(dynamoClient ? { dynamo: dynamoClient } : {}) });
  return createAwsDepsFromClients(config, clients, { ...(clock ? { clock } : {}), ...(ids ? { ids } : {}) });
}

export function createAwsDepsFromClients(
  config: AwsConfig,
  clients: Pick<AwsClients, 'doc' | 's3' | 'sqs'> & { s3Presigner?: S3Client; sts?: STSClient; ses?: SESv2Client },
  extra: { clock?: Clock; ids?: IdGenerator } = {},
): Deps {
  return {
    identity: new DynamoIdentityRepository(clients.doc, config.mainTable),
    artifacts: new DynamoArtifactRepository(clients.doc, config.mainTable),
    sequences: new BlockSequences(new DynamoSequences(clients.doc, config.mainTable)),
    audit: config.auditTable ? new DynamoAuditLog(clients.doc, config.auditTable) : unconfigured('the audit log', TABLES.audit.envVar),
    files: config.bucket
      ? new S3FileStore(clients.s3, config.bucket, {
          verifyMode: config.verifyMode,
          ...(clients.s3Presigner ? { presigner: clients.s3Presigner } : {}),
        })
      : unconfigured('the file store', BUCKET_ENV_VAR),
    // Each method fails on use, naming the variable, when its queue's URL is not set.
    queues: new SqsJobQueues(clients.sqs, config.queueUrls),
    workRequests: new DynamoWorkRequestRepository(clients.doc, config.mainTable),
    workers: new DynamoWorkerRepository(clients.doc, config.mainTable),
    workerChannels: new SqsWorkerChannels(clients.sqs, {
      prefix: config.workerQueuePrefix,
      roleArn: config.workerQueueRoleArn,
      sts: config.workerQueueRoleArn ? (clients.sts ?? new STSClient({ region: config.region })) : undefined,
      region: config.region,
      endpoint: config.sqsEndpoint,
    }),
    templates: new DynamoWorkflowTemplateRepository(clients.doc, config.mainTable),
    collections: new DynamoCollectionRepository(clients.doc, config.mainTable),
    recurringJobs: new DynamoRecurringJobRepository(clients.doc, config.mainTable),
    channels: new DynamoNotificationChannelRepository(clients.doc, config.mainTable),
    notifier: createNotifier(config, clients),
    clock: extra.clock ?? systemClock,
    ids: extra.ids ?? randomIds,
    accounts: new DynamoAccountsRepository(clients.doc, config.mainTable),
    accountingQueue: new SqsAccountingQueue(clients.sqs, config.accountingQueueUrl),
    schema: new DynamoSchemaStore(clients.doc, config.mainTable),
    quotaSettings: config.quotaSettings,
    schedulingPolicy: config.schedulingPolicy,
    ...(config.connectionsTable
      ? { sockets: { connections: new DynamoSocketConnections(clients.doc, config.connectionsTable), pusher: new ManagementApiPusher(undefined, config.region) } }
      : {}),
  };
}

/** A mailbox file when one is configured (local stack), else SES (built lazily: most functions never send). */
export function createNotifier(config: Pick<AwsConfig, 'mailboxFile' | 'notifyFrom' | 'region'>, clients: { ses?: SESv2Client } = {}): Notifier {
  if (config.mailboxFile) return new MailboxNotifier(config.mailboxFile, { defaultFrom: config.notifyFrom });
  let ses: SesNotifier | undefined;
  return {
    send: (email) => (ses ??= new SesNotifier(clients.ses ?? new SESv2Client({ region: config.region }), { defaultFrom: config.notifyFrom })).send(email),
  };
}

export const systemClock: Clock = { now: () => new Date() };

/** 22 characters of base64url: 128 random bits. */
export const randomIds: IdGenerator = { random: () => randomBytes(16).toString('base64url') };

/** Stands in for an adapter this function was given no access to: any use throws, naming the variable. */
function unconfigured<T extends object>(what: string, envVar: string): T {
  return new Proxy({} as T, {
    get(_target, prop) {
      if (prop === 'then') return undefined; // not a thenable
      throw new Error(`${what} is not available here: ${envVar} is not set`);
    },
  });
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new Error(`Missing environment variable ${name}`);
  return value;
}
