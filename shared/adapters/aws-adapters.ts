/**
 * One factory per port (here, and in aws-files.ts, aws-notifier.ts, aws-worker-channels.ts and
 * aws-sockets.ts for the ports that need an SDK package of their own), and `awsDeps`, which builds a
 * function's Deps from only the factories it is given. Each Lambda handler names the ports its code uses (`awsDeps({ identity, workRequests })`):
 * esbuild then bundles only those adapters and requires only their SDK clients (aws-clients.ts),
 * which keeps every bundle under its size budget (docs/decisions.md, "Per-function adapters").
 * A port the function is not wired with is a stand-in that throws on use, naming the port; the
 * bundle test (test/unit/function-bundles.test.ts) fails when a function's code uses a port it is
 * not wired with. `createAwsDeps` (aws.ts) wires every port, for the CLI, tools and tests.
 */
import { randomBytes } from 'node:crypto';
import { TABLES } from '../manifest';
import type { Clock, Deps, IdGenerator } from '../ports';
import { readAwsConfig, type AwsConfig } from './aws-config';
import { documentClient, sqsClient, type AwsContext } from './aws-clients';
import { DynamoAccountsRepository, DynamoSchemaStore } from './dynamodb/accounts-repository';
import { DynamoQuotaReader } from './dynamodb/quota-reader';
import { DynamoArtifactRepository } from './dynamodb/artifact-repository';
import { dynamoExpiryStore, type DynamoExpiryStore } from './dynamodb/expiry-store';
import { DynamoRetentionGraph } from './dynamodb/retention-graph';
import { DynamoAuditLog } from './dynamodb/audit-log';
import { DynamoCollectionRepository } from './dynamodb/collection-repository';
import { BlockSequences } from './dynamodb/id-blocks';
import { DynamoIdentityRepository } from './dynamodb/identity-repository';
import { DynamoNotificationChannelRepository } from './dynamodb/notification-channel-repository';
import { DynamoRecurringJobRepository } from './dynamodb/recurring-job-repository';
import { DynamoMachineEventLog } from './dynamodb/machine-event-log';
import { DynamoSequences } from './dynamodb/sequences';
import { DynamoWorkRequestRepository } from './dynamodb/work-request-repository';
import { DynamoWorkerRepository } from './dynamodb/worker-repository';
import { DynamoWorkflowTemplateRepository } from './dynamodb/workflow-template-repository';
import { SqsAccountingQueue } from './sqs/accounting-queue';
import { SqsJobQueues } from './sqs/job-queues';

/** The ports built from AWS (the rest of Deps is plain configuration, always present). */
export type AwsPort = Exclude<keyof Deps, 'clock' | 'ids' | 'quotaSettings' | 'schedulingPolicy' | 'offerOnCreate'>;

/** Builds one port's adapter; `undefined` for an optional port this deployment lacks (no sockets table). */
export type AwsAdapter<K extends AwsPort> = (ctx: AwsContext) => Deps[K];

export type AwsAdapters = { [K in AwsPort]?: AwsAdapter<K> };

/** Every port, in Deps' order (the ports a function is not wired with are stand-ins). */
export const AWS_PORTS: readonly AwsPort[] = [
  'identity', 'artifacts', 'audit', 'files', 'queues', 'workRequests', 'workers', 'workerChannels', 'templates',
  'collections', 'channels', 'notifier', 'sequences', 'accounts', 'accountingQueue', 'schema', 'recurringJobs', 'sockets', 'quotas',
  'recurringRunHooks', 'machineEventLog',
];

/** Optional in Deps: left out (not a stand-in) where not wired, as code checks for their presence. */
const OPTIONAL_PORTS: ReadonlySet<AwsPort> = new Set(['recurringJobs', 'sockets', 'recurringRunHooks', 'machineEventLog']);

export const identity: AwsAdapter<'identity'> = (ctx) => new DynamoIdentityRepository(documentClient(ctx), ctx.config.mainTable);
export const artifacts: AwsAdapter<'artifacts'> = (ctx) => new DynamoArtifactRepository(documentClient(ctx), ctx.config.mainTable);
export const sequences: AwsAdapter<'sequences'> = (ctx) => new BlockSequences(new DynamoSequences(documentClient(ctx), ctx.config.mainTable));
export const audit: AwsAdapter<'audit'> = (ctx) =>
  ctx.config.auditTable ? new DynamoAuditLog(documentClient(ctx), ctx.config.auditTable) : unconfigured('the audit log', TABLES.audit.envVar);
