/**
 * The local stack's FIFO discipline (cli/dev/pollers.ts): local-aws-sqs hands out any visible
 * message, even of a group whose earlier message failed and waits for redelivery; the poller must
 * keep each group in order anyway, without holding other groups back.
 */
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { LambdaHandler, Log } from '../../cli/dev/handlers';
import { FifoGroupGate, isFifoQueueUrl, startQueuePollers } from '../../cli/dev/pollers';
import type { FunctionSpec } from '../../shared/manifest';

const FIFO_URL = 'http://127.0.0.1:9324/000000000000/conveyor-orchestrator.fifo';

function msg(id: string, group?: string): Message {
  return { MessageId: id, ReceiptHandle: `rh-${id}`, Body: id, Attributes: group === undefined ? {} : { MessageGroupId: group } };
}

describe('FifoGroupGate', () => {
  const V = 60_000;

  it('lets everything through while nothing failed', () => {
    const gate = new FifoGroupGate(V);
    const batch = [msg('1', 'a'), msg('2', 'a'), msg('3', 'b'), msg('4')];
    expect(gate.admit(batch, 0)).toEqual({ ready: batch, putBack: [] });
  });

  it("after a failure, puts the group's later messages back until the failed one is visible again; other groups go on", () => {
    const gate = new FifoGroupGate(V);
    gate.settle([msg('1', 'a')], new Set(['1']), 1_000);
    expect(gate.isHeld('a')).toBe(true);
    const { ready, putBack } = gate.admit([msg('2', 'a'), msg('3', 'b')], 5_000);
    expect(ready.map((m) => m.MessageId)).toEqual(['3']);
    // Visible again 1 s after the failed one (received at 1 s, visible at 61 s): 57 s from now.
    expect(putBack.map((p) => [p.message.MessageId, p.seconds])).toEqual([['2', 57]]);
    // A later one of the same group comes back after it.
    const later = gate.admit([msg('4', 'a')], 6_000);
    expect(later.ready).toEqual([]);
    expect(later.putBack[0]!.seconds).toBe(57);
  });

  it('serves the failed message when it is back, then those put back, and newcomers only after them', () => {
    const gate = new FifoGroupGate(V);
    gate.settle([msg('1', 'a')], new Set(['1']), 0);
    gate.admit([msg('2', 'a')], 1_000); // put back
    // The failed message is back (even slightly early): it goes first.
    expect(gate.admit([msg('1', 'a')], 60_000).ready.map((m) => m.MessageId)).toEqual(['1']);
    gate.settle([msg('1', 'a')], new Set(), 60_000);
    // A newcomer before message 2 is back must wait behind it.
    const early = gate.admit([msg('9', 'a')], 60_500);
    expect(early.ready).toEqual([]);
    expect(early.putBack).toHaveLength(1);
    // Message 2 is back: through; then the newcomer.
    expect(gate.admit([msg('2', 'a')], 61_200).ready.map((m) => m.MessageId)).toEqual(['2']);
    gate.settle([msg('2', 'a')], new Set(), 61_200);
    expect(gate.admit([msg('9', 'a')], 62_500).ready.map((m) => m.MessageId)).toEqual(['9']);
    gate.settle([msg('9', 'a')], new Set(), 62_500);
    expect(gate.isHeld('a')).toBe(false);
  });

  it('a failure again blocks the group again, from the new receive', () => {
    const gate = new FifoGroupGate(V);
    gate.settle([msg('1', 'a')], new Set(['1']), 0);
    gate.admit([msg('1', 'a')], 60_000);
    gate.settle([msg('1', 'a')], new Set(['1']), 60_000);
    expect(gate.admit([msg('2', 'a')], 61_000).putBack[0]!.seconds).toBe(60);
  });

  it('in one batch, messages after a held one of the same group are held too', () => {
    const gate = new FifoGroupGate(V);
    gate.settle([msg('1', 'a')], new Set(['1']), 0);
    const { ready, putBack } = gate.admit([msg('2', 'a'), msg('3', 'b'), msg('4', 'a')], 1_000);
    expect(ready.map((m) => m.MessageId)).toEqual(['3']);
    expect(putBack.map((p) => p.message.MessageId)).toEqual(['2', '4']);
    expect(putBack[1]!.seconds).toBeGreaterThan(putBack[0]!.seconds);
  });

  it('later messages of a group that failed in the same batch wait with it', () => {
    const gate = new FifoGroupGate(V);
    gate.settle([msg('1', 'a'), msg('2', 'a')], new Set(['1', '2']), 0);
    // Both come back together at 60 s: the failed one first, then the other, then newcomers.
    expect(gate.admit([msg('9', 'a')], 30_000).ready).toEqual([]);
    expect(gate.admit([msg('1', 'a'), msg('2', 'a')], 60_000).ready.map((m) => m.MessageId)).toEqual(['1', '2']);
  });

  it('knows FIFO queue URLs', () => {
    expect(isFifoQueueUrl(FIFO_URL)).toBe(true);
    expect(isFifoQueueUrl(FIFO_URL.replace('.fifo', ''))).toBe(false);
  });
});

