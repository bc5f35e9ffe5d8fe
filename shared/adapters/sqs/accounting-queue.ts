/**
 * The accounting queue: `{"type":"accounting","events":[{"source":{"kind":"artifact","id":7},
 * "scope":"debusine","workspace":"System","createdBy":"user:alice"}]}`. Standard queue: order and
 * duplicates do not matter, the consumer syncs each source to its present state.
 */
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import * as z from 'zod';
import { QUEUES } from '../../manifest';
import type { AccountingEvent, AccountingQueue } from '../../ports/accounts';
import { parseMessageBody } from './message-body';

const id = z.number().int().nonnegative().refine(Number.isSafeInteger);
const eventSchema = z.object({
  source: z.object({ kind: z.enum(['artifact', 'work-request']), id }),
  scope: z.string().min(1),
  workspace: z.string().min(1),
  createdBy: z.string().min(1),
});
const messageSchema = z.object({ type: z.literal('accounting'), events: z.array(eventSchema).min(1).max(100) });

export class SqsAccountingQueue implements AccountingQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly url: string | undefined,
  ) {}

  async enqueue(events: AccountingEvent[]): Promise<void> {
    if (!this.url) throw new Error(`the accounting queue is not available here: ${QUEUES.accounting.envVar} is not set`);
    for (let i = 0; i < events.length; i += 100) {
      await this.sqs.send(new SendMessageCommand({ QueueUrl: this.url, MessageBody: JSON.stringify({ type: 'accounting', events: events.slice(i, i + 100) }) }));
    }
  }
}

/** Parses a message body produced here; throws on anything else. */
export function parseAccountingMessage(body: string): AccountingEvent[] {
  return parseMessageBody(body, messageSchema, 'an accounting message').events as AccountingEvent[];
}
