import 'aws-cdk-lib/testhelpers/jest-autoclean';
import { FUNCTIONS, QUEUES } from '../../shared/manifest';
import type { QueueSpec } from '../../shared/manifest';
import { CONVEYOR_MANIFEST, consumersOf } from '../../infra/manifest';
import type { ConveyorManifest } from '../../infra/manifest';
import { logicalId, resources, synth } from './helpers';

const { stacks, messaging } = synth();

describe('MessagingStack: queues from QUEUES', () => {
  it('creates one queue and one DLQ per QUEUES entry, and one alarm each', () => {
    const n = Object.keys(QUEUES).length;
    expect(Object.keys(resources(messaging, 'AWS::SQS::Queue'))).toHaveLength(2 * n);
    expect(Object.keys(resources(messaging, 'AWS::CloudWatch::Alarm'))).toHaveLength(n);
  });

  describe.each(Object.values(QUEUES))('queue $name', (spec) => {
    const q = () => stacks.messaging.queues[spec.name]!;
    const queue = () => resources(messaging)[logicalId(q().queue)]!.Properties!;
    const dlq = () => resources(messaging)[logicalId(q().deadLetterQueue)]!.Properties!;

    it('redrives to its own DLQ after maxReceiveCount (≥ 5) deliveries', () => {
      expect(queue().RedrivePolicy).toEqual({
        deadLetterTargetArn: { 'Fn::GetAtt': [logicalId(q().deadLetterQueue), 'Arn'] },
        maxReceiveCount: spec.maxReceiveCount,
      });
      expect(queue().RedrivePolicy.maxReceiveCount).toBeGreaterThanOrEqual(5);
    });

    it('is encrypted at rest (SSE) and so is its DLQ', () => {
      expect(queue().SqsManagedSseEnabled).toBe(true);
      expect(dlq().SqsManagedSseEnabled).toBe(true);
    });

    it('denies non-TLS access', () => {
      const policies = Object.values(resources(messaging, 'AWS::SQS::QueuePolicy')).filter((p) =>
        JSON.stringify(p.Properties!.Queues).includes(logicalId(q().queue)),
      );
      expect(JSON.stringify(policies)).toContain('"aws:SecureTransport":"false"');
    });

    it('is FIFO with content-based deduplication exactly when the spec says so', () => {
      expect(queue().FifoQueue ?? false).toBe(spec.fifo);
      expect(dlq().FifoQueue ?? false).toBe(spec.fifo);
    });

    it('has a visibility timeout of at least 6 × the consumer timeout', () => {
      const consumers = FUNCTIONS.filter((f) => f.queue?.name === spec.name);
      for (const f of consumers) expect(queue().VisibilityTimeout).toBeGreaterThanOrEqual(6 * f.timeoutSeconds);
    });

    it('alarms when its DLQ has a visible message', () => {
      const alarms = Object.values(resources(messaging, 'AWS::CloudWatch::Alarm')).filter((a) =>
        JSON.stringify(a.Properties!.Dimensions).includes(logicalId(q().deadLetterQueue)),
      );
      expect(alarms).toHaveLength(1);
      expect(alarms[0]!.Properties).toMatchObject({
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: 0,
        EvaluationPeriods: 1,
        TreatMissingData: 'notBreaching',
      });
      expect(alarms[0]!.Properties!.Dimensions).toEqual([
        { Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(q().deadLetterQueue), 'QueueName'] } },
      ]);
    });
  });

  it('file-verification waits 5400 s (6 × file-verifier 900 s) before redelivery', () => {
    expect(consumersOf(CONVEYOR_MANIFEST, 'file-verification').map((f) => f.name)).toEqual(['file-verifier']);
    const queue = resources(messaging)[logicalId(stacks.messaging.queues['file-verification']!.queue)]!;
    expect(queue.Properties!.VisibilityTimeout).toBe(5400);
    expect(queue.Properties!.RedrivePolicy.maxReceiveCount).toBe(5);
  });
});

