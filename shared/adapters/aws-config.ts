/**
 * Conveyor's AWS settings, read from the environment once (see aws.ts). Kept apart from the adapters
 * so that a function's bundle can read its settings without pulling in every adapter.
 */
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
import { readQuotaSettings } from '../domain/quotas';
import { readSchedulingPolicy } from '../domain/scheduling-policy';
import type { VerifyMode } from './s3/file-store';
import type { JobQueueUrls } from './sqs/job-queues';

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
  /** How far a gsi3 Query may lag behind a write (ms, CONVEYOR_INDEX_LAG_MS; candidate markers). */
  indexLagMs?: number;
}

/** 0 on DynamoDB Local (its indexes are written with the item); unset on AWS (the adapter's default). */
export const INDEX_LAG_ENV_VAR = 'CONVEYOR_INDEX_LAG_MS';

function readIndexLag(env: NodeJS.ProcessEnv): number | undefined {
  const raw = env[INDEX_LAG_ENV_VAR];
  if (raw === undefined || raw === '') return undefined;
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms < 0) throw new Error(`${INDEX_LAG_ENV_VAR} must be a whole number of milliseconds, not ${JSON.stringify(raw)}`);
  return ms;
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
    indexLagMs: readIndexLag(env),
  };
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new Error(`Missing environment variable ${name}`);
  return value;
}
