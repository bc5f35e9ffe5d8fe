/**
 * Creates the local stack's tables, bucket and queues from shared/manifest.ts (the same
 * definitions the CDK stacks deploy), idempotently: DynamoDB and S3 data persist across
 * restarts, so most starts find everything already there. Returns the environment that points
 * the handlers (and the admin CLI, via local.json) at the emulators.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  ResourceInUseException,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
  type AttributeDefinition,
  type Projection,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, HeadBucketCommand, PutBucketCorsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  QueueNameExists,
  SetQueueAttributesCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import {
  BUCKET_ENV_VAR,
  FUNCTIONS,
  QUEUES,
  TABLES,
  VERIFY_MODE_ENV_VAR,
  WORKER_QUEUE_PREFIX_ENV_VAR,
  type FunctionSpec,
  type GlobalSecondaryIndexSpec,
  type QueueSpec,
  type TableSpec,
} from '../../shared/manifest';
import { LOCAL_CREDENTIALS, LOCAL_REGION, delay, type EmulatorEndpoints } from './emulators';

export const DEFAULT_NAME_PREFIX = 'conveyor';

export interface ProvisionOptions {
  /** Physical names are `<prefix>-<logical name>`: `conveyor-main`, `conveyor-files`, ... */
  namePrefix?: string;
}

export type LocalEnv = Record<string, string>;

export function physicalTableName(table: TableSpec, prefix = DEFAULT_NAME_PREFIX): string {
  return `${prefix}-${table.name}`;
}

export function physicalBucketName(prefix = DEFAULT_NAME_PREFIX): string {
  return `${prefix}-files`;
}

export function physicalQueueName(queue: QueueSpec, prefix = DEFAULT_NAME_PREFIX, deadLetter = false): string {
  return `${prefix}-${queue.name}${deadLetter ? '-dlq' : ''}${queue.fifo ? '.fifo' : ''}`;
}

/**
 * DESIGN: visibility timeout ≥ 6 × the consuming function's timeout (plus its batching window), as
 * in the cloud; a message whose handler failed therefore comes back only after that long, locally too.
 */
export function visibilityTimeoutSeconds(queue: QueueSpec, functions: FunctionSpec[] = FUNCTIONS): number {
  const consumers = functions.filter((f) => f.queue?.name === queue.name);
  const seconds = consumers.map((f) => 6 * f.timeoutSeconds + (f.queue?.maxBatchingWindowSeconds ?? 0));
  return Math.min(43_200, Math.max(30, ...seconds));
}

/** Per-worker queues are `<prefix>-worker-<name>`, created at registration (local-aws-sqs, in memory). */
export function workerQueuePrefix(prefix = DEFAULT_NAME_PREFIX): string {
  return `${prefix}-worker-`;
}

export function localEnv(endpoints: EmulatorEndpoints, queueUrls: Record<string, string>, prefix = DEFAULT_NAME_PREFIX): LocalEnv {
  const env: LocalEnv = {
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
    AWS_ENDPOINT_URL_S3: endpoints.s3,
    AWS_ENDPOINT_URL_SQS: endpoints.sqs,
    [BUCKET_ENV_VAR]: physicalBucketName(prefix),
    [VERIFY_MODE_ENV_VAR]: 'readback', // s3rver checks no checksum: the verifier reads objects back
    CONVEYOR_S3_FORCE_PATH_STYLE: '1', // s3rver has no virtual-host buckets on 127.0.0.1
    // No CONVEYOR_WORKER_QUEUE_ROLE_ARN: workers get the queue URL and this endpoint, no credentials.
    [WORKER_QUEUE_PREFIX_ENV_VAR]: workerQueuePrefix(prefix),
  };
  for (const table of Object.values(TABLES)) env[table.envVar] = physicalTableName(table, prefix);
  for (const queue of Object.values(QUEUES)) {
    const url = queueUrls[queue.name];
    if (url === undefined) throw new Error(`queue ${queue.name} was not provisioned`);
    env[queue.envVar] = url;
  }
  return env;
}