/**
 * An emulator like local-aws-sqs: messages in send order, a receive takes the earliest visible ones
 * (whatever their group) and hides them for the visibility timeout; no group blocking.
 */
class NoGroupBlockingSqs {
  readonly messages: { message: Message; visibleAt: number }[] = [];
  readonly putBack: string[] = [];
  private seq = 0;
  constructor(private readonly visibilityMs: number) {}

  sendMessage(body: string, group: string): void {
    const id = `m${++this.seq}-${body}`;
    this.messages.push({ message: { MessageId: id, ReceiptHandle: '', Body: body, Attributes: { MessageGroupId: group } }, visibleAt: 0 });
  }

  async send(command: unknown, options?: { abortSignal?: AbortSignal }): Promise<unknown> {
    if (command instanceof ReceiveMessageCommand) {
      const max = command.input.MaxNumberOfMessages ?? 1;
      const deadline = Date.now() + (command.input.WaitTimeSeconds ?? 0) * 1000;
      for (;;) {
        const now = Date.now();
        const visible = this.messages.filter((m) => m.visibleAt <= now).slice(0, max);
        if (visible.length > 0 || now >= deadline) {
          return {
            Messages: visible.map((m) => {
              m.visibleAt = now + this.visibilityMs;
              m.message.ReceiptHandle = `rh-${m.message.MessageId}-${now}`;
              return { ...m.message };
            }),
          };
        }
        if (options?.abortSignal?.aborted) throw Object.assign(new Error('aborted'), { name: 'AbortError' });
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    if (command instanceof DeleteMessageBatchCommand) {
      for (const e of command.input.Entries ?? []) {
        const i = this.messages.findIndex((m) => m.message.ReceiptHandle === e.ReceiptHandle);
        if (i >= 0) this.messages.splice(i, 1);
      }
      return { Successful: command.input.Entries, Failed: [] };
    }
    if (command instanceof ChangeMessageVisibilityCommand) {
      const m = this.messages.find((x) => x.message.ReceiptHandle === command.input.ReceiptHandle);
      if (m) {
        m.visibleAt = Date.now() + (command.input.VisibilityTimeout ?? 0) * 1000;
        this.putBack.push(m.message.Body!);
      }
      return {};
    }
    throw new Error(`unexpected command ${String(command)}`);
  }

  asClient(): SQSClient {
    return this as unknown as SQSClient;
  }
}

describe('FIFO queue poller', () => {
  const orchestrator: FunctionSpec = {
    name: 'orchestrator',
    entry: 'functions/orchestrator.ts',
    description: 'test',
    timeoutSeconds: 60,
    memoryMb: 128,
    queue: { name: 'orchestrator', batchSize: 1, maxBatchingWindowSeconds: 0 },
    uses: { tables: {} },
  };
  const quiet: Log = () => undefined;

  it('keeps each group in order across a failure and redelivery, without holding other groups back', async () => {
    const sqs = new NoGroupBlockingSqs(600); // the queue's visibility timeout: 0.6 s
    for (const [body, group] of [
      ['a1', 'A'],
      ['a2', 'A'],
      ['b1', 'B'],
      ['a3', 'A'],
      ['b2', 'B'],
    ] as const) {
      sqs.sendMessage(body, group);
    }
    const handled: string[] = [];
    let failuresLeft = 1;
    const handler: LambdaHandler = async (event: unknown): Promise<SQSBatchResponse> => {
      const failures: SQSBatchResponse['batchItemFailures'] = [];
      for (const r of (event as SQSEvent).Records) {
        if (r.body === 'a1' && failuresLeft-- > 0) {
          handled.push('a1!');
          failures.push({ itemIdentifier: r.messageId });
        } else {
          handled.push(r.body);
        }
      }
      return { batchItemFailures: failures };
    };
    const pollers = startQueuePollers({
      functions: [orchestrator],
      sqs: sqs.asClient(),
      queueUrls: { orchestrator: FIFO_URL },
      loadHandler: async () => handler,
      log: quiet,
      waitTimeSeconds: 1,
      visibilityTimeoutSeconds: () => 0.6,
    });
    try {
      const deadline = Date.now() + 8_000;
      while (sqs.messages.length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    } finally {
      await pollers.stop(2_000);
    }
    expect(sqs.messages).toHaveLength(0);
    const groupA = handled.filter((h) => h.startsWith('a'));
    expect(groupA).toEqual(['a1!', 'a1', 'a2', 'a3']);
    // Group B went on while A waited for a1's redelivery.
    expect(handled.indexOf('b1')).toBeLessThan(handled.indexOf('a1'));
    expect(handled.indexOf('b2')).toBeLessThan(handled.indexOf('a1'));
    expect(sqs.putBack).toContain('a2');
  });
});
