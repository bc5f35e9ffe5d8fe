/** Debusine's uploaded ranges, one S3 notification per message; a failure is retried by SQS, then dead-lettered. */
import * as z from 'zod';
import { awsDeps, identity, artifacts, workRequests, workers, accountingQueue } from '../shared/adapters/aws-adapters';
import { files } from '../shared/adapters/aws-files';
import { recordStoredRange } from '../shared/app/debusine-ranges';
import type { Deps } from '../shared/ports';
import { logger } from '../shared/observability/logger';
import { eachRecord, type SqsConsumer } from '../shared/observability/sqs-batches';

const getDeps = awsDeps({ identity, artifacts, files, workRequests, workers, accountingQueue });

/**
 * S3's event notification (as S3 sends it to SQS): only the object keys matter. S3's test event
 * has no `Records`: it is malformed here, so it is logged and dropped.
 */
const notificationSchema = z.object({
  Records: z.array(z.object({ eventName: z.string(), s3: z.object({ object: z.object({ key: z.string() }) }) })),
});

/** S3 writes keys in events form-encoded (`+` for a space). */
const decodeEventKey = (key: string) => decodeURIComponent(key.replace(/\+/g, ' '));

export function debusineRangeRecorderHandler(getDeps: () => Deps, record: typeof recordStoredRange = recordStoredRange): SqsConsumer {
  return eachRecord({
    what: 'debusine-range',
    parse: (body) => notificationSchema.parse(JSON.parse(body)),
    handle: async (notification) => {
      for (const r of notification.Records) {
        if (!r.eventName.startsWith('ObjectCreated:')) continue;
        const key = decodeEventKey(r.s3.object.key);
        const outcome = await record(getDeps(), key);
        logger.info('debusine range recorded', { key, outcome });
      }
    },
  });
}

export const handler = debusineRangeRecorderHandler(getDeps);
