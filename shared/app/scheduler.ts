/**
 * The scheduler (a queue consumer plus a periodic fallback), the heartbeat applier and the
 * watchdog. A scheduling pass is bounded: it reads a fixed number of candidates per worker and
 * partition, never the whole backlog.
 */
import { ConflictError } from '../domain/errors';
import { effectivePriority, type WorkRequest } from '../domain/work-requests';
import { hasSpareCapacity, isConnected, workerArchitectures, effectiveMetadata, type Worker } from '../domain/workers';
import { cannotRunReason, findTask, validateTaskData } from '../tasks';
import type { Deps, HeartbeatMessage } from '../ports';
import { bump, finish, reclaim, startServerSide } from './lifecycle';
import { notifyWorker } from './work-requests';
import { creatorCaller, rootWorkflowOf, runEventReactions } from './event-reactions';
import { resolveLookupMultiple } from './lookups';

/** Candidates read per partition and shard per assignment: the bound that keeps reads flat. */
export const CANDIDATES_PER_PARTITION = 10;
/** Requests handled per pass for server-side task types (the rest wait for the next event). */
const SERVER_SIDE_BATCH = 25;
export const DEFAULT_STALE_AFTER_MS = 300_000;

export interface ScheduleSummary {
  assigned: { workRequestId: number; worker: string }[];
  completed: number[];
  started: number[];
}

export async function schedule(deps: Deps): Promise<ScheduleSummary> {
  const summary: ScheduleSummary = { assigned: [], completed: [], started: [] };
  await startWorkflows(deps, summary);
  await runInternalTasks(deps, summary);
  await startWaitTasks(deps, summary);
  await startServerTasks(deps, summary);
  const now = deps.clock.now();
  const workers = (await deps.workers.list())
    .filter((w) => w.enabled && isConnected(w, now) && hasSpareCapacity(w))
    // Least loaded first spreads work; then the longest connected (Debusine orders by connected_at).
    .sort((a, b) => a.assigned / a.concurrency - b.assigned / b.concurrency || (a.connectedAt ?? '').localeCompare(b.connectedAt ?? ''));
  for (const worker of workers) {
    summary.assigned.push(...(await scheduleForWorker(deps, worker)));
  }
  return summary;
}

function byPriorityThenAge(a: WorkRequest, b: WorkRequest): number {
  return effectivePriority(b) - effectivePriority(a) || a.createdAt.localeCompare(b.createdAt) || a.id - b.id;
}

/**
 * Fills a worker's free slots with the best pending requests it can run. `notify: false` is the
 * worker's own get-next pulling work: it is answered directly, so no queue message is sent.
 */
