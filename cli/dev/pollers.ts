/**
 * The local stand-ins for Lambda's SQS event source mapping and for EventBridge schedules, built
 * from the `queue` and `schedule` triggers of shared/manifest.ts.
 *
 * Queue pollers behave like the event source mapping with ReportBatchItemFailures: one batch at a
 * time per function, messages listed in `batchItemFailures` (or the whole batch when the handler
 * throws) stay in the queue and come back after the visibility timeout, the rest are deleted.
 *
 * FIFO queues (URL ending in `.fifo`): SQS never hands out a message of a group while an earlier one
 * of that group is in flight or waiting to be redelivered; local-aws-sqs does (it returns any visible
 * message). Since a poller runs one batch at a time, only failures can break the order, so the
 * poller keeps a FifoGroupGate: after a message of a group fails, the group's later messages are put
 * back (ChangeMessageVisibility) until the failed one is visible again, and they and any newcomer of
 * the group wait until those put back have been handled. local-aws-sqs serves the earliest visible
 * message first, so a group's messages then come back in the order they were sent.
 */
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  type Message,
  type MessageAttributeValue,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSMessageAttributes, SQSRecord } from 'aws-lambda';
import { QUEUES, type FunctionSpec, type QueueName } from '../../shared/manifest';
import { LOCAL_REGION, settlesWithin } from './emulators';
import { LOCAL_ACCOUNT_ID, consoleLog, formatError, lambdaContext, type LoadHandler, type Log } from './handlers';
import { visibilityTimeoutSeconds } from './provision';

export interface QueuePollersOptions {
  functions: FunctionSpec[];
  sqs: SQSClient;
  queueUrls: Partial<Record<QueueName, string>>;
  loadHandler: LoadHandler;
  log?: Log;
  /** Long-poll duration (SQS allows at most 20 s). */
  waitTimeSeconds?: number;
  /** Pause after a failed ReceiveMessage (e.g. the emulator is not up), so errors do not spin. */
  errorBackoffMs?: number;
  region?: string;
  /** Visibility timeout of a queue (FIFO group discipline); default: what provisioning sets. */
  visibilityTimeoutSeconds?: (queue: QueueName) => number;
}

export interface Stoppable {
  /** Stops taking new work and waits (up to `graceMs`) for the batch or tick in progress. */
  stop(graceMs?: number): Promise<void>;
}

export function startQueuePollers(options: QueuePollersOptions): Stoppable {
  const log = options.log ?? consoleLog;
  const abort = new AbortController();
  const loops = options.functions
    .filter((fn): fn is FunctionSpec & { queue: NonNullable<FunctionSpec['queue']> } => fn.queue !== undefined)
    .map((fn) => {
      const queueUrl = options.queueUrls[fn.queue.name];
      if (queueUrl === undefined) throw new Error(`no URL for queue ${fn.queue.name} (function ${fn.name})`);
      return pollQueue(fn, queueUrl, options, log, abort.signal);
    });
  let stopping: Promise<void> | undefined;
  return {
    stop(graceMs = 10_000) {
      stopping ??= (async () => {
        abort.abort();
        if (!(await settlesWithin(Promise.allSettled(loops), graceMs))) {
          log('warn', 'a queue handler was still running at shutdown; its messages will be delivered again');
        }
      })();
      return stopping;
    },
  };
}