export async function provision(endpoints: EmulatorEndpoints, options: ProvisionOptions = {}): Promise<LocalEnv> {
  const prefix = options.namePrefix ?? DEFAULT_NAME_PREFIX;
  const common = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
  const dynamodb = new DynamoDBClient({ ...common, endpoint: endpoints.dynamodb });
  const s3 = new S3Client({ ...common, endpoint: endpoints.s3, forcePathStyle: true });
  const sqs = new SQSClient({ ...common, endpoint: endpoints.sqs });
  try {
    const [, , queueUrls] = await Promise.all([
      Promise.all(Object.values(TABLES).map((table) => ensureTable(dynamodb, table, physicalTableName(table, prefix)))),
      ensureBucket(s3, physicalBucketName(prefix)),
      ensureQueues(sqs, prefix),
    ]);
    return localEnv(endpoints, queueUrls, prefix);
  } finally {
    dynamodb.destroy();
    s3.destroy();
    sqs.destroy();
  }
}

/** The manifest's queues (and their dead-letter queues) again, on an SQS emulator that restarted empty; returns their URLs. */
export async function provisionQueues(sqsEndpoint: string, options: ProvisionOptions = {}): Promise<Record<string, string>> {
  const sqs = new SQSClient({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, endpoint: sqsEndpoint });
  try {
    return await ensureQueues(sqs, options.namePrefix ?? DEFAULT_NAME_PREFIX);
  } finally {
    sqs.destroy();
  }
}

// ---------------------------------------------------------------- DynamoDB

async function ensureTable(client: DynamoDBClient, table: TableSpec, tableName: string): Promise<void> {
  const keyAttributes = new Set([table.partitionKey, table.sortKey, ...table.indexes.flatMap((i) => [i.partitionKey, i.sortKey])]);
  const attributeDefinitions: AttributeDefinition[] = [...keyAttributes].map((name) => ({ AttributeName: name, AttributeType: 'S' }));
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: attributeDefinitions,
        KeySchema: [
          { AttributeName: table.partitionKey, KeyType: 'HASH' },
          { AttributeName: table.sortKey, KeyType: 'RANGE' },
        ],
        ...(table.indexes.length > 0 && {
          GlobalSecondaryIndexes: table.indexes.map((index) => ({
            IndexName: index.name,
            KeySchema: [
              { AttributeName: index.partitionKey, KeyType: 'HASH' as const },
              { AttributeName: index.sortKey, KeyType: 'RANGE' as const },
            ],
            Projection: indexProjection(index),
          })),
        }),
      }),
    );
  } catch (err) {
    if (!(err instanceof ResourceInUseException)) throw err;
    // The table survived a restart; the manifest may have gained an index since.
    await addMissingIndexes(client, table, tableName, attributeDefinitions);
  }
  await waitForTableActive(client, tableName);
  if (table.ttlAttribute !== undefined) await ensureTimeToLive(client, tableName, table.ttlAttribute);
}

async function addMissingIndexes(
  client: DynamoDBClient,
  table: TableSpec,
  tableName: string,
  attributeDefinitions: AttributeDefinition[],
): Promise<void> {
  const existing = await describeTable(client, tableName);
  const present = new Set((existing.GlobalSecondaryIndexes ?? []).map((i) => i.IndexName));
  for (const index of table.indexes.filter((i) => !present.has(i.name))) {
    await waitForTableActive(client, tableName); // one index change at a time
    await client.send(
      new UpdateTableCommand({
        TableName: tableName,
        AttributeDefinitions: attributeDefinitions,
        GlobalSecondaryIndexUpdates: [
          {
            Create: {
              IndexName: index.name,
              KeySchema: [
                { AttributeName: index.partitionKey, KeyType: 'HASH' },
                { AttributeName: index.sortKey, KeyType: 'RANGE' },
              ],
              Projection: indexProjection(index),
            },
          },
        ],
      }),
    );
  }
}

function indexProjection(index: GlobalSecondaryIndexSpec): Projection {
  return index.projection ? { ProjectionType: 'INCLUDE', NonKeyAttributes: index.projection.include } : { ProjectionType: 'ALL' };
}

async function describeTable(client: DynamoDBClient, tableName: string): Promise<TableDescription> {
  const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
  if (Table === undefined) throw new Error(`DescribeTable ${tableName} returned no table`);
  return Table;
}

/** DynamoDB Local builds a new index slowly on a busy machine (tens of seconds); AWS may take minutes. */
const TABLE_ACTIVE_TIMEOUT_MS = 180_000;