export async function scheduleForWorker(deps: Deps, initial: Worker, opts: { notify?: boolean } = {}): Promise<{ workRequestId: number; worker: string }[]> {
  const assigned: { workRequestId: number; worker: string }[] = [];
  let worker = initial;
  const architectures = [...workerArchitectures(effectiveMetadata(worker)), null];
  const skipped = new Set<number>();
  while (hasSpareCapacity(worker)) {
    const lists = await Promise.all(architectures.map((arch) => deps.workRequests.pendingCandidates('Worker', arch, CANDIDATES_PER_PARTITION)));
    const candidates = lists.flat().filter((wr) => !skipped.has(wr.id)).sort(byPriorityThenAge);
    let taken = false;
    for (const wr of candidates) {
      skipped.add(wr.id);
      const task = findTask(wr.taskType, wr.taskName);
      let data: Record<string, unknown>;
      try {
        if (!task) throw new Error(`task ${wr.taskType}/${wr.taskName} is not registered`);
        data = validateTaskData(task, wr.taskData);
      } catch (err) {
        // Debusine behaviour 17: a request whose task cannot be configured ends in error.
        await finish(deps, wr, {
          status: 'completed',
          result: 'error',
          error: { code: 'configure-failed', message: err instanceof Error ? err.message : String(err) },
        }).catch(ignoreConflict);
        continue;
      }
      if (cannotRunReason(task, data, worker)) continue;
      const now = deps.clock.now().toISOString();
      let dynamicTaskData = wr.dynamicTaskData;
      if (task.computeDynamicData) {
        try {
          dynamicTaskData = await computeDynamicData(deps, wr, task, data);
        } catch (err) {
          // Debusine: assignment errors are recorded, the request ends in error (#589).
          await finish(deps, wr, {
            status: 'completed',
            result: 'error',
            error: { code: 'dynamic-data-failed', message: err instanceof Error ? err.message : String(err) },
          }).catch(ignoreConflict);
          continue;
        }
      }
      try {
        await deps.workRequests.commit({
          update: [{ workRequest: bump(wr, { worker: worker.name, assignedAt: now, dynamicTaskData }), expectedVersion: wr.version }],
          slots: [{ worker: worker.name, delta: 1 }],
        });
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        // Either the request went elsewhere (try the next) or the worker filled up (re-read it).
        const fresh = await deps.workers.get(worker.name);
        if (!fresh || !fresh.enabled || !hasSpareCapacity(fresh)) return assigned;
        worker = fresh;
        continue;
      }
      worker = { ...worker, assigned: worker.assigned + 1 };
      const effects = await runEventReactions(deps, (await deps.workRequests.get(wr.id))!, 'on_assignment');
      if (effects.skipReason) {
        // Debusine behaviour 20: the request never runs; it completes as skipped.
        const current = (await deps.workRequests.get(wr.id))!;
        await finish(deps, current, { status: 'completed', result: 'skipped', outputData: { skip_reason: effects.skipReason }, releaseSlot: true }).catch(ignoreConflict);
        worker = { ...worker, assigned: worker.assigned - 1 };
        continue;
      }
      assigned.push({ workRequestId: wr.id, worker: worker.name });
      if (opts.notify ?? true) await notifyWorker(deps, worker.name, { type: 'work_request_available', workRequestId: wr.id });
      taken = true;
      break;
    }
    if (!taken) break;
  }
  return assigned;
}

function ignoreConflict(err: unknown): void {
  if (!(err instanceof ConflictError)) throw err;
}

/** Lookups in the task data become artifact ids, resolved as the request's creator. */
async function computeDynamicData(deps: Deps, wr: WorkRequest, task: NonNullable<ReturnType<typeof findTask>>, data: Record<string, unknown>) {
  const root = await rootWorkflowOf(deps, wr);
  const ctx = { scope: wr.scope, workspace: wr.workspace, caller: await creatorCaller(deps, wr), workflowRootId: root?.id };
  return task.computeDynamicData!(data, async (lookup) =>
    (await resolveLookupMultiple(deps, ctx, lookup, 'artifact')).flatMap((r) => (r.artifact !== null ? [r.artifact] : [])),
  );
}

/**
 * Debusine behaviour 18: a pending synchronization point completes at once, unblocking its
 * dependents; a workflow callback that became pending goes to the orchestrator.
 */
async function runInternalTasks(deps: Deps, summary: ScheduleSummary): Promise<void> {
  for (const wr of await deps.workRequests.pendingCandidates('Internal', null, SERVER_SIDE_BATCH)) {
    if (wr.taskName === 'synchronization_point') {
      await finish(deps, wr, { status: 'completed', result: 'success' }).then(() => summary.completed.push(wr.id), ignoreConflict);
    } else if (wr.taskName === 'workflow') {
      const root = await rootWorkflowOf(deps, wr);
      if (!root) continue;
      await handOff(deps, wr, summary, () => deps.queues.enqueueOrchestration({ rootId: root.id, kind: 'callback', workRequestId: wr.id }));
    }
  }
}

/**
 * Hands a server-side request to its runner, then marks it running. In that order, a lost hand-off
 * (the send fails) leaves the request pending for the next pass; the runner starts a request it
 * receives still pending, and a duplicate hand-off finds it already running. Returns false when
 * another pass got there first.
 */
