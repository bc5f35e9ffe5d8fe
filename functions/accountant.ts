/**
 * Quota accounting: batches of usage events from the accounting queue (each distinct source synced
 * once per batch; replays change nothing), and the periodic recompute that corrects drift.
 */
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createAwsDeps } from '../shared/adapters/aws';
import { parseAccountingMessage } from '../shared/adapters/sqs/accounting-queue';
import { applyAccountingEvents, recomputeUsage } from '../shared/app/accounting';
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
    const failures: { itemIdentifier: string }[] = [];
    for (const record of event.Records) {
      let events: AccountingEvent[];
      try {
        events = parseAccountingMessage(record.body);
      } catch (err) {
        // It can never become valid: drop it rather than retry it into the DLQ.
        console.error('dropping malformed accounting message', record.messageId, (err as Error).message, record.body.slice(0, 500));
        continue;
      }
      try {
        await applyAccountingEvents(getDeps(), events);
      } catch (err) {
        console.error('accounting failed; the message will be delivered again', record.messageId, err);
        failures.push({ itemIdentifier: record.messageId });
      }
    }
    return { batchItemFailures: failures };
  };
}

export const handler = accountantHandler(getDeps);
