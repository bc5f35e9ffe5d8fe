/**
 * Which candidate a completion's pull tries first (issue 12, bench/RESULTS-contention.md): workers
 * completing at once read the same candidates, and all trying the oldest, all but one lose a
 * conditional write. Each tries first one of the best equal-priority candidates, then the usual order.
 */
import { effectivePriority, type WorkRequest } from '../domain/work-requests';
import type { IdGenerator } from '../ports';

/** Picks an index in [0, n): the candidate a pulling worker tries first. */
export type SpreadPick = (n: number) => number;

/** How many of the best equal-priority candidates a pulling worker chooses its first try from. */
export const SPREAD_CANDIDATES = 8;

/** A pick from the deps' random ids (the memory model's counting ids make it deterministic). */
export function pickWith(ids: IdGenerator): SpreadPick {
  return (n) => {
    let hash = 0;
    for (const char of ids.random()) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
    return hash % n;
  };
}

/**
 * Candidates (sorted best first) with one of the first SPREAD_CANDIDATES of the best priority moved
 * to the front, chosen by `pick`. Priority order holds: only requests of the best priority are
 * chosen among, and after the first try the order is priority then age again.
 */
export function spreadFirst(sorted: WorkRequest[], pick: SpreadPick): WorkRequest[] {
  const best = sorted[0];
  if (!best) return sorted;
  let equal = 1;
  while (equal < Math.min(sorted.length, SPREAD_CANDIDATES) && effectivePriority(sorted[equal]!) === effectivePriority(best)) equal++;
  const chosen = Math.min(equal - 1, Math.max(0, Math.floor(pick(equal))));
  return [sorted[chosen]!, ...sorted.slice(0, chosen), ...sorted.slice(chosen + 1)];
}