async function pollQueue(
  fn: FunctionSpec & { queue: NonNullable<FunctionSpec['queue']> },
  queueUrl: string,
  options: QueuePollersOptions,
  log: Log,
  signal: AbortSignal,
): Promise<void> {
  const eventSourceARN = queueArnFromUrl(queueUrl, options.region ?? LOCAL_REGION);
  const visibility =
    options.visibilityTimeoutSeconds?.(fn.queue.name) ??
    (QUEUES[fn.queue.name] ? visibilityTimeoutSeconds(QUEUES[fn.queue.name], options.functions) : 30);
  const gate = isFifoQueueUrl(queueUrl) ? new FifoGroupGate(visibility * 1000) : undefined;
  while (!signal.aborted) {
    let messages: Message[];
    try {
      messages = await receiveBatch(options.sqs, queueUrl, fn.queue, options.waitTimeSeconds ?? 20, signal);
    } catch (err) {
      if (signal.aborted) return;
      log('error', `receiving from ${queueUrl} for ${fn.name} failed: ${formatError(err)}`);
      await abortableDelay(options.errorBackoffMs ?? 1_000, signal);
      continue;
    }
    if (messages.length === 0) continue;
    const receivedAt = Date.now();
    if (gate) {
      const { ready, putBack } = gate.admit(messages, receivedAt);
      await putMessagesBack(options.sqs, queueUrl, putBack, log);
      messages = ready;
      if (messages.length === 0) continue;
    }
    // A batch already received is processed even during shutdown: its messages are invisible now.
    const failed = await processBatch(fn, queueUrl, eventSourceARN, messages, options, log);
    gate?.settle(messages, failed, receivedAt);
  }
}

export function isFifoQueueUrl(queueUrl: string): boolean {
  return queueUrl.endsWith('.fifo');
}

/**
 * Keeps each message group of a FIFO queue in order on an emulator that does not (see the file
 * comment). Pure bookkeeping: `admit` says which received messages to handle now and which to put
 * back for how long, `settle` records what happened to the handled ones.
 */
export class FifoGroupGate {
  /** Group → when its failed message becomes visible again (ms), and that message's id. */
  private readonly blocked = new Map<string, { until: number; messageId: string }>();
  /** Group → ids of messages that wait behind a failure (put back, or failed in the same batch). */
  private readonly waiting = new Map<string, Set<string>>();
  /** Group → when the messages put back become visible again (ms). */
  private readonly releaseAt = new Map<string, number>();

  constructor(private readonly visibilityTimeoutMs: number) {}

  admit(messages: Message[], now: number): { ready: Message[]; putBack: { message: Message; seconds: number }[] } {
    const ready: Message[] = [];
    const putBack: { message: Message; seconds: number }[] = [];
    const heldThisBatch = new Set<string>();
    for (const message of messages) {
      const group = groupOf(message);
      const id = message.MessageId ?? '';
      if (group === undefined) {
        ready.push(message);
        continue;
      }
      const block = this.blocked.get(group);
      // Once `until` has passed, the failed message is visible again and is served before anything
      // sent after it (local-aws-sqs serves the earliest visible message first).
      const waiting = this.waiting.get(group);
      let hold = false;
      if (heldThisBatch.has(group)) hold = true; // an earlier one of this batch waits: keep the order
      else if (block && block.messageId === id) hold = false; // the failed message is back: it goes first
      else if (block && block.until > now) hold = true; // the failed message is not back yet
      else if (waiting && waiting.size > 0 && !waiting.has(id)) hold = true; // a newcomer must not overtake those put back
      if (!hold) {
        ready.push(message);
        continue;
      }
      heldThisBatch.add(group);
      const target = Math.max(block && block.until > now ? block.until : now, this.releaseAt.get(group) ?? now) + 1000;
      const seconds = Math.min(43_200, Math.max(1, Math.ceil((target - now) / 1000)));
      this.releaseAt.set(group, now + seconds * 1000);
      const set = waiting ?? new Set<string>();
      set.add(id);
      this.waiting.set(group, set);
      putBack.push({ message, seconds });
    }
    return { ready, putBack };
  }

