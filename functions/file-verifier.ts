import type { SQSEvent, SQSBatchResponse } from 'aws-lambda';
import { createAwsDeps } from '../shared/adapters/aws';
import { verifyQueuedUpload } from '../shared/app/uploads';
import type { Deps } from '../shared/ports';
import * as z from 'zod';

let deps: Deps | undefined;
const getDeps = () => (deps ??= createAwsDeps());

const jobSchema = z.object({ artifactId: z.number().int().positive(), path: z.string().min(1) });

/** Verifies queued uploads one message at a time; a failure is retried by SQS, then dead-lettered. */
export async function handler(event: SQSEvent): Promise<SQSBatchResponse> {
  const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
  for (const record of event.Records) {
    try {
      const parsed = jobSchema.safeParse(JSON.parse(record.body));
      // A malformed message can never succeed: log and drop it rather than poison the queue.
      if (!parsed.success) {
        console.error('dropping malformed file-verification message', record.messageId, record.body);
        continue;
      }
      await verifyQueuedUpload(getDeps(), parsed.data);
    } catch (err) {
      console.error('file verification failed', record.messageId, err);
      batchItemFailures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures };
}
