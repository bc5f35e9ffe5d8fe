/**
 * Part (f): the local stack's emulators restarted mid-run. The real local stack (`conveyor dev`, as
 * the e2e tier starts it) with two real `conveyor worker` processes and a steady stream of `sleep`
 * requests; DynamoDB Local and (separately) the SQS emulator are restarted in place again and again
 * (`POST /@local/emulators/NAME/restart`, cli/dev/restarts.ts) while requests wait and run. Nobody
 * touches the workers. Afterwards every work request the stack holds must have ended completed
 * (itself, or the successor the watchdog made when it reclaimed it): a request that did not is lost.
 */
import { E2eHarness, WORKSPACE, isFinished } from '../test/e2e/harness';
import type { FetchClientResponse } from '../test/e2e/http-client';
import { waitFor } from '../test/e2e/worker-process';
import type { RestartableEmulator } from '../cli/dev/emulators';
import { KILL_STACK_ENV } from './worker-kills';

export const RESTART_SLEEP_SECONDS = 1;
/** A new request this often while the run lasts (requests pile up while an emulator is down). */
const CREATE_EVERY_MS = 2_000;
/** Load before each restart, so that requests are pending, assigned and running when it comes. */
const LOAD_BEFORE_RESTART_MS = 6_000;
/** Every request must have finished this long after the last restart recovered. */
const DRAIN_TIMEOUT_MS = 300_000;

export interface RestartRound {
  emulator: RestartableEmulator;
  /** The restart call itself: stop, start, answer again, queues provisioned (wall-clock). */
  downSeconds: number | null;
  /** From the restart's start to the first request completed after the emulator was back. */
  recoverySeconds: number | null;
}

export interface RestartResult {
  restartsPerEmulator: number;
  rounds: RestartRound[];
  /** Work requests the API numbered from the stream's first on (successors of reclaims not counted: they are followed). */
  requests: number;
  /** Created requests that ended completed/success, themselves or through a successor. */
  completed: number;
  /** Requests that did not: must be 0. */
  lost: { id: number; outcome: string }[];
  /** Requests the watchdog reclaimed (aborted, retried as a successor) on the way. */
  reclaimed: number;
  /** Creations the API refused while an emulator was down (the client tried again; not requests). */
  refusedCreations: number;
  errors: string[];
  seconds: number;
}

