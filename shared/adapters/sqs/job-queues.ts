/**
 * JobQueues on SQS. Messages are JSON with a `type` discriminator so that a consumer can check what it got:
 * - file-verification: `{"type":"file-verification","artifactId":1,"path":"a/b"}`
 * - scheduler:         `{"type":"scheduler-event","event":{"type":"work-request-pending","workRequestId":7}}`
 * - heartbeats:        `{"type":"heartbeat","workRequestId":7,"worker":"bee","at":"<ISO>","logtail":["..."]}`
 * - server-tasks:      `{"type":"server-task","workRequestId":7}`
 * - orchestrator:      `{"type":"orchestration","rootId":3,"kind":"child-finished","workRequestId":7}`
 *
 * The orchestrator queue is FIFO: MessageGroupId is the root workflow's id, so the steps of one
 * root run one at a time and in order while different roots run in parallel. Deduplication: every
 * orchestration enqueue carries its own unique MessageDeduplicationId (`<kind>-<id>-<uuid>`), so SQS
 * suppresses nothing (the queue's content-based deduplication is never used for these). A repeat of
 * the same body within SQS's 5-minute window can be a new, legitimate event: a retried workflow goes
 * back to running under the same id and is populated again, and a retried sub-workflow finishes
 * again under the same id, so its parent must hear of it again. Suppressing those would stall the
 * workflow; a true duplicate (a sender retrying after a crash) only costs one more orchestration
 * step, which is idempotent anyway (SQS FIFO redelivers after a failure or timeout too).
 *
 * Each queue's URL is optional: a function only receives the variables of the queues it sends to
 * (least privilege), and sending to a queue whose URL is missing fails loudly, naming the variable.
 */
import { SendMessageCommand, type SQSClient, type SendMessageCommandInput } from '@aws-sdk/client-sqs';
import { createHash, randomUUID } from 'node:crypto';
import * as z from 'zod';
import { QUEUES, type QueueName } from '../../manifest';
import type { FileVerificationJob, HeartbeatMessage, JobQueues, OrchestrationMessage, SchedulerEvent } from '../../ports';
import { parseMessageBody } from './message-body';

export interface FileVerificationMessage {
  type: 'file-verification';
  artifactId: number;
  path: string;
}

export interface SchedulerEventMessage {
  type: 'scheduler-event';
  event: SchedulerEvent;
}

export type HeartbeatJobMessage = { type: 'heartbeat' } & HeartbeatMessage;

export interface ServerTaskMessage {
  type: 'server-task';
  workRequestId: number;
}

export type OrchestrationJobMessage = { type: 'orchestration' } & OrchestrationMessage;

export type JobMessage = FileVerificationMessage | SchedulerEventMessage | HeartbeatJobMessage | ServerTaskMessage | OrchestrationJobMessage;

export interface JobQueueUrls {
  fileVerification?: string | undefined;
  scheduler?: string | undefined;
  heartbeats?: string | undefined;
  serverTasks?: string | undefined;
  orchestrator?: string | undefined;
}

const QUEUE_OF: Record<keyof JobQueueUrls, QueueName> = {
  fileVerification: 'file-verification',
  scheduler: 'scheduler',
  heartbeats: 'heartbeats',
  serverTasks: 'server-tasks',
  orchestrator: 'orchestrator',
};

export class SqsJobQueues implements JobQueues {
  constructor(
    private readonly sqs: SQSClient,
    private readonly urls: JobQueueUrls,
  ) {
    for (const [key, url] of Object.entries(urls)) {
      if (url === '') throw new Error(`SqsJobQueues: ${QUEUE_OF[key as keyof JobQueueUrls]} queue URL is empty`);
    }
  }

  async enqueueFileVerification(job: FileVerificationJob): Promise<void> {
    const message: FileVerificationMessage = { type: 'file-verification', artifactId: job.artifactId, path: job.path };
    await this.send('fileVerification', message, `artifact-${job.artifactId}`);
  }

  async enqueueSchedulerEvent(event: SchedulerEvent): Promise<void> {
    await this.send('scheduler', { type: 'scheduler-event', event }, 'scheduler');
  }

