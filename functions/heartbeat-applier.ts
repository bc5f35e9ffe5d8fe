/**
 * Applies the heartbeats the API accepted, in batches (up to 100 per invocation). Each write is
 * conditional (still running on that worker, newer than the stored one), so replays change nothing.
 */
import { awsDeps, workRequests } from '../shared/adapters/aws-adapters';
import { parseJobMessageOf } from '../shared/adapters/sqs/job-queues';
import { applyHeartbeats } from '../shared/app/heartbeats';
import type { Deps, HeartbeatMessage } from '../shared/ports';
import { logger } from '../shared/observability/logger';
import { wholeBatch, type SqsConsumer } from '../shared/observability/sqs-batches';

const getDeps = awsDeps({ workRequests });

export function heartbeatHandler(getDeps: () => Deps, apply: typeof applyHeartbeats = applyHeartbeats): SqsConsumer {
  return wholeBatch<HeartbeatMessage>({
    what: 'heartbeat',
    parse: (body) => {
      const { type: _type, ...heartbeat } = parseJobMessageOf(body, 'heartbeat');
      return heartbeat;
    },
    applyAll: async (messages) => {
      const { applied, ignored } = await apply(getDeps(), messages);
      logger.info('heartbeats', { received: messages.length, applied, ignored });
    },
  });
}

export const handler = heartbeatHandler(getDeps);
