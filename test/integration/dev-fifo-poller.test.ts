/**
 * The local stack's FIFO poller against local-aws-sqs itself: the emulator does not block a message
 * group while one of its messages is in flight (the quirk), and the poller keeps each group in
 * order across a failure anyway.
 */
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import type { LambdaHandler } from '../../cli/dev/handlers';
import { startQueuePollers } from '../../cli/dev/pollers';
import { SqsJobQueues } from '../../shared/adapters/sqs/job-queues';
import type { FunctionSpec } from '../../shared/manifest';

const sqs = new SQSClient({});
afterAll(() => sqs.destroy());

async function fifoQueue(visibilitySeconds: number): Promise<string> {
  const { QueueUrl } = await sqs.send(
    new CreateQueueCommand({
      QueueName: `it-${randomUUID().slice(0, 8)}.fifo`,
      Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'true', VisibilityTimeout: String(visibilitySeconds) },
    }),
  );
  return QueueUrl!;
}

const orchestrator: FunctionSpec = {
  name: 'orchestrator',
  entry: 'functions/orchestrator.ts',
  description: 'test',
  timeoutSeconds: 60,
  memoryMb: 128,
  queue: { name: 'orchestrator', batchSize: 1, maxBatchingWindowSeconds: 0 },
  uses: { tables: {} },
};

describe('local-aws-sqs FIFO queues', () => {
  it('the provisioned orchestrator queue is FIFO with content-based deduplication', async () => {
    const url = process.env.CONVEYOR_QUEUE_ORCHESTRATOR_URL!;
    expect(url.endsWith('.fifo')).toBe(true);
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }));
    expect(Attributes).toMatchObject({ FifoQueue: 'true', ContentBasedDeduplication: 'true' });
  });

  it('quirk: hands out the next message of a group while the first is in flight (SQS would not)', async () => {
    const url = await fifoQueue(30);
    try {
      for (const body of ['a1', 'a2']) await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: body, MessageGroupId: 'A' }));
      const first = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 1, WaitTimeSeconds: 1, AttributeNames: ['All'] }));
      expect(first.Messages?.map((m) => [m.Body, m.Attributes?.MessageGroupId])).toEqual([['a1', 'A']]);
      const second = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 1, WaitTimeSeconds: 1 }));
      expect(second.Messages?.map((m) => m.Body)).toEqual(['a2']);
    } finally {
      await sqs.send(new DeleteQueueCommand({ QueueUrl: url }));
    }
  });

  it('the poller keeps each group in order across a failed message, other groups go on, and nothing is lost', async () => {
    const url = await fifoQueue(1);
    const queues = new SqsJobQueues(sqs, { orchestrator: url });
    // Root 1: populate, then two children finish; root 2 in between.
    await queues.enqueueOrchestration({ rootId: 1, kind: 'populate', workRequestId: 1 });
    await queues.enqueueOrchestration({ rootId: 1, kind: 'child-finished', workRequestId: 11 });
    await queues.enqueueOrchestration({ rootId: 2, kind: 'populate', workRequestId: 2 });
    await queues.enqueueOrchestration({ rootId: 1, kind: 'child-finished', workRequestId: 12 });
    // The same event twice is delivered twice (no deduplication of orchestration steps).
    await queues.enqueueOrchestration({ rootId: 2, kind: 'child-finished', workRequestId: 21 });
    await queues.enqueueOrchestration({ rootId: 2, kind: 'child-finished', workRequestId: 21 });

    const handled: string[] = [];
    let failFirstPopulate = true;
    const handler: LambdaHandler = async (event: unknown): Promise<SQSBatchResponse> => {
      const failures: SQSBatchResponse['batchItemFailures'] = [];
      for (const r of (event as SQSEvent).Records) {
        const m = JSON.parse(r.body) as { rootId: number; kind: string; workRequestId: number };
        const label = `${m.rootId}:${m.kind}:${m.workRequestId}`;
        expect(r.attributes.MessageGroupId).toBe(String(m.rootId));
        if (label === '1:populate:1' && failFirstPopulate) {
          failFirstPopulate = false;
          handled.push(`${label}!`);
          failures.push({ itemIdentifier: r.messageId });
        } else {
          handled.push(label);
        }
      }
      return { batchItemFailures: failures };
    };
    const pollers = startQueuePollers({
      functions: [orchestrator],
      sqs,
      queueUrls: { orchestrator: url },
      loadHandler: async () => handler,
      log: () => undefined,
      waitTimeSeconds: 1,
      visibilityTimeoutSeconds: () => 1,
    });
    try {
      const deadline = Date.now() + 20_000;
      while (handled.filter((h) => !h.endsWith('!')).length < 6 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    } finally {
      await pollers.stop(5_000);
      await sqs.send(new DeleteQueueCommand({ QueueUrl: url }));
    }
    expect(handled.filter((h) => h.startsWith('1:'))).toEqual(['1:populate:1!', '1:populate:1', '1:child-finished:11', '1:child-finished:12']);
    expect(handled.filter((h) => h.startsWith('2:'))).toEqual(['2:populate:2', '2:child-finished:21', '2:child-finished:21']);
    expect(handled.indexOf('2:populate:2')).toBeLessThan(handled.indexOf('1:populate:1'));
  }, 30_000);
});