  settle(handled: Message[], failedIds: ReadonlySet<string>, receivedAt: number): void {
    for (const message of handled) {
      const group = groupOf(message);
      if (group === undefined) continue;
      const id = message.MessageId ?? '';
      const waiting = this.waiting.get(group);
      const block = this.blocked.get(group);
      if (failedIds.has(id)) {
        if (!block || block.messageId === id) {
          // It stays in the queue and is visible again after the visibility timeout.
          this.blocked.set(group, { until: receivedAt + this.visibilityTimeoutMs, messageId: id });
          waiting?.delete(id);
        } else {
          // A later message of a group that already failed in this batch: it comes back with it.
          const set = waiting ?? new Set<string>();
          set.add(id);
          this.waiting.set(group, set);
        }
        continue;
      }
      waiting?.delete(id);
      if (block?.messageId === id) this.blocked.delete(group);
    }
    for (const [group, set] of this.waiting) {
      if (set.size === 0) {
        this.waiting.delete(group);
        this.releaseAt.delete(group);
      }
    }
  }

  /** Whether the group waits behind a failure (tests and logs). */
  isHeld(group: string): boolean {
    return this.blocked.has(group) || (this.waiting.get(group)?.size ?? 0) > 0;
  }
}

function groupOf(message: Message): string | undefined {
  return (message.Attributes as Record<string, string | undefined> | undefined)?.MessageGroupId;
}

async function putMessagesBack(sqs: SQSClient, queueUrl: string, putBack: { message: Message; seconds: number }[], log: Log): Promise<void> {
  for (const { message, seconds } of putBack) {
    try {
      await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle, VisibilityTimeout: seconds }));
    } catch (err) {
      // It then comes back after the queue's visibility timeout: later, but still after the failed one.
      log('warn', `could not put message ${message.MessageId} back for ${seconds} s on ${queueUrl}: ${formatError(err)}`);
    }
  }
}

/** SQS's limit on MaxNumberOfMessages (local-aws-sqs enforces it too). */
export const MAX_MESSAGES_PER_RECEIVE = 10;

/**
 * Lambda starts a batch as soon as one message is there, then fills it for up to the batching
 * window. A single ReceiveMessage for `batchSize` messages cannot do that on local-aws-sqs, which
 * waits the whole WaitTimeSeconds unless it has a full batch, so: long-poll for one message, then
 * top up with receives (at most 10 messages each, SQS's limit: batches above 10 take several)
 * until the batch is full, a receive comes back empty, or the batching window has passed.
 */
export async function receiveBatch(
  sqs: SQSClient,
  queueUrl: string,
  trigger: { batchSize: number; maxBatchingWindowSeconds: number },
  waitTimeSeconds: number,
  signal: AbortSignal,
): Promise<Message[]> {
  const receive = async (maxMessages: number, waitSeconds: number): Promise<Message[]> => {
    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: maxMessages,
        WaitTimeSeconds: waitSeconds,
        // local-aws-sqs ignores MessageSystemAttributeNames; `AttributeNames` works on both.
        AttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
      { abortSignal: signal },
    );
    return Messages ?? [];
  };
  const first = await receive(1, waitTimeSeconds);
  if (first.length === 0 || trigger.batchSize <= 1) return first;
  const batch = [...first];
  const deadline = Date.now() + trigger.maxBatchingWindowSeconds * 1000;
  try {
    for (let topUps = 0; batch.length < trigger.batchSize; topUps++) {
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0 && topUps > 0) break;
      const wait = Math.min(20, Math.max(0, Math.ceil(remainingMs / 1000)));
      const received = await receive(Math.min(MAX_MESSAGES_PER_RECEIVE, trigger.batchSize - batch.length), wait);
      batch.push(...received);
      if (received.length === 0) break;
    }
  } catch (err) {
    if (!signal.aborted) throw err;
    // Shutting down: still handle what we hold.
  }
  return batch;
}