async function handOff(deps: Deps, wr: WorkRequest, summary: ScheduleSummary, send: () => Promise<void>): Promise<boolean> {
  await send();
  try {
    await startServerSide(deps, wr);
  } catch (err) {
    ignoreConflict(err);
    return false;
  }
  summary.started.push(wr.id);
  return true;
}

/** A pending root workflow starts running and goes to the orchestrator (sub-workflows run inline). */
async function startWorkflows(deps: Deps, summary: ScheduleSummary): Promise<void> {
  for (const wr of await deps.workRequests.pendingCandidates('Workflow', null, SERVER_SIDE_BATCH)) {
    if (wr.parent !== null) continue;
    await handOff(deps, wr, summary, () => deps.queues.enqueueOrchestration({ rootId: wr.id, kind: 'populate', workRequestId: wr.id }));
  }
}

/** Starts pending waits, then completes every due one (the new ones included). */
async function startWaitTasks(deps: Deps, summary: ScheduleSummary): Promise<void> {
  for (const wr of await deps.workRequests.pendingCandidates('Wait', null, SERVER_SIDE_BATCH)) await handOff(deps, wr, summary, async () => {});
  await completeDueWaits(deps, summary);
}

/** Debusine behaviour 19: `Wait/delay` completes once `delay_until` has passed. */
async function completeDueWaits(deps: Deps, summary: ScheduleSummary): Promise<void> {
  const now = deps.clock.now().toISOString();
  for (const wr of await deps.workRequests.dueWaits(now, SERVER_SIDE_BATCH)) {
    if (summary.completed.includes(wr.id)) continue;
    await finish(deps, wr, { status: 'completed', result: 'success' }).then(() => summary.completed.push(wr.id), ignoreConflict);
  }
}

async function startServerTasks(deps: Deps, summary: ScheduleSummary): Promise<void> {
  for (const wr of await deps.workRequests.pendingCandidates('Server', null, SERVER_SIDE_BATCH)) {
    await handOff(deps, wr, summary, () => deps.queues.enqueueServerTask({ workRequestId: wr.id }));
  }
}

/** Runs one Server task (in its own Lambda): success, failure, or error with `execute-failed`. */
export async function runServerTask(deps: Deps, workRequestId: number): Promise<void> {
  let wr = await deps.workRequests.get(workRequestId);
  if (!wr || wr.taskType !== 'Server') return;
  if (wr.status === 'pending' && wr.worker === null) {
    // Handed over before the scheduler marked it running: start it here (a lost race is fine).
    wr = await startServerSide(deps, wr).catch(async (err) => {
      ignoreConflict(err);
      return (await deps.workRequests.get(workRequestId))!;
    });
  }
  if (wr.status !== 'running') return; // replayed message
  const task = findTask('Server', wr.taskName);
  try {
    if (!task?.execute) throw new Error(`server task ${wr.taskName} is not registered`);
    const outcome = await task.execute(validateTaskData(task, wr.taskData), {
      dynamicData: wr.dynamicTaskData ?? {},
      workDir: '/tmp',
      log: () => undefined,
      signal: new AbortController().signal,
      downloadArtifact: () => Promise.reject(new Error('server tasks cannot download artifacts')),
      uploadArtifact: () => Promise.reject(new Error('server tasks cannot upload artifacts')),
      run: () => Promise.reject(new Error('server tasks cannot run programs')),
    });
    await finish(deps, wr, { status: 'completed', result: outcome.result, outputData: outcome.outputData }).catch(ignoreConflict);
  } catch (err) {
    await finish(deps, wr, {
      status: 'completed',
      result: 'error',
      error: { code: 'execute-failed', message: err instanceof Error ? err.message : String(err) },
    }).catch(ignoreConflict);
  }
}

