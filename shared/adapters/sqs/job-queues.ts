/**
 * JobQueues on SQS. Messages are JSON with a `type` discriminator so one consumer can check what it got:
 * `{"type":"file-verification","artifactId":1,"path":"a/b"}`.
 */
import { SendMessageCommand, type SQSClient, type SendMessageCommandInput } from '@aws-sdk/client-sqs';
import { createHash } from 'node:crypto';
import type { FileVerificationJob, JobQueues } from '../../ports';

export interface FileVerificationMessage {
  type: 'file-verification';
  artifactId: number;
  path: string;
}

export type JobMessage = FileVerificationMessage;

export class SqsJobQueues implements JobQueues {
  constructor(
    private readonly sqs: SQSClient,
    private readonly urls: { fileVerification: string },
  ) {
    if (!urls.fileVerification) throw new Error('SqsJobQueues: file-verification queue URL is empty');
  }

  async enqueueFileVerification(job: FileVerificationJob): Promise<void> {
    const message: FileVerificationMessage = { type: 'file-verification', artifactId: job.artifactId, path: job.path };
    await this.send(this.urls.fileVerification, message, `artifact-${job.artifactId}`);
  }

  private async send(queueUrl: string, message: JobMessage, group: string): Promise<void> {
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

/** Parses a message body produced here; throws on anything else (the consumer reports it as a failure). */
export function parseJobMessage(body: string): JobMessage {
  const value: unknown = JSON.parse(body);
  if (typeof value === 'object' && value !== null) {
    const m = value as Record<string, unknown>;
    if (m['type'] === 'file-verification' && Number.isSafeInteger(m['artifactId']) && typeof m['path'] === 'string' && m['path'] !== '') {
      return { type: 'file-verification', artifactId: m['artifactId'] as number, path: m['path'] };
    }
  }
  throw new Error('not a Conveyor job message');
}