// Each method fails on use, naming the variable, when its queue's URL is not set.
export const queues: AwsAdapter<'queues'> = (ctx) => new SqsJobQueues(sqsClient(ctx), ctx.config.queueUrls);
export const workRequests: AwsAdapter<'workRequests'> = (ctx) => new DynamoWorkRequestRepository(documentClient(ctx), ctx.config.mainTable, ctx.config.indexLagMs);
export const workers: AwsAdapter<'workers'> = (ctx) => new DynamoWorkerRepository(documentClient(ctx), ctx.config.mainTable);
export const templates: AwsAdapter<'templates'> = (ctx) => new DynamoWorkflowTemplateRepository(documentClient(ctx), ctx.config.mainTable);
export const collections: AwsAdapter<'collections'> = (ctx) => new DynamoCollectionRepository(documentClient(ctx), ctx.config.mainTable);
export const recurringJobs: AwsAdapter<'recurringJobs'> = (ctx) => new DynamoRecurringJobRepository(documentClient(ctx), ctx.config.mainTable);
export const machineEventLog: AwsAdapter<'machineEventLog'> = (ctx) => new DynamoMachineEventLog(documentClient(ctx), ctx.config.mainTable);
export const channels: AwsAdapter<'channels'> = (ctx) => new DynamoNotificationChannelRepository(documentClient(ctx), ctx.config.mainTable);
export const accounts: AwsAdapter<'accounts'> = (ctx) => new DynamoAccountsRepository(documentClient(ctx), ctx.config.mainTable);
export const accountingQueue: AwsAdapter<'accountingQueue'> = (ctx) => new SqsAccountingQueue(sqsClient(ctx), ctx.config.accountingQueueUrl);
export const schema: AwsAdapter<'schema'> = (ctx) => new DynamoSchemaStore(documentClient(ctx), ctx.config.mainTable);
export const quotas: AwsAdapter<'quotas'> = (ctx) => new DynamoQuotaReader(documentClient(ctx), ctx.config.mainTable);

export const systemClock: Clock = { now: () => new Date() };

/** 22 characters of base64url: 128 random bits. */
export const randomIds: IdGenerator = { random: () => randomBytes(16).toString('base64url') };

export interface DepsExtras {
  clock?: Clock;
  ids?: IdGenerator;
}

/** Deps with the given adapters built from `ctx`; every other port is a stand-in (see the top). */
export function buildAwsDeps(adapters: AwsAdapters, ctx: AwsContext, extra: DepsExtras = {}): Deps {
  const deps: Record<string, unknown> = {};
  for (const port of AWS_PORTS) {
    const adapter = adapters[port] as ((ctx: AwsContext) => unknown) | undefined;
    if (adapter) {
      const built = adapter(ctx);
      if (built !== undefined) deps[port] = built;
    } else if (!OPTIONAL_PORTS.has(port)) {
      deps[port] = notWired(port);
    }
  }
  return {
    ...(deps as unknown as Omit<Deps, 'clock' | 'ids'>),
    clock: extra.clock ?? systemClock,
    ids: extra.ids ?? randomIds,
    quotaSettings: ctx.config.quotaSettings,
    schedulingPolicy: ctx.config.schedulingPolicy,
  };
}

/**
 * A Lambda handler's deps getter: the environment is read and the adapters built on the first call
 * (the first invocation), then kept for the life of the execution environment.
 */
export function awsDeps(adapters: AwsAdapters, env: NodeJS.ProcessEnv = process.env): () => Deps {
  let deps: Deps | undefined;
  return () => (deps ??= buildAwsDeps(adapters, { config: readAwsConfig(env), clients: {}, env }));
}

/** Stands in for an adapter this function was given no access to: any use throws, naming the variable. */
export function unconfigured<T extends object>(what: string, envVar: string): T {
  return throwingStandIn(`${what} is not available here: ${envVar} is not set`);
}

function notWired(port: AwsPort): never {
  return throwingStandIn(`the ${port} port is not wired into this function (add it to its awsDeps(...))`) as never;
}

function throwingStandIn<T extends object>(message: string): T {
  return new Proxy({} as T, {
    get(_target, prop) {
      if (prop === 'then') return undefined; // not a thenable
      throw new Error(message);
    },
  });
}

/** What the single-artifact view reads to say what keeps an artifact: three reads, not the whole expiry store. */
export function awsRetentionGraph(deps: Pick<Deps, 'artifacts'>): DynamoRetentionGraph {
  if (!(deps.artifacts instanceof DynamoArtifactRepository)) throw new Error('retention: these deps have no DynamoDB artifact repository');
  return new DynamoRetentionGraph(deps.artifacts.doc, deps.artifacts.tableName, deps.artifacts);
}

/** The expiry store that goes with deps built here (the expiry pass). */
export function awsExpiryStore(deps: Pick<Deps, 'artifacts'>): DynamoExpiryStore {
  if (!(deps.artifacts instanceof DynamoArtifactRepository)) throw new Error('expiry: these deps have no DynamoDB artifact repository');
  return dynamoExpiryStore(deps.artifacts);
}
