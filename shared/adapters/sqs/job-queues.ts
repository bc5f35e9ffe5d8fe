/**
 * JobQueues on SQS. Messages are JSON with a `type` discriminator so that a consumer can check what it got:
 * - file-verification: `{"type":"file-verification","artifactId":1,"path":"a/b"}`
 * - scheduler:         `{"type":"scheduler-event","event":{"type":"work-request-pending","workRequestId":7}}`
 * - heartbeats:        `{"type":"heartbeat","workRequestId":7,"worker":"bee","at":"<ISO>","logtail":["..."]}`
 * - server-tasks:      `{"type":"server-task","workRequestId":7}`
 *
 * Each queue's URL is optional: a function only receives the variables of the queues it sends to
 * (least privilege), and sending to a queue whose URL is missing fails loudly, naming the variable.
 */
import { SendMessageCommand, type SQSClient, type SendMessageCommandInput } from '@aws-sdk/client-sqs';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { QUEUES, type QueueName } from '../../manifest';
import type { FileVerificationJob, HeartbeatMessage, JobQueues, SchedulerEvent } from '../../ports';

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

export type JobMessage = FileVerificationMessage | SchedulerEventMessage | HeartbeatJobMessage | ServerTaskMessage;

export interface JobQueueUrls {
  fileVerification?: string | undefined;
  scheduler?: string | undefined;
  heartbeats?: string | undefined;
  serverTasks?: string | undefined;
}

const QUEUE_OF: Record<keyof JobQueueUrls, QueueName> = {
  fileVerification: 'file-verification',
  scheduler: 'scheduler',
  heartbeats: 'heartbeats',
  serverTasks: 'server-tasks',
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

  private async send(queue: keyof JobQueueUrls, message: JobMessage, group: string): Promise<void> {
    const queueUrl = this.urls[queue];
    if (!queueUrl) {
      const spec = QUEUES[QUEUE_OF[queue]];
      throw new Error(`the ${spec.name} queue is not available here: ${spec.envVar} is not set`);
    }
    const body = JSON.stringify(message);
    const input: SendMessageCommandInput = { QueueUrl: queueUrl, MessageBody: body };
    if (isFifo(queueUrl)) {
      input.MessageGroupId = group;
      // Identical jobs within SQS's 5-minute window are one job (consumers are idempotent anyway).
      input.MessageDeduplicationId = createHash('sha256').update(body).digest('hex');
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
]);

/** Parses a message body produced here; throws on anything else (the consumer drops or reports it). */
export function parseJobMessage(body: string): JobMessage {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new Error('not a Conveyor job message: malformed JSON');
  }
  const parsed = jobMessageSchema.safeParse(value);
  if (!parsed.success) throw new Error('not a Conveyor job message');
  return parsed.data as JobMessage;
}

/** Like parseJobMessage, and checks the message is of the expected type. */
export function parseJobMessageOf<T extends JobMessage['type']>(body: string, type: T): Extract<JobMessage, { type: T }> {
  const message = parseJobMessage(body);
  if (message.type !== type) throw new Error(`not a Conveyor ${type} message (got ${message.type})`);
  return message as Extract<JobMessage, { type: T }>;
}
