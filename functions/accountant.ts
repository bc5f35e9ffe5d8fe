/**
 * Quota accounting: batches of usage events from the accounting queue (each distinct source synced
 * once per batch; replays change nothing), and the periodic recompute that corrects drift.
 */
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createAwsDeps } from '../shared/adapters/aws';
import { parseAccountingMessage } from '../shared/adapters/sqs/accounting-queue';
import { applyAccountingEvents } from '../shared/app/accounting';
import { recomputeUsageInBulk as recomputeUsage } from '../shared/app/bulk-recompute';
import { quotaSettingsOf } from '../shared/app/quotas';
import type { AccountingEvent, Deps } from '../shared/ports';
import { isSqsEvent, type ScheduleInvocation } from './scheduler';

let deps: Deps | undefined;
const getDeps = () => (deps ??= createAwsDeps());

export function accountantHandler(getDeps: () => Deps) {
  return async (event: SQSEvent | ScheduleInvocation): Promise<SQSBatchResponse | void> => {
    if (!isSqsEvent(event)) {
      // REANA_PERIODIC_RESOURCE_QUOTA_UPDATE_POLICY: the recompute runs only when enabled.
      if (!quotaSettingsOf(getDeps()).periodic) return;
      const summary = await recomputeUsage(getDeps(), { actor: 'system:quota-recompute' });
      console.log(JSON.stringify({ msg: 'quota recompute', sources: summary.sources, corrected: summary.corrected.length }));
      return;
    }
    const parsed: { messageId: string; events: AccountingEvent[] }[] = [];
    for (const record of event.Records) {
      try {
        parsed.push({ messageId: record.messageId, events: parseAccountingMessage(record.body) });
      } catch (err) {
        // It can never become valid: drop it rather than retry it into the DLQ.
        console.error('dropping malformed accounting message', record.messageId, (err as Error).message, record.body.slice(0, 500));
      }
    }
    try {
      // The whole batch at once: a source named by several messages is synced once.
      await applyAccountingEvents(getDeps(), parsed.flatMap((p) => p.events));
      return { batchItemFailures: [] };
    } catch (err) {
      console.error('accounting the batch failed; retrying message by message', err);
    }
    const failures: { itemIdentifier: string }[] = [];
    for (const { messageId, events } of parsed) {
      try {
        await applyAccountingEvents(getDeps(), events);
      } catch (err) {
        console.error('accounting failed; the message will be delivered again', messageId, err);
        failures.push({ itemIdentifier: messageId });
      }
    }
    return { batchItemFailures: failures };
  };
}

export const handler = accountantHandler(getDeps);
