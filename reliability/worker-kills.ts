/**
 * Part (d): a worker killed mid-task, again and again. The real local stack (`conveyor dev`, as the
 * e2e tier starts it) with two real `conveyor worker` processes; each round creates a `sleep`
 * request, waits until its task process runs on one worker, kills that worker's whole process
 * group with SIGKILL (a crashed machine), and waits until the watchdog reclaims the request and the
 * other worker completes its successor. A new worker then takes the dead one's place.
 * Times to recovery come from the server's own timestamps (same host as the kill's clock).
 */
import { E2eHarness, isFinished, WORKSPACE } from '../test/e2e/harness';
import { waitFor, type WorkerProcess } from '../test/e2e/worker-process';

/**
 * The watchdog's staleness limit here: workers heartbeat every second, but on a 2-core machine with a
 * load average of 50 a task took 15 s to start and a 10 s limit reclaimed a live worker's request.
 */
export const KILL_STACK_ENV = { CONVEYOR_DEV_SCHEDULE_SECONDS: '1', CONVEYOR_WATCHDOG_STALE_SECONDS: '30' };
/**
 * No new round starts after this long (the stack's start not counted): the report says how many ran.
 * Per requested kill, so that the full run's 20 kills all run (a round took about 40 s at load 23:
 * 30 s of staleness, then the work done again); `RELIABILITY_KILL_BUDGET_SECONDS` sets the total.
 */
export const KILL_TIME_BUDGET_MS_PER_KILL = 90_000;
export function killTimeBudgetMs(kills: number): number {
  const total = process.env['RELIABILITY_KILL_BUDGET_SECONDS'];
  return total !== undefined ? Number(total) * 1000 : kills * KILL_TIME_BUDGET_MS_PER_KILL;
}
export const SLEEP_SECONDS = 3;

export interface KillRound {
  request: number;
  successor: number | null;
  reclaimedSeconds: number | null;
  completedSeconds: number | null;
  result: string;
}

export interface KillResult {
  /** Rounds run (fewer than requested when the time budget ran out). */
  kills: number;
  /** The time budget of the rounds. */
  budgetMs: number;
  requested: number;
  reclaimed: number;
  completed: number;
  rounds: KillRound[];
  errors: string[];
  seconds: number;
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : NaN;
};
export const p50 = (v: number[]) => percentile(v, 50);
export const max = (v: number[]) => (v.length ? Math.max(...v) : NaN);

export async function runWorkerKills(kills: number): Promise<KillResult> {
  const started = Date.now();
  const result: KillResult = { kills: 0, requested: kills, budgetMs: killTimeBudgetMs(kills), reclaimed: 0, completed: 0, rounds: [], errors: [], seconds: 0 };
  const h = new E2eHarness({ tmpPrefix: 'conveyor-reliability-kills-', dirs: [] });
  const get = async (id: number) => {
    const res = await h.api('GET', `work-request/${id}/`, 'contributor');
    if (res.status !== 200) throw new Error(`GET work-request/${id}/ answered ${res.status}: ${res.text.slice(0, 300)}`);
    return res.json;
  };
  const until = (id: number, what: string, done: (wr: any) => boolean) => waitFor(`work request ${id} ${what}`, () => get(id), done, { timeoutMs: 180_000 });
  try {
    await h.start(KILL_STACK_ENV);
    let live: WorkerProcess[] = await h.startWorkers(['kill-0.reliability.test', 'kill-1.reliability.test']);
    const budgetEnds = Date.now() + result.budgetMs;
    for (let round = 0; round < kills && Date.now() < budgetEnds; round++) {
      result.kills++;
      const created = await h.api('POST', 'work-request/', 'contributor', { task_name: 'sleep', task_data: { seconds: SLEEP_SECONDS }, workspace: WORKSPACE });
      if (created.status !== 200) throw new Error(`creating a sleep request answered ${created.status}: ${created.text.slice(0, 300)}`);
      const id = created.json.id as number;
      const running = await until(id, 'to run', (wr) => wr.status === 'running' && wr.worker_name !== null);
      const victim = live.find((w) => w.name === running.worker_name);
      if (!victim) throw new Error(`request ${id} runs on ${running.worker_name}, not one of ${live.map((w) => w.name).join(', ')}`);
      // Mid-task: the task process has started and printed its first line.
      await victim.waitForLog(new RegExp(`\\[${id}\\] sleep:`), 180_000);
      const killedAt = Date.now();
      await victim.kill9();
      live = live.filter((w) => w !== victim);
      // The dead worker's place is taken by a new one, started now: it is ready for the next round.
      const replacement = h.startWorkers([`kill-${round + 2}.reliability.test`]);
      const entry: KillRound = { request: id, successor: null, reclaimedSeconds: null, completedSeconds: null, result: 'not recovered' };
      result.rounds.push(entry);
      try {
        const reclaimed = await until(id, 'to be reclaimed', isFinished);
        if (reclaimed.status === 'aborted' && reclaimed.superseded_by) {
          result.reclaimed++;
          entry.successor = reclaimed.superseded_by;
          entry.reclaimedSeconds = (Date.parse(reclaimed.completed_at) - killedAt) / 1000;
          const successor = await until(reclaimed.superseded_by, 'to finish', isFinished);
          entry.result = `${successor.status}/${successor.result}`;
          if (successor.status === 'completed' && successor.result === 'success') {
            result.completed++;
            entry.completedSeconds = (Date.parse(successor.completed_at) - killedAt) / 1000;
          }
        } else {
          entry.result = `original ended ${reclaimed.status}/${reclaimed.result} without a successor`;
        }
      } catch (err) {
        result.errors.push(`round ${round}: ${(err as Error).message.slice(0, 500)}`);
      }
      live.push(...(await replacement));
    }
  } catch (err) {
    result.errors.push(String((err as Error).stack ?? err).slice(0, 1000));
  } finally {
    await h.stop().catch((err: unknown) => result.errors.push(`stopping the stack: ${String(err)}`));
  }
  result.seconds = (Date.now() - started) / 1000;
  return result;
}
