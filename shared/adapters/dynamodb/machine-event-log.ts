/**
 * The machines' event log on DynamoDB (Launchpad's builder history: online, offline, quiescing...), items
 * `ME#<date>#<tag>#<n>` under the worker's partition. A module of its own so that a function that only appends
 * to it (the work-requests API, when get-next turns a quiescing machine QUIESCED) need not bundle the whole
 * recurring-job repository, which reads the log and delegates its appends here.
 */
import { randomUUID } from 'node:crypto';
import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { RecurringJobEvent } from '../../domain/recurring-jobs';
import type { MachineEventLog } from '../../ports/recurring-jobs';
import { keys, timeKey } from './keys';
import { compact, type Item } from './support';

export const EVENTS = 'E#';
export const MACHINE_EVENTS = 'ME#';

export function eventItems(pk: string, events: RecurringJobEvent[], tag: string, prefix = EVENTS): Item[] {
  return events.map((event, n) => compact({ pk, sk: `${prefix}${timeKey(event.date, 'date')}#${tag}#${String(n).padStart(3, '0')}`, entity: 'recurring-event', event }));
}

export class DynamoMachineEventLog implements MachineEventLog {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async appendMachineEvents(machine: string, events: RecurringJobEvent[]): Promise<void> {
    const pk = keys.worker(machine).pk;
    for (const Item of eventItems(pk, events, randomUUID(), MACHINE_EVENTS)) {
      await this.doc.send(new PutCommand({ TableName: this.tableName, Item }));
    }
  }
}
