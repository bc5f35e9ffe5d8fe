/**
 * The `recurring-runs` queue: `{"type":"recurring-run","workRequestId":7,"move":"finished"}`, sent when
 * a request that carries a recurring run starts or finishes in a function that leaves the run to the
 * recurring-release function (the work-requests API). Standard queue: the consumer applies the request's
 * state as it is when the message arrives, so order and duplicates do not matter.
 */
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import * as z from 'zod';
import { QUEUES } from '../../manifest';
import type { Deps, RecurringRunHooks, RecurringRunMove } from '../../ports';
import type { WorkRequest } from '../../domain/work-requests';
import { parseMessageBody } from './message-body';

const messageSchema = z.object({
  type: z.literal('recurring-run'),
  workRequestId: z.number().int().positive().refine(Number.isSafeInteger),
  move: z.enum(['started', 'finished']),
});

export interface RecurringRunMessage {
  workRequestId: number;
  move: RecurringRunMove;
}

export class SqsRecurringRunHooks implements RecurringRunHooks {
  constructor(
    private readonly sqs: SQSClient,
    private readonly url: string | undefined,
  ) {}

  async moved(_deps: Deps, wr: WorkRequest, move: RecurringRunMove): Promise<void> {
    if (!this.url) throw new Error(`the recurring-runs queue is not available here: ${QUEUES['recurring-runs'].envVar} is not set`);
    await this.sqs.send(new SendMessageCommand({ QueueUrl: this.url, MessageBody: JSON.stringify({ type: 'recurring-run', workRequestId: wr.id, move }) }));
  }
}

/** Parses a message body produced here; throws on anything else. */
export function parseRecurringRunMessage(body: string): RecurringRunMessage {
  const { workRequestId, move } = parseMessageBody(body, messageSchema, 'a recurring-run message');
  return { workRequestId, move };
}
