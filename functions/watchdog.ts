/**
 * The watchdog (every minute): running work requests without a heartbeat for too long are
 * reclaimed and retried on another worker. `CONVEYOR_WATCHDOG_STALE_SECONDS` overrides the limit
 * (default 300 s; tests of the local stack shorten it).
 */
import { createAwsDeps } from '../shared/adapters/aws';
import { reclaimStale } from '../shared/app/scheduler';
import type { Deps } from '../shared/ports';

export const STALE_SECONDS_ENV_VAR = 'CONVEYOR_WATCHDOG_STALE_SECONDS';

let deps: Deps | undefined;
const getDeps = () => (deps ??= createAwsDeps());

export function staleAfterMs(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const text = env[STALE_SECONDS_ENV_VAR];
  if (text === undefined || text === '') return undefined;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new Error(`${STALE_SECONDS_ENV_VAR} must be a positive number of seconds, not ${JSON.stringify(text)}`);
  return seconds * 1000;
}

export function watchdogHandler(getDeps: () => Deps, reclaim: typeof reclaimStale = reclaimStale, env: NodeJS.ProcessEnv = process.env) {
  return async (_event: unknown): Promise<{ reclaimed: number[] }> => {
    const after = staleAfterMs(env);
    const reclaimed = await reclaim(getDeps(), after === undefined ? {} : { staleAfterMs: after });
    if (reclaimed.length) console.log(JSON.stringify({ msg: 'reclaimed stale work requests', reclaimed }));
    return { reclaimed };
  };
}

export const handler = watchdogHandler(getDeps);