  async enqueueHeartbeat(heartbeat: HeartbeatMessage): Promise<void> {
    const message: HeartbeatJobMessage = {
      type: 'heartbeat',
      workRequestId: heartbeat.workRequestId,
      worker: heartbeat.worker,
      at: heartbeat.at,
      logtail: heartbeat.logtail,
    };
    await this.send('heartbeats', message, `work-request-${heartbeat.workRequestId}`);
  }

  async enqueueServerTask(job: { workRequestId: number }): Promise<void> {
    await this.send('serverTasks', { type: 'server-task', workRequestId: job.workRequestId }, `work-request-${job.workRequestId}`);
  }

  /** FIFO: grouped by root workflow; a unique deduplication id per call (see the file comment). */
  async enqueueOrchestration(message: OrchestrationMessage): Promise<void> {
    const body: OrchestrationJobMessage = { type: 'orchestration', rootId: message.rootId, kind: message.kind, workRequestId: message.workRequestId };
    const url = this.urls.orchestrator;
    if (url && !isFifo(url)) throw new Error(`the orchestrator queue must be FIFO (its URL ends in .fifo): ${url}`);
    await this.send('orchestrator', body, String(message.rootId), `${message.kind}-${message.workRequestId}-${randomUUID()}`);
  }

  private async send(queue: keyof JobQueueUrls, message: JobMessage, group: string, deduplicationId?: string): Promise<void> {
    const queueUrl = this.urls[queue];
    if (!queueUrl) {
      const spec = QUEUES[QUEUE_OF[queue]];
      throw new Error(`the ${spec.name} queue is not available here: ${spec.envVar} is not set`);
    }
    const body = JSON.stringify(message);
    const input: SendMessageCommandInput = { QueueUrl: queueUrl, MessageBody: body };
    if (isFifo(queueUrl)) {
      input.MessageGroupId = group;
      // Unless the caller decides otherwise, identical jobs within SQS's 5-minute window are one job
      // (consumers are idempotent anyway).
      input.MessageDeduplicationId = deduplicationId ?? createHash('sha256').update(body).digest('hex');
    }
    await this.sqs.send(new SendMessageCommand(input));
  }
}

export function isFifo(queueUrl: string): boolean {
  return queueUrl.endsWith('.fifo');
}

const id = z.number().int().positive().refine(Number.isSafeInteger);

const schedulerEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('work-request-pending'), workRequestId: id }),
  z.object({ type: z.literal('work-request-finished'), workRequestId: id }),
  z.object({ type: z.literal('worker-available'), worker: z.string().min(1) }),
  z.object({ type: z.literal('periodic') }),
]);

const jobMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('file-verification'), artifactId: id, path: z.string().min(1) }),
  z.object({ type: z.literal('scheduler-event'), event: schedulerEventSchema }),
  z.object({
    type: z.literal('heartbeat'),
    workRequestId: id,
    worker: z.string().min(1),
    at: z.iso.datetime({ offset: true }),
    logtail: z.array(z.string()),
  }),
  z.object({ type: z.literal('server-task'), workRequestId: id }),
  z.object({
    type: z.literal('orchestration'),
    rootId: id,
    kind: z.enum(['populate', 'callback', 'child-finished', 'reconcile', 'retry-delayed', 'settle-dependents']),
    workRequestId: id,
  }),
]);

/** Parses a message body produced here; throws on anything else (the consumer drops or reports it). */
export function parseJobMessage(body: string): JobMessage {
  return parseMessageBody(body, jobMessageSchema, 'a Conveyor job message') as JobMessage;
}

/** Like parseJobMessage, and checks the message is of the expected type. */
export function parseJobMessageOf<T extends JobMessage['type']>(body: string, type: T): Extract<JobMessage, { type: T }> {
  const message = parseJobMessage(body);
  if (message.type !== type) throw new Error(`not a Conveyor ${type} message (got ${message.type})`);
  return message as Extract<JobMessage, { type: T }>;
}
