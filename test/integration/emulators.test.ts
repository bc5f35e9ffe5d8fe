/**
 * The emulators started by global-setup.ts, as provisioned from the manifest; plus the pieces of
 * the local stack that need real emulators: persistence across restarts and the queue pollers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import { GetBucketCorsCommand, GetObjectCommand, HeadBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  SQSClient,
  SendMessageBatchCommand,
} from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { BUCKET_ENV_VAR, QUEUES, TABLES, type FunctionSpec } from '../../shared/manifest';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startEmulators, type EmulatorEndpoints } from '../../cli/dev/emulators';
import { physicalQueueName, provision, provisionQueues, queueArn } from '../../cli/dev/provision';
import { startQueuePollers } from '../../cli/dev/pollers';

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: is test/integration/global-setup.ts configured?`);
  return value;
}

function clients(endpoints: EmulatorEndpoints) {
  const common = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
  return {
    dynamodb: new DynamoDBClient({ ...common, endpoint: endpoints.dynamodb }),
    s3: new S3Client({ ...common, endpoint: endpoints.s3, forcePathStyle: true }),
    sqs: new SQSClient({ ...common, endpoint: endpoints.sqs }),
  };
}

function destroy(c: ReturnType<typeof clients>): void {
  c.dynamodb.destroy();
  c.s3.destroy();
  c.sqs.destroy();
}

const globalEndpoints = (): EmulatorEndpoints => ({
  dynamodb: env('AWS_ENDPOINT_URL_DYNAMODB'),
  s3: env('AWS_ENDPOINT_URL_S3'),
  sqs: env('AWS_ENDPOINT_URL_SQS'),
});

describe('provisioned emulators', () => {
  let c: ReturnType<typeof clients>;
  beforeAll(() => {
    c = clients(globalEndpoints());
  });
  afterAll(() => destroy(c));

  it('point the environment at loopback emulators', () => {
    for (const name of ['AWS_ENDPOINT_URL_DYNAMODB', 'AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL_SQS']) {
      expect(env(name)).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    }
    expect(process.env).toMatchObject({
      CONVEYOR_TABLE_MAIN: 'conveyor-main',
      CONVEYOR_TABLE_AUDIT: 'conveyor-audit',
      CONVEYOR_BUCKET: 'conveyor-files',
      CONVEYOR_S3_VERIFY: 'readback',
      CONVEYOR_S3_FORCE_PATH_STYLE: '1',
      AWS_REGION: 'us-east-1',
    });
  });

  it('have every table of the manifest, with its keys and indexes', async () => {
    for (const table of Object.values(TABLES)) {
      const { Table } = await c.dynamodb.send(new DescribeTableCommand({ TableName: env(table.envVar) }));
      expect(Table?.TableStatus).toBe('ACTIVE');
      expect(Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
      expect(Table?.KeySchema).toEqual([
        { AttributeName: table.partitionKey, KeyType: 'HASH' },
        { AttributeName: table.sortKey, KeyType: 'RANGE' },
      ]);
      const indexes = (Table?.GlobalSecondaryIndexes ?? []).map((i) => ({
        name: i.IndexName,
        keys: i.KeySchema?.map((k) => k.AttributeName),
        projection: i.Projection?.ProjectionType,
      }));
      expect(indexes.sort((a, b) => String(a.name).localeCompare(String(b.name)))).toEqual(
        table.indexes.map((i) => ({ name: i.name, keys: [i.partitionKey, i.sortKey], projection: i.projection ? 'INCLUDE' : 'ALL' })),
      );
      if (table.ttlAttribute) {
        const { TimeToLiveDescription } = await c.dynamodb.send(new DescribeTimeToLiveCommand({ TableName: env(table.envVar) }));
        expect(TimeToLiveDescription).toMatchObject({ AttributeName: table.ttlAttribute, TimeToLiveStatus: 'ENABLED' });
      }
    }
  });

  it('have the bucket, open to browser uploads', async () => {
    await expect(c.s3.send(new HeadBucketCommand({ Bucket: env(BUCKET_ENV_VAR) }))).resolves.toBeDefined();
    const { CORSRules } = await c.s3.send(new GetBucketCorsCommand({ Bucket: env(BUCKET_ENV_VAR) }));
    expect(CORSRules?.[0]).toMatchObject({ AllowedOrigins: ['*'], AllowedHeaders: ['*'] });
    expect(CORSRules?.[0]?.AllowedMethods).toEqual(expect.arrayContaining(['GET', 'PUT', 'POST']));
  });

  it('have every queue with its dead-letter queue', async () => {
    for (const queue of Object.values(QUEUES)) {
      const url = env(queue.envVar);
      const { QueueUrl: deadLetterUrl } = await c.sqs.send(new GetQueueUrlCommand({ QueueName: physicalQueueName(queue, 'conveyor', true) }));
      const { Attributes } = await c.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }));
      expect(JSON.parse(Attributes?.RedrivePolicy ?? '{}')).toEqual({
        deadLetterTargetArn: await queueArn(c.sqs, deadLetterUrl!),
        maxReceiveCount: queue.maxReceiveCount,
      });
      expect(Number(Attributes?.VisibilityTimeout)).toBeGreaterThanOrEqual(30);
      expect(Attributes?.FifoQueue === 'true').toBe(queue.fifo);
    }
  });

  it('provisions again without error or change (idempotent)', async () => {
    const again = await provision(globalEndpoints());
    for (const [name, value] of Object.entries(again)) expect(process.env[name]).toBe(value);
  });

  it('run DynamoDB Local, which enforces transaction conditions', async () => {
    const TableName = env(TABLES.main.envVar);
    const pk = `emulator-test-${Date.now()}`;
    await c.dynamodb.send(new PutItemCommand({ TableName, Item: { pk: { S: pk }, sk: { S: 'existing' }, state: { S: 'running' } } }));
    const transaction = new TransactWriteItemsCommand({
      TransactItems: [
        { Put: { TableName, Item: { pk: { S: pk }, sk: { S: 'new' } } } },
        {
          Update: {
            TableName,
            Key: { pk: { S: pk }, sk: { S: 'existing' } },
            UpdateExpression: 'SET #s = :next',
            ConditionExpression: '#s = :expected',
            ExpressionAttributeNames: { '#s': 'state' },
            ExpressionAttributeValues: { ':next': { S: 'done' }, ':expected': { S: 'pending' } },
          },
        },
      ],
    });
    const error = await c.dynamodb.send(transaction).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(TransactionCanceledException);
    expect((error as TransactionCanceledException).CancellationReasons?.map((r) => r.Code)).toEqual(['None', 'ConditionalCheckFailed']);
    // All or nothing: the other write of the transaction did not happen either.
    const { Item } = await c.dynamodb.send(new GetItemCommand({ TableName, Key: { pk: { S: pk }, sk: { S: 'new' } } }));
    expect(Item).toBeUndefined();
  });
});

describe('persistence across restarts', () => {
  it('keeps DynamoDB items and S3 objects in the data dir; stop leaves no java behind', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'conveyor-persist-'));
    try {
      const first = await startEmulators({ dataDir });
      let c = clients(first.endpoints);
      try {
        const env1 = await provision(first.endpoints);
        await c.dynamodb.send(new PutItemCommand({ TableName: env1.CONVEYOR_TABLE_MAIN, Item: { pk: { S: 'p' }, sk: { S: 's' }, v: { N: '42' } } }));
        await c.s3.send(new PutObjectCommand({ Bucket: env1.CONVEYOR_BUCKET, Key: 'a/b.txt', Body: 'kept' }));
      } finally {
        destroy(c);
        await first.stop();
      }
      expect(processExists(first.dynamoDbPid)).toBe(false);

      const second = await startEmulators({ dataDir });
      c = clients(second.endpoints);
      try {
        const env2 = await provision(second.endpoints);
        const { Item } = await c.dynamodb.send(new GetItemCommand({ TableName: env2.CONVEYOR_TABLE_MAIN, Key: { pk: { S: 'p' }, sk: { S: 's' } } }));
        expect(Item?.v).toEqual({ N: '42' });
        const object = await c.s3.send(new GetObjectCommand({ Bucket: env2.CONVEYOR_BUCKET, Key: 'a/b.txt' }));
        expect(await object.Body?.transformToString()).toBe('kept');
      } finally {
        destroy(c);
        await second.stop();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('restarting one emulator in place (reliability part (f))', () => {
  it('DynamoDB Local comes back on its port with its items; the SQS emulator on its port, empty, and provisioning restores the same queue URLs', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'conveyor-restart-'));
    const emulators = await startEmulators({ dataDir });
    const c = clients(emulators.endpoints);
    try {
      const env1 = await provision(emulators.endpoints);
      await c.dynamodb.send(new PutItemCommand({ TableName: env1.CONVEYOR_TABLE_MAIN, Item: { pk: { S: 'p' }, sk: { S: 'restart' }, v: { N: '7' } } }));
      const firstJvm = emulators.dynamoDbPid;
      await emulators.restart('dynamodb');
      expect(emulators.dynamoDbPid).not.toBe(firstJvm);
      expect(processExists(firstJvm)).toBe(false);
      // Same endpoint, same client: the item is still there.
      const { Item } = await c.dynamodb.send(new GetItemCommand({ TableName: env1.CONVEYOR_TABLE_MAIN, Key: { pk: { S: 'p' }, sk: { S: 'restart' } } }));
      expect(Item?.v).toEqual({ N: '7' });

      const schedulerQueue = env1[QUEUES.scheduler.envVar]!;
      await emulators.restart('sqs');
      await expect(c.sqs.send(new GetQueueUrlCommand({ QueueName: physicalQueueName(QUEUES.scheduler) }))).rejects.toThrow();
      const urls = await provisionQueues(emulators.endpoints.sqs);
      expect(urls[QUEUES.scheduler.name]).toBe(schedulerQueue);
    } finally {
      destroy(c);
      await emulators.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
    expect(processExists(emulators.dynamoDbPid)).toBe(false);
  }, 180_000);
});

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('queue pollers against local-aws-sqs', () => {
  let c: ReturnType<typeof clients>;
  let queueUrl: string;
  beforeAll(async () => {
    c = clients(globalEndpoints());
    // A queue of its own, so other integration tests' messages never reach this consumer. A short
    // visibility timeout (longer than the batching window) brings failed messages back quickly.
    const name = `dev-poller-test-${process.pid}-${Date.now()}`;
    const { QueueUrl } = await c.sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: { VisibilityTimeout: '3' } }));
    queueUrl = QueueUrl!;
  });
  afterAll(async () => {
    await c.sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
    destroy(c);
  });

  it('feeds batches to the handler, deletes successes, and redelivers the reported failures', async () => {
    const consumer: FunctionSpec = {
      name: 'test-consumer',
      entry: 'unused.ts',
      description: 'test',
      timeoutSeconds: 30,
      memoryMb: 128,
      queue: { name: 'file-verification', batchSize: 10, maxBatchingWindowSeconds: 1 },
      uses: { tables: {} },
    };
    const seen: { body: string; receiveCount: string }[] = [];
    const warnings: string[] = [];
    const pollers = startQueuePollers({
      functions: [consumer],
      sqs: c.sqs,
      queueUrls: { 'file-verification': queueUrl },
      waitTimeSeconds: 2,
      log: (level, message) => {
        if (level !== 'info' && !message.includes('failed and stay in the queue')) warnings.push(message);
      },
      loadHandler: async () => async (event) => {
        const records = (event as SQSEvent).Records;
        for (const r of records) seen.push({ body: r.body, receiveCount: r.attributes.ApproximateReceiveCount });
        // "fail" fails on its first delivery only.
        const failures = records.filter((r) => r.body === 'fail' && r.attributes.ApproximateReceiveCount === '1');
        return { batchItemFailures: failures.map((r) => ({ itemIdentifier: r.messageId })) };
      },
    });
    try {
      await c.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: ['ok-1', 'fail', 'ok-2'].map((body, i) => ({ Id: String(i), MessageBody: body })),
        }),
      );
      const deadline = Date.now() + 20_000;
      while (!seen.some((s) => s.body === 'fail' && s.receiveCount === '2') && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      await pollers.stop();
    }
    expect(seen.filter((s) => s.body.startsWith('ok')).map((s) => s.receiveCount)).toEqual(['1', '1']);
    expect(seen.filter((s) => s.body === 'fail').map((s) => s.receiveCount)).toEqual(['1', '2']);
    const { Attributes } = await c.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
    );
    expect(Attributes).toMatchObject({ ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0' });
    expect(warnings).toEqual([]);
  }, 60_000);
});
