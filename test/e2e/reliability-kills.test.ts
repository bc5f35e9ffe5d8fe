/**
 * Part (d) of the reliability report (reliability/worker-kills.ts) at a reduced size: one real
 * worker killed mid-task on the local stack, reclaimed by the watchdog, its successor completed.
 * `npm run reliability` runs 20 rounds and reports the times to recovery.
 */
import { runWorkerKills } from '../../reliability/worker-kills';

jest.setTimeout(600_000);

it('(d) a worker killed mid-task: the request is reclaimed and its successor completes', async () => {
  const r = await runWorkerKills(1);
  expect(r.errors).toEqual([]);
  expect({ kills: r.kills, reclaimed: r.reclaimed, completed: r.completed }).toEqual({ kills: 1, reclaimed: 1, completed: 1 });
  const round = r.rounds[0]!;
  // The watchdog waits for the staleness limit before it reclaims: recovery cannot be faster.
  expect(round.reclaimedSeconds).toBeGreaterThan(0);
  expect(round.completedSeconds).toBeGreaterThanOrEqual(round.reclaimedSeconds!);
});
