/** Verifies queued uploads one message at a time; a failure is retried by SQS, then dead-lettered. */
import * as z from 'zod';
import { awsDeps, artifacts, accountingQueue } from '../shared/adapters/aws-adapters';
import { files } from '../shared/adapters/aws-files';
import type { FollowUpFailure } from '../shared/app/follow-ups';
import { verifyQueuedUpload } from '../shared/app/uploads';
import type { Deps } from '../shared/ports';
import { logFollowUpFailures, logger } from '../shared/observability/logger';
import { eachRecord, type SqsConsumer } from '../shared/observability/sqs-batches';

const getDeps = awsDeps({ artifacts, files, accountingQueue });

const jobSchema = z.object({ artifactId: z.number().int().positive(), path: z.string().min(1) });

export function fileVerifierHandler(getDeps: () => Deps, verify: typeof verifyQueuedUpload = verifyQueuedUpload): SqsConsumer {
  return eachRecord({
    what: 'file-verification',
    parse: (body) => jobSchema.parse(JSON.parse(body)),
    handle: async (job) => {
      const followUps: FollowUpFailure[] = [];
      const outcome = await verify(getDeps(), job, followUps);
      logger.info('file verified', { artifact_id: job.artifactId, path: job.path, outcome });
      logFollowUpFailures(followUps);
    },
  });
}

export const handler = fileVerifierHandler(getDeps);