async function waitForTableActive(client: DynamoDBClient, tableName: string): Promise<void> {
  for (const deadline = Date.now() + TABLE_ACTIVE_TIMEOUT_MS; Date.now() < deadline; ) {
    const table = await describeTable(client, tableName);
    const indexesActive = (table.GlobalSecondaryIndexes ?? []).every((i) => i.IndexStatus === undefined || i.IndexStatus === 'ACTIVE');
    if (table.TableStatus === 'ACTIVE' && indexesActive) return;
    await delay(100);
  }
  throw new Error(`table ${tableName} did not become ACTIVE`);
}

async function ensureTimeToLive(client: DynamoDBClient, tableName: string, attributeName: string): Promise<void> {
  // Enabling it twice is an error in DynamoDB. DynamoDB Local stores the setting but never expires
  // items: fine, TTL is a garbage backstop only.
  const { TimeToLiveDescription } = await client.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
  const status = TimeToLiveDescription?.TimeToLiveStatus;
  if (status === 'ENABLED' || status === 'ENABLING') return;
  await client.send(
    new UpdateTimeToLiveCommand({ TableName: tableName, TimeToLiveSpecification: { AttributeName: attributeName, Enabled: true } }),
  );
}

// ---------------------------------------------------------------- S3

async function ensureBucket(client: S3Client, bucket: string): Promise<void> {
  const exists = await client.send(new HeadBucketCommand({ Bucket: bucket })).then(
    () => true,
    () => false,
  );
  if (!exists) await client.send(new CreateBucketCommand({ Bucket: bucket }));
  // s3rver removes a directory when its last object is deleted, and a PUT racing that removal
  // dies with ENOENT on an unhandled stream error, taking the process down. Staging objects come
  // and go under tmp/uploads/: an object that is never deleted keeps that directory alive.
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'tmp/uploads/.keep', Body: 'kept by the local stack (see cli/dev/provision.ts)' }));
  // Browsers upload straight to presigned URLs, from whatever origin serves the page.
  await client.send(
    new PutBucketCorsCommand({
      Bucket: bucket,
      CORSConfiguration: {
        CORSRules: [
          {
            AllowedOrigins: ['*'],
            AllowedMethods: ['GET', 'PUT', 'POST', 'DELETE', 'HEAD'],
            AllowedHeaders: ['*'],
            ExposeHeaders: ['ETag', 'Content-Length', 'Content-Type'],
            MaxAgeSeconds: 3000,
          },
        ],
      },
    }),
  );
}

// ---------------------------------------------------------------- SQS

async function ensureQueues(client: SQSClient, prefix: string): Promise<Record<string, string>> {
  const urls: Record<string, string> = {};
  for (const queue of Object.values(QUEUES)) {
    const fifoAttributes: Record<string, string> = queue.fifo
      ? // Content-based deduplication as a default; senders may still pass their own ids.
        { FifoQueue: 'true', ContentBasedDeduplication: 'true' }
      : {};
    const deadLetterUrl = await ensureQueue(client, physicalQueueName(queue, prefix, true), {
      ...fifoAttributes,
      MessageRetentionPeriod: String(14 * 24 * 3600),
    });
    const deadLetterArn = await queueArn(client, deadLetterUrl);
    urls[queue.name] = await ensureQueue(client, physicalQueueName(queue, prefix), {
      ...fifoAttributes,
      VisibilityTimeout: String(visibilityTimeoutSeconds(queue)),
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: deadLetterArn, maxReceiveCount: queue.maxReceiveCount }),
    });
  }
  return urls;
}

async function ensureQueue(client: SQSClient, queueName: string, attributes: Record<string, string>): Promise<string> {
  try {
    const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: queueName, Attributes: attributes }));
    if (QueueUrl === undefined) throw new Error(`CreateQueue ${queueName} returned no URL`);
    return QueueUrl;
  } catch (err) {
    // It exists with other attributes (CreateQueue is idempotent only for identical ones).
    if (!(err instanceof QueueNameExists)) throw err;
    const { QueueUrl } = await client.send(new GetQueueUrlCommand({ QueueName: queueName }));
    if (QueueUrl === undefined) throw new Error(`GetQueueUrl ${queueName} returned no URL`);
    const { FifoQueue: _immutable, ...mutable } = attributes;
    await client.send(new SetQueueAttributesCommand({ QueueUrl, Attributes: mutable }));
    return QueueUrl;
  }
}

export async function queueArn(client: SQSClient, queueUrl: string): Promise<string> {
  const { Attributes } = await client.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  const arn = Attributes?.QueueArn;
  if (arn === undefined) throw new Error(`no QueueArn for ${queueUrl}`);
  return arn;
}