/** Runs the handler on a batch and deletes what succeeded; returns the ids of the messages that failed. */
async function processBatch(
  fn: FunctionSpec,
  queueUrl: string,
  eventSourceARN: string,
  messages: Message[],
  options: QueuePollersOptions,
  log: Log,
): Promise<Set<string>> {
  const event: SQSEvent = { Records: messages.map((m) => toSqsRecord(m, eventSourceARN, options.region ?? LOCAL_REGION)) };
  let toDelete: SQSRecord[];
  try {
    const handler = await options.loadHandler(fn);
    const result = await handler(event, lambdaContext(fn));
    toDelete = recordsToDelete(event.Records, result);
  } catch (err) {
    log('error', `${fn.name} failed on a batch of ${messages.length}; the messages stay in the queue: ${formatError(err)}`);
    return new Set(event.Records.map((r) => r.messageId));
  }
  const failed = event.Records.length - toDelete.length;
  if (failed > 0) log('warn', `${fn.name}: ${failed} of ${event.Records.length} messages failed and stay in the queue`);
  await deleteMessages(options.sqs, queueUrl, toDelete, log);
  const deleted = new Set(toDelete.map((r) => r.messageId));
  return new Set(event.Records.filter((r) => !deleted.has(r.messageId)).map((r) => r.messageId));
}

/**
 * The records a batch response lets us delete. As in Lambda, a response naming a message that is
 * not in the batch (or with an empty id) counts as a failure of the whole batch.
 */
export function recordsToDelete(records: SQSRecord[], result: unknown): SQSRecord[] {
  if (result === undefined || result === null) return records;
  const failures = (result as Partial<SQSBatchResponse>).batchItemFailures;
  if (failures === undefined || failures === null) return records;
  if (!Array.isArray(failures)) throw new Error('batchItemFailures is not an array');
  const ids = new Set(records.map((r) => r.messageId));
  const failedIds = new Set<string>();
  for (const failure of failures as unknown[]) {
    const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || !ids.has(id)) {
      throw new Error(`batchItemFailures names ${JSON.stringify(id)}, which is not in the batch`);
    }
    failedIds.add(id);
  }
  return records.filter((r) => !failedIds.has(r.messageId));
}

async function deleteMessages(sqs: SQSClient, queueUrl: string, records: SQSRecord[], log: Log): Promise<void> {
  for (let start = 0; start < records.length; start += 10) {
    const chunk = records.slice(start, start + 10);
    try {
      const { Failed } = await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: chunk.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })),
        }),
      );
      if (Failed && Failed.length > 0) {
        log('warn', `could not delete ${Failed.length} processed messages from ${queueUrl}; they will be delivered again`);
      }
    } catch (err) {
      log('warn', `could not delete processed messages from ${queueUrl}; they will be delivered again: ${formatError(err)}`);
    }
  }
}

export function toSqsRecord(message: Message, eventSourceARN: string, awsRegion: string): SQSRecord {
  const attributes = (message.Attributes ?? {}) as Record<string, string | undefined>;
  const messageAttributes: SQSMessageAttributes = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    messageAttributes[name] = toLambdaMessageAttribute(value);
  }
  const record: SQSRecord = {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? LOCAL_ACCOUNT_ID,
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes,
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN,
    awsRegion,
  };
  for (const optional of ['SequenceNumber', 'MessageGroupId', 'MessageDeduplicationId', 'AWSTraceHeader'] as const) {
    const value = attributes[optional];
    if (value !== undefined) record.attributes[optional] = value;
  }
  if (message.MD5OfMessageAttributes !== undefined) record.md5OfMessageAttributes = message.MD5OfMessageAttributes;
  return record;
}

/** SDK shape (`StringValue`, binary as bytes) to Lambda's event shape (`stringValue`, binary as base64). */
function toLambdaMessageAttribute(value: MessageAttributeValue): SQSMessageAttributes[string] {
  const attribute: SQSMessageAttributes[string] = {
    stringListValues: value.StringListValues ?? [],
    binaryListValues: (value.BinaryListValues ?? []).map((b) => Buffer.from(b).toString('base64')),
    dataType: value.DataType ?? 'String',
  };
  if (value.StringValue !== undefined) attribute.stringValue = value.StringValue;
  if (value.BinaryValue !== undefined) attribute.binaryValue = Buffer.from(value.BinaryValue).toString('base64');
  return attribute;
}

