import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { z } from 'zod';
import { createAwsDeps } from '../shared/adapters/aws';
import { recordStoredRange } from '../shared/app/debusine-ranges';
import type { Deps } from '../shared/ports';

let deps: Deps | undefined;
const getDeps = () => (deps ??= createAwsDeps());

/** S3's event notification (as S3 sends it to SQS): only the object keys matter. */
const notificationSchema = z.object({
  Records: z.array(z.object({ eventName: z.string(), s3: z.object({ object: z.object({ key: z.string() }) }) })).optional(),
});

/** S3 writes keys in events form-encoded (`+` for a space). */
const decodeEventKey = (key: string) => decodeURIComponent(key.replace(/\+/g, ' '));

/** Debusine's uploaded ranges, one S3 notification per message; a failure is retried by SQS, then dead-lettered. */
export async function handler(event: SQSEvent): Promise<SQSBatchResponse> {
  const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
  for (const record of event.Records) {
    try {
      const parsed = notificationSchema.safeParse(JSON.parse(record.body));
      // S3's test event and anything malformed can never succeed: log and drop.
      if (!parsed.success || !parsed.data.Records) {
        console.info('ignoring a message that is no S3 object notification', record.messageId);
        continue;
      }
      for (const r of parsed.data.Records) {
        if (!r.eventName.startsWith('ObjectCreated:')) continue;
        const key = decodeEventKey(r.s3.object.key);
        const outcome = await recordStoredRange(getDeps(), key);
        console.info('debusine range', key, JSON.stringify(outcome));
      }
    } catch (err) {
      console.error('recording a debusine range failed', record.messageId, err);
      batchItemFailures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures };
}
