/**
 * The watchdog (every minute): running work requests without a heartbeat for too long are
 * reclaimed and retried on another worker, and running workflows older than a few minutes are
 * handed to the orchestrator to check they are not stuck. `CONVEYOR_WATCHDOG_STALE_SECONDS`
 * overrides the heartbeat limit (default 300 s; tests of the local stack shorten it).
 */
import { awsDeps, identity, artifacts, queues, workRequests, workers, collections, channels, sequences, accountingQueue, recurringJobs } from '../shared/adapters/aws-adapters';
import { recurringRunsInProcess } from '../shared/app/recurring-runs';
import { notifier } from '../shared/adapters/aws-notifier';
import { sockets } from '../shared/adapters/aws-sockets';
import { reclaimStale, reconcileWorkflows } from '../shared/app/watchdog';
import { refreshSocketWorkers } from '../shared/app/sockets';
import type { Deps } from '../shared/ports';
import { logger } from '../shared/observability/logger';

export const STALE_SECONDS_ENV_VAR = 'CONVEYOR_WATCHDOG_STALE_SECONDS';

const getDeps = awsDeps({ identity, artifacts, queues, workRequests, workers, collections, channels, notifier, sequences, accountingQueue, recurringJobs, recurringRunHooks: recurringRunsInProcess, sockets });

export function staleAfterMs(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const text = env[STALE_SECONDS_ENV_VAR];
  if (text === undefined || text === '') return undefined;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new Error(`${STALE_SECONDS_ENV_VAR} must be a positive number of seconds, not ${JSON.stringify(text)}`);
  return seconds * 1000;
}

export function watchdogHandler(
  getDeps: () => Deps,
  reclaim: typeof reclaimStale = reclaimStale,
  env: NodeJS.ProcessEnv = process.env,
  reconcile: typeof reconcileWorkflows = reconcileWorkflows,
) {
  return async (_event: unknown): Promise<{ reclaimed: number[]; reconciled: number[] }> => {
    const after = staleAfterMs(env);
    // Debusine's workers send no heartbeats: their open WebSocket keeps them (and their work) alive.
    await refreshSocketWorkers(getDeps());
    const reclaimed = await reclaim(getDeps(), after === undefined ? {} : { staleAfterMs: after });
    if (reclaimed.length) logger.info('reclaimed stale work requests', { reclaimed });
    const reconciled = await reconcile(getDeps());
    return { reclaimed, reconciled };
  };
}

export const handler = watchdogHandler(getDeps);