describe('MessagingStack: work-request queues (concrete)', () => {
  const props = (name: keyof typeof QUEUES) => resources(messaging)[logicalId(stacks.messaging.queues[name]!.queue)]!.Properties!;

  it.each([
    // 6 × the consumer timeout, plus its batching window.
    ['scheduler', 6 * 60], // no batching window
    ['heartbeats', 6 * 60 + 5],
    ['server-tasks', 6 * 300],
  ] as const)('%s is a standard queue with a DLQ after 5 receives, visible again after %i s', (name, visibility) => {
    expect(props(name).FifoQueue).toBeUndefined();
    expect(props(name).RedrivePolicy.maxReceiveCount).toBe(5);
    expect(props(name).VisibilityTimeout).toBe(visibility);
    expect(props(name).SqsManagedSseEnabled).toBe(true);
  });

  it('orchestrator is FIFO (content-based dedup as a default) with a DLQ after 5 receives, visible again after 6 × 120 s', () => {
    expect(props('orchestrator')).toMatchObject({ FifoQueue: true, ContentBasedDeduplication: true, VisibilityTimeout: 720, SqsManagedSseEnabled: true });
    expect(props('orchestrator').RedrivePolicy.maxReceiveCount).toBe(5);
    const dlq = resources(messaging)[logicalId(stacks.messaging.queues.orchestrator!.deadLetterQueue)]!.Properties!;
    expect(dlq).toMatchObject({ FifoQueue: true });
  });

  it('adds the batching window to the visibility timeout', () => {
    for (const spec of Object.values(QUEUES)) {
      for (const f of FUNCTIONS.filter((fn) => fn.queue?.name === spec.name)) {
        expect(props(spec.name).VisibilityTimeout).toBeGreaterThanOrEqual(6 * f.timeoutSeconds + f.queue!.maxBatchingWindowSeconds);
      }
    }
  });
});

describe('MessagingStack: manifest variants', () => {
  const withQueue = (queue: QueueSpec): ConveyorManifest => ({
    ...CONVEYOR_MANIFEST,
    queues: { ...CONVEYOR_MANIFEST.queues, [queue.name]: queue },
  });

  it('makes a FIFO queue with content-based dedup and a FIFO DLQ', () => {
    const fifo = { name: 'orchestration', envVar: 'CONVEYOR_QUEUE_ORCHESTRATION_URL', fifo: true, maxReceiveCount: 8 } as unknown as QueueSpec;
    const s = synth({ manifest: withQueue(fifo) });
    const q = s.stacks.messaging.queues['orchestration']!;
    const props = resources(s.messaging)[logicalId(q.queue)]!.Properties!;
    expect(props).toMatchObject({ FifoQueue: true, ContentBasedDeduplication: true, VisibilityTimeout: 30 });
    expect(props.RedrivePolicy.maxReceiveCount).toBe(8);
    expect(resources(s.messaging)[logicalId(q.deadLetterQueue)]!.Properties).toMatchObject({ FifoQueue: true, ContentBasedDeduplication: true });
  });

  it('refuses a queue whose maxReceiveCount is below 5', () => {
    const bad = { ...QUEUES['file-verification'], maxReceiveCount: 3 };
    expect(() => synth({ manifest: withQueue(bad) })).toThrow(/maxReceiveCount 3 is below 5/);
  });

  it('refuses a consumer whose 6 × timeout exceeds the 12-hour SQS limit', () => {
    const manifest: ConveyorManifest = {
      ...CONVEYOR_MANIFEST,
      functions: CONVEYOR_MANIFEST.functions.map((f) => (f.queue ? { ...f, timeoutSeconds: 3 * 3600 } : f)),
    };
    expect(() => synth({ manifest })).toThrow(/exceeds SQS's 12 hours/);
  });
});