/** `https://host/123456789012/name` → `arn:aws:sqs:<region>:123456789012:name` (SQS and local-aws-sqs URLs). */
export function queueArnFromUrl(queueUrl: string, region: string): string {
  const [account = LOCAL_ACCOUNT_ID, name = ''] = new URL(queueUrl).pathname.split('/').filter(Boolean).slice(-2);
  return `arn:aws:sqs:${region}:${account}:${name}`;
}

function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolveDelay) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolveDelay();
    }
  });
}

// ---------------------------------------------------------------- schedules

/** What an EventBridge Scheduler schedule of the CDK app (infra/stacks/schedules-stack.ts) sends. */
export interface ScheduleInvocationEvent {
  scheduleId: string;
  /** ISO time of the tick, to the second. */
  scheduledTime: string;
}

export interface ScheduleTimersOptions {
  functions: FunctionSpec[];
  loadHandler: LoadHandler;
  log?: Log;
  /** Fire every schedule this often instead of its `rateMinutes` (tests: CONVEYOR_DEV_SCHEDULE_SECONDS). */
  periodSeconds?: number;
}

/** `CONVEYOR_DEV_SCHEDULE_SECONDS`: a shorter period for every schedule of the local stack (tests). */
export const SCHEDULE_SECONDS_ENV_VAR = 'CONVEYOR_DEV_SCHEDULE_SECONDS';

/** The period override from the environment, if any; anything but a positive number is refused. */
export function schedulePeriodFromEnv(env: NodeJS.ProcessEnv): number | undefined {
  const text = env[SCHEDULE_SECONDS_ENV_VAR];
  if (text === undefined || text.trim() === '') return undefined;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds < 0.1 || seconds > 24 * 3600) {
    throw new Error(`${SCHEDULE_SECONDS_ENV_VAR} must be a number of seconds from 0.1 to 86400, not ${JSON.stringify(text)}`);
  }
  return seconds;
}

/**
 * One timer per `schedule` trigger, firing every `rateMinutes` (or `periodSeconds`) like an
 * EventBridge Scheduler `rate()` schedule (first run one period after start, as a new schedule
 * does), with the same event the cloud's schedule sends: `{scheduleId, scheduledTime}`. A tick
 * that finds the previous run still going is skipped rather than stacked.
 */
export function startScheduleTimers(options: ScheduleTimersOptions): Stoppable {
  const log = options.log ?? consoleLog;
  const running = new Set<Promise<void>>();
  const timers = options.functions
    .filter((fn): fn is FunctionSpec & { schedule: NonNullable<FunctionSpec['schedule']> } => fn.schedule !== undefined)
    .map((fn) => {
      let current: Promise<void> | undefined;
      const tick = (): void => {
        if (current) {
          log('warn', `${fn.name}: the previous scheduled run is still going; skipping this one`);
          return;
        }
        const run = invokeScheduled(fn, options.loadHandler, log).finally(() => {
          current = undefined;
          running.delete(run);
        });
        current = run;
        running.add(run);
      };
      return setInterval(tick, options.periodSeconds !== undefined ? options.periodSeconds * 1000 : fn.schedule.rateMinutes * 60_000);
    });
  let stopping: Promise<void> | undefined;
  return {
    stop(graceMs = 10_000) {
      stopping ??= (async () => {
        for (const timer of timers) clearInterval(timer);
        await settlesWithin(Promise.allSettled([...running]), graceMs);
      })();
      return stopping;
    },
  };
}

async function invokeScheduled(
  fn: FunctionSpec & { schedule: NonNullable<FunctionSpec['schedule']> },
  loadHandler: LoadHandler,
  log: Log,
): Promise<void> {
  const event: ScheduleInvocationEvent = {
    scheduleId: fn.schedule.id,
    scheduledTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
  };
  try {
    const handler = await loadHandler(fn);
    await handler(event, lambdaContext(fn));
  } catch (err) {
    log('error', `${fn.name} failed on schedule ${fn.schedule.id}: ${formatError(err)}`);
  }
}