/** Applies accepted heartbeats; each is conditional, so replays and stale ones change nothing. */
export async function applyHeartbeats(deps: Deps, messages: HeartbeatMessage[]): Promise<{ applied: number; ignored: number }> {
  // Within a batch only the newest heartbeat per request matters.
  const newest = new Map<number, HeartbeatMessage>();
  for (const m of messages) {
    const seen = newest.get(m.workRequestId);
    if (!seen || seen.at < m.at) newest.set(m.workRequestId, m);
  }
  let applied = 0;
  for (const m of newest.values()) if (await deps.workRequests.applyHeartbeat(m)) applied++;
  return { applied, ignored: messages.length - applied };
}

/**
 * The watchdog: running requests without a heartbeat for `staleAfterMs` are reclaimed and their
 * worker is marked disconnected (it evidently stopped talking); requests assigned to a
 * disconnected worker that never started go back to the queue.
 */
export async function reclaimStale(deps: Deps, opts: { staleAfterMs?: number } = {}): Promise<number[]> {
  const staleAfterMs = opts.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
  const now = deps.clock.now();
  const before = new Date(now.getTime() - staleAfterMs).toISOString();
  const reclaimed: number[] = [];
  const lostWorkers = new Set<string>();
  for (const wr of await deps.workRequests.staleRunning(before, 100)) {
    const fresh = await deps.workRequests.get(wr.id);
    if (!fresh || fresh.status !== 'running' || (fresh.heartbeatAt ?? fresh.startedAt ?? '') >= before) continue;
    try {
      await reclaim(deps, fresh, `no heartbeat from worker ${fresh.worker} for ${Math.round(staleAfterMs / 1000)} s`);
      reclaimed.push(fresh.id);
      if (fresh.worker) lostWorkers.add(fresh.worker);
    } catch (err) {
      ignoreConflict(err);
    }
  }
  for (const name of lostWorkers) {
    const w = await deps.workers.get(name);
    if (w && w.connectedAt !== null && (w.lastSeenAt ?? '') < before) {
      await deps.workers.update({ ...w, connectedAt: null, version: w.version + 1 }, w.version).catch(ignoreConflict);
    }
  }
  for (const w of await deps.workers.list()) {
    if (w.assigned === 0 || isConnected(w, now)) continue;
    for (const wr of await deps.workRequests.activeForWorker(w.name)) {
      if (wr.status !== 'pending') continue;
      await deps.workRequests
        .commit({
          update: [{ workRequest: bump(wr, { worker: null, assignedAt: null }), expectedVersion: wr.version }],
          slots: [{ worker: w.name, delta: -1 }],
        })
        .then(() => deps.queues.enqueueSchedulerEvent({ type: 'work-request-pending', workRequestId: wr.id }), ignoreConflict);
    }
  }
  if (reclaimed.length) await deps.queues.enqueueSchedulerEvent({ type: 'periodic' });
  return reclaimed;
}

/** How long a running workflow may go without the watchdog checking it is not stuck. */
export const WORKFLOW_RECONCILE_AFTER_MS = 5 * 60_000;

/**
 * Completing a request and settling what depends on it are separate writes: if a function dies
 * between them, a workflow could wait for ever. The watchdog asks the orchestrator to reconcile
 * running workflows started more than five minutes ago (the orchestrator re-reads their children
 * and settles or completes what it can; for a healthy workflow that changes nothing).
 */
export async function reconcileWorkflows(deps: Deps, opts: { quietAfterMs?: number; limit?: number } = {}): Promise<number[]> {
  const before = new Date(deps.clock.now().getTime() - (opts.quietAfterMs ?? WORKFLOW_RECONCILE_AFTER_MS)).toISOString();
  const ids: number[] = [];
  for (const wf of await deps.workRequests.runningWorkflows(before, opts.limit ?? 25)) {
    const root = (await rootWorkflowOf(deps, wf)) ?? wf;
    await deps.queues.enqueueOrchestration({ rootId: root.id, kind: 'reconcile', workRequestId: wf.id });
    ids.push(wf.id);
  }
  return ids;
}