export async function runEmulatorRestarts(restartsPerEmulator: number): Promise<RestartResult> {
  const started = Date.now();
  const result: RestartResult = { restartsPerEmulator, rounds: [], requests: 0, completed: 0, lost: [], reclaimed: 0, refusedCreations: 0, errors: [], seconds: 0 };
  const h = new E2eHarness({ tmpPrefix: 'conveyor-reliability-restarts-', dirs: [] });
  /** Completion times (server clock = this host's) of requests seen completed, by id. */
  const completedAt = new Map<number, number>();
  const created: number[] = [];
  let streaming = true;
  const get = async (id: number): Promise<FetchClientResponse> => h.api('GET', `work-request/${id}/`, 'contributor');
  try {
    await h.start(KILL_STACK_ENV);
    await h.startWorkers(['restart-0.reliability.test', 'restart-1.reliability.test']);

    const stream = (async () => {
      while (streaming) {
        const res = await h
          .api('POST', 'work-request/', 'contributor', { task_name: 'sleep', task_data: { seconds: RESTART_SLEEP_SECONDS }, workspace: WORKSPACE })
          .catch(() => undefined);
        if (res?.status === 200) created.push(res.json.id as number);
        else result.refusedCreations++;
        await delay(CREATE_EVERY_MS);
      }
    })();
    /** Requests seen finished (completed, or aborted: a reclaim's successor is followed at the end). */
    const finished = new Set<number>();
    const watcher = (async () => {
      while (streaming) {
        for (const id of created.filter((i) => !finished.has(i))) {
          const res = await get(id).catch(() => undefined);
          if (res?.status !== 200 || !isFinished(res.json)) continue;
          finished.add(id);
          if (res.json.status === 'completed') completedAt.set(id, Date.parse(res.json.completed_at as string));
        }
        await delay(500);
      }
    })();

    try {
      const order: RestartableEmulator[] = [];
      for (let i = 0; i < restartsPerEmulator; i++) order.push('dynamodb', 'sqs');
      for (const emulator of order) {
        await delay(LOAD_BEFORE_RESTART_MS);
        const round: RestartRound = { emulator, downSeconds: null, recoverySeconds: null };
        result.rounds.push(round);
        const restartAt = Date.now();
        const res = await fetch(`${h.stack!.url}/@local/emulators/${emulator}/restart`, { method: 'POST', headers: { Token: h.stack!.adminToken } });
        const backAt = Date.now();
        if (res.status !== 200) {
          result.errors.push(`restarting ${emulator} answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
          continue;
        }
        round.downSeconds = (backAt - restartAt) / 1000;
        try {
          // The next request completed once the emulator is back (the stream keeps creating them).
          await waitFor(
            `a request to complete after ${emulator} restarted`,
            async () => [...completedAt.values()].filter((t) => t >= backAt),
            (after) => after.length > 0,
            { timeoutMs: 180_000, describe: h.diagnostics },
          );
          round.recoverySeconds = (Math.min(...[...completedAt.values()].filter((t) => t >= backAt)) - restartAt) / 1000;
        } catch (err) {
          result.errors.push(`${emulator} restart ${result.rounds.length}: ${(err as Error).message.slice(0, 500)}`);
        }
      }
    } finally {
      streaming = false;
      await stream;
    }
    await watcher;
    await drainAndCount(h, created, result, get);
  } catch (err) {
    result.errors.push(String((err as Error).stack ?? err).slice(0, 1000));
  } finally {
    streaming = false;
    await h.stop().catch((err: unknown) => result.errors.push(`stopping the stack: ${String(err)}`));
  }
  result.seconds = (Date.now() - started) / 1000;
  return result;
}

/**
 * Every work request from the first created to the last one the stack numbered (successors, and
 * any request whose creation answered an error but was stored all the same) must end completed,
 * itself or through its successors.
 */
async function drainAndCount(h: E2eHarness, created: number[], result: RestartResult, get: (id: number) => Promise<FetchClientResponse>): Promise<void> {
  if (created.length === 0) throw new Error('the stream created no request');
  const first = Math.min(...created);
  const finalOutcome = async (id: number): Promise<string> => {
    for (let current: number | null = id; current !== null; ) {
      const wr: any = await waitFor(`work request ${current} to finish`, async (): Promise<any> => (await get(current!)).json, isFinished, { timeoutMs: DRAIN_TIMEOUT_MS, describe: h.diagnostics });
      if (wr.status === 'completed') return `${wr.status}/${wr.result}`;
      if (!wr.superseded_by) return `${wr.status}/${wr.result}`;
      result.reclaimed++;
      current = wr.superseded_by as number;
    }
    return 'unknown';
  };
  // Ids come from one counter, but a gap is possible (an id drawn by a creation that then failed).
  const last = Math.max(...created);
  for (let id = first, missesPastLast = 0; missesPastLast < 20; id++) {
    const res = await get(id);
    if (res.status === 404) {
      if (id > last) missesPastLast++;
      continue;
    }
    if (res.status !== 200) throw new Error(`GET work-request/${id}/ answered ${res.status}: ${res.text.slice(0, 300)}`);
    missesPastLast = 0;
    // A successor is followed from the request it replaces.
    if (res.json.supersedes) continue;
    result.requests++;
    const outcome = await finalOutcome(id);
    if (outcome === 'completed/success') result.completed++;
    else result.lost.push({ id, outcome });
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolveDelay) => setTimeout(resolveDelay, ms));
}
