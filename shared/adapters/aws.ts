/**
 * Wiring for AWS (and the local stack's emulators): reads the environment once and builds every adapter.
 * The CLI, tools and tests use `createAwsDeps()`; Lambda handlers use `awsDeps({ ...their ports })`
 * (aws-adapters.ts) so that each bundle holds only its own adapters.
 *
 * Endpoints, region and credentials come from the usual AWS variables (`AWS_ENDPOINT_URL_DYNAMODB`,
 * `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL_SQS`, `AWS_REGION`, ...). When `env` is not `process.env`
 * (tests, tools), region, endpoints and static credentials are taken from `env` explicitly.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SESv2Client } from '@aws-sdk/client-sesv2';
import type { STSClient } from '@aws-sdk/client-sts';
import type { Deps } from '../ports';
import { readAwsConfig, type AwsConfig } from './aws-config';
import { documentClient, dynamoClient, sqsClient, type AwsClients, type AwsContext } from './aws-clients';
import { files, s3Client, s3PresignerClient } from './aws-files';
import { notifier, sesClient } from './aws-notifier';
import { sockets } from './aws-sockets';
import { stsClient, workerChannels } from './aws-worker-channels';
import {
  accountingQueue,
  accounts,
  artifacts,
  audit,
  buildAwsDeps,
  channels,
  collections,
  identity,
  queues,
  quotas,
  recurringJobs,
  machineEventLog,
  schema,
  sequences,
  templates,
  workers,
  workRequests,
  type AwsAdapters,
  type DepsExtras,
} from './aws-adapters';

import { queuedRecurringRunHooks } from './aws-recurring-runs';

export { FORCE_PATH_STYLE_ENV_VAR, readAwsConfig, type AwsConfig } from './aws-config';
export type { AwsClients } from './aws-clients';
export { randomIds, systemClock } from './aws-adapters';
export { createNotifier } from './aws-notifier';

/** Every port: what the CLI, the local tools and the tests get. */
export const ALL_AWS_ADAPTERS: Required<AwsAdapters> = {
  identity, artifacts, audit, files, queues, workRequests, workers, workerChannels, templates,
  collections, channels, notifier, sequences, accounts, accountingQueue, schema, recurringJobs, sockets, quotas,
  // The CLI and tools cannot run the use cases' hooks from here (adapters do not import them): they queue the moves.
  recurringRunHooks: queuedRecurringRunHooks,
  machineEventLog,
};

/** Clients to inject instead of the default ones (e.g. a DynamoDB client with a capacity-counting middleware). */
export type AwsClientOverrides = Partial<Omit<AwsClients, 'doc'>>;

/** Every client, built now (callers that share them between deps and direct SDK calls). */
export function createAwsClients(env: NodeJS.ProcessEnv = process.env, overrides: AwsClientOverrides = {}): AwsClients {
  const ctx: AwsContext = { config: readAwsConfig(env), clients: { ...overrides }, env };
  return {
    dynamo: dynamoClient(ctx),
    doc: documentClient(ctx),
    s3: s3Client(ctx),
    s3Presigner: s3PresignerClient(ctx),
    sqs: sqsClient(ctx),
    sts: stsClient(ctx),
    ses: sesClient(ctx),
  };
}

export interface CreateAwsDepsOptions extends AwsClientOverrides {
  /** Alias of `dynamo`, for benchmarks that wrap the DynamoDB client. */
  dynamoClient?: DynamoDBClient;
  clock?: DepsExtras['clock'];
  ids?: DepsExtras['ids'];
}

export function createAwsDeps(env: NodeJS.ProcessEnv = process.env, opts: CreateAwsDepsOptions = {}): Deps {
  const { dynamoClient: wrapped, clock, ids, ...overrides } = opts;
  const clients: Partial<AwsClients> = { ...overrides, ...(wrapped ? { dynamo: wrapped } : {}) };
  return buildAwsDeps(ALL_AWS_ADAPTERS, { config: readAwsConfig(env), clients, env }, { ...(clock ? { clock } : {}), ...(ids ? { ids } : {}) });
}

export function createAwsDepsFromClients(
  config: AwsConfig,
  clients: Pick<AwsClients, 'doc' | 's3' | 'sqs'> & { s3Presigner?: S3Client; sts?: STSClient; ses?: SESv2Client },
  extra: DepsExtras = {},
): Deps {
  return buildAwsDeps(ALL_AWS_ADAPTERS, { config, clients: { ...clients } }, extra);
}
