/**
 * The scheduler (a queue consumer plus a periodic fallback): assigns pending Worker requests to
 * workers and hands server-side ones (workflows, callbacks, waits, Server tasks) to their runners.
 * A scheduling pass is bounded: it reads a fixed number of candidates per worker and
 * partition, never the whole backlog.
 */
import { bump, effectivePriority, type WorkRequest } from '../domain/work-requests';
import { hasSpareCapacity, workerArchitectures, effectiveMetadata, type Worker } from '../domain/workers';
import { freeSlotVerdict } from '../domain/free-slots';
import { cannotRunReason, findTask, validateTaskData } from '../tasks';
import type { CandidatePartitions, Deps, SlotChange } from '../ports';
import { lookupContextOf, rootWorkflowOf } from './acting-as';
import { ignoreConflict } from './concurrency';
import { isWorkRequestChanged } from '../domain/errors';
import { runEventReactions } from './event-reactions';
import { finish, finishInError, notifyWorker, startServerSide } from './lifecycle';
import { resolveLookupMultiple } from './lookups';
import { isCreatorDisabled } from './user-status';
import { acceptsNewWork } from '../domain/machines';
import { machineAskedForWork } from './machines';

/** Candidates read per partition and shard per assignment: the bound that keeps reads flat. */
export const CANDIDATES_PER_PARTITION = 10;
/** Requests handled per pass for server-side task types (the rest wait for the next event). */
const SERVER_SIDE_BATCH = 25;

export interface ScheduleSummary {
  assigned: { workRequestId: number; worker: string }[];
  completed: number[];
  started: number[];
}

/**
 * How a pass reads. An event's pass trusts the candidate markers (it skips partitions known to be
 * empty with one read) and leaves due waits to the periodic pass; the periodic pass reads every
 * partition (repairing the markers) and completes due waits: the fallback for anything an event missed.
 */
export interface PassOptions {
  /** Default true. False: every partition is read whatever its marker says. */
  trustMarkers?: boolean;
  /** Default true. False: due waits are checked only if this pass started a wait. */
  dueWaits?: boolean;
}

/** What the scheduler runs for a batch of events, and on its periodic tick. */
export const EVENT_PASS: PassOptions = { trustMarkers: true, dueWaits: false };
export const TICK_PASS: PassOptions = { trustMarkers: false, dueWaits: true };

export async function schedule(deps: Deps, opts: PassOptions = {}): Promise<ScheduleSummary> {
  const summary: ScheduleSummary = { assigned: [], completed: [], started: [] };
  const trusted = opts.trustMarkers ?? true;
  // Disabled creators, read once per creator per pass (REANA: a disabled user's work does not start).
  const disabledOwners = new Map<string, boolean>();
  // Independent reads, in parallel: which partitions may hold work, and which workers may take it.
  const [partitions, freeWorkers] = await Promise.all([deps.workRequests.candidatePartitions({ trusted }), workersWithFreeSlots(deps)]);
  await startWorkflows(deps, summary, disabledOwners, partitions);
  await runInternalTasks(deps, summary, disabledOwners, partitions);
  const startedWaits = await startWaitTasks(deps, summary, partitions);
  if ((opts.dueWaits ?? true) || startedWaits) await completeDueWaits(deps, summary);
  await startServerTasks(deps, summary, disabledOwners, partitions);
  if (freeWorkers.length === 0) return summary;
  // What the server-side steps finished may have made Worker requests pending: look at the markers again.
  const workerPartitions = summary.completed.length > 0 ? await deps.workRequests.candidatePartitions({ trusted }) : partitions;
  const workers = freeWorkers.sort(byLoadThenConnected);
  // Pending partitions found empty in this pass are not read again for the next worker (keyed by architecture, '-' for none).
  const emptyPartitions = new Set<string>();
  for (const worker of workers) {
    summary.assigned.push(...(await scheduleForWorker(deps, worker, { disabledOwners, emptyPartitions, partitions: workerPartitions })));
  }
  return summary;
}

/**
 * The free-slot index, checked: entries that cannot take work (stale, full, disabled, offline,
 * disconnected) are dropped from the index and skipped. Reads grow with the workers that may take
 * work, not with every registered worker.
 */
export async function workersWithFreeSlots(deps: Deps): Promise<Worker[]> {
  const now = deps.clock.now();
  const usable: Worker[] = [];
  for (const worker of await deps.workers.withFreeSlots()) {
    const verdict = freeSlotVerdict(worker, now);
    if (verdict === 'usable') usable.push(worker);
    else await deps.workers.dropFromFreeSlots(worker, verdict);
  }
  return usable;
}

/** Least loaded first spreads work; then the longest connected (Debusine orders by connected_at). */
export function byLoadThenConnected(a: Worker, b: Worker): number {
  return a.assigned / a.concurrency - b.assigned / b.concurrency || (a.connectedAt ?? '').localeCompare(b.connectedAt ?? '');
}

function byPriorityThenAge(a: WorkRequest, b: WorkRequest): number {
  return effectivePriority(b) - effectivePriority(a) || a.createdAt.localeCompare(b.createdAt) || a.id - b.id;
}

/**
 * Fills a worker's free slots with the best pending requests it can run. `notify: false` is the
 * worker's own get-next pulling work: it is answered directly, so no queue message is sent.
 * `disabledOwners` caches, for one pass, whether a request's creator is disabled.
 */
export async function scheduleForWorker(
  deps: Deps,
  initial: Worker,
  opts: {
    /**
     * The order candidates are tried in, given them sorted by priority then age (default: that order).
     * Completions pulling at once try different ones first (shared/app/pull-spread.ts).
     */
    order?: (sorted: WorkRequest[]) => WorkRequest[];
    /** Called when the worker turned out full (someone else filled its free slot meanwhile). */
    onFull?: () => void;
    notify?: boolean;
    disabledOwners?: Map<string, boolean>;
    emptyPartitions?: Set<string>;
    partitions?: CandidatePartitions;
    /** Receives each request as the assignment committed it (get-next starts it without reading it back). */
    onAssigned?: (committed: WorkRequest) => void;
    /** At most this many assignments (the create path offers one slot); default: every free slot. */
    maxAssignments?: number;
    /**
     * A new request not stored yet (the create path's, create-offer.ts): a candidate like the read
     * ones, in the same order. Taking it is `commit` (its create, already assigned, with the slot);
     * it is never finished in error here: left out, it is created pending and a pass does that.
     */
    offered?: { request: WorkRequest; commit: (assigned: WorkRequest, slot: SlotChange) => Promise<void> };
  } = {},
): Promise<{ workRequestId: number; worker: string }[]> {
  const disabledOwners = opts.disabledOwners ?? new Map<string, boolean>();
  const assigned: { workRequestId: number; worker: string }[] = [];
  // A draining machine takes nothing; once its work is done it goes OFFLINE (QUIESCED) on this pass.
  if (initial.machineState === 'QUIESCING') {
    await machineAskedForWork(deps, initial);
    return assigned;
  }
  let worker = initial;
  const architectures = [...workerArchitectures(effectiveMetadata(worker)), null];
  const skipped = new Set<number>();
  // A QUIESCING or OFFLINE machine gets no new work (Launchpad's shouldLookForJob).
  while (hasSpareCapacity(worker) && acceptsNewWork(worker.machineState) && assigned.length < (opts.maxAssignments ?? Infinity)) {
    const read = await readCandidates(deps, architectures, opts.emptyPartitions, opts.partitions);
    const candidates = (opts.offered ? [...read, opts.offered.request] : read).filter((wr) => !skipped.has(wr.id)).sort(byPriorityThenAge);
    let taken = false;
    for (const wr of opts.order ? opts.order(candidates) : candidates) {
      skipped.add(wr.id);
      if (await isCreatorDisabled(deps, wr.createdBy, disabledOwners)) continue;
      const task = findTask(wr.taskType, wr.taskName);
      let data: Record<string, unknown>;
      try {
        if (!task) throw new Error(`task ${wr.taskType}/${wr.taskName} is not registered`);
        data = validateTaskData(task, wr.taskData);
      } catch (err) {
        // Debusine behaviour 17: a request whose task cannot be configured ends in error.
        if (wr !== opts.offered?.request) await finishInError(deps, wr, 'configure-failed', err);
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
          if (wr !== opts.offered?.request) await finishInError(deps, wr, 'dynamic-data-failed', err);
          continue;
        }
      }
      // What the commit writes: the scheduler goes on with it, without reading it back.
      const committed = bump(wr, { worker: worker.name, assignedAt: now, dynamicTaskData });
      // What we read of the worker: filling its last slot also takes it out of the free-slot index.
      const slot: SlotChange = { worker: worker.name, delta: 1, seen: { assigned: worker.assigned, concurrency: worker.concurrency }, workRequestId: wr.id };
      try {
        if (wr === opts.offered?.request) await opts.offered.commit(committed, slot);
        else await deps.workRequests.commit({ update: [{ workRequest: committed, expectedVersion: wr.version }], slots: [slot] });
      } catch (err) {
        ignoreConflict(err);
        // Either the request went elsewhere (try the next) or the worker filled up (re-read it).
        // The request went elsewhere: the worker's slot is as read, so the next candidate is tried without a re-read.
        if (isWorkRequestChanged(err)) continue;
        const fresh = await deps.workers.get(worker.name);
        if (!fresh || !fresh.enabled || !hasSpareCapacity(fresh)) {
          if (fresh?.enabled) opts.onFull?.();
          return assigned;
        }
        worker = fresh;
        continue;
      }
      worker = { ...worker, assigned: worker.assigned + 1 };
      const effects = await runEventReactions(deps, committed, 'on_assignment');
      if (effects.skipReason) {
        // Debusine behaviour 20: the request never runs; it completes as skipped.
        const current = (await deps.workRequests.get(wr.id))!;
        await finish(deps, current, { status: 'completed', result: 'skipped', outputData: { skip_reason: effects.skipReason }, releaseSlot: true }).catch(ignoreConflict);
        worker = { ...worker, assigned: worker.assigned - 1 };
        continue;
      }
      assigned.push({ workRequestId: wr.id, worker: worker.name });
      opts.onAssigned?.(committed);
      if (opts.notify ?? true) await notifyWorker(deps, worker, { type: 'work_request_available', workRequestId: wr.id });
      taken = true;
      break;
    }
    if (!taken) break;
  }
  return assigned;
}

/**
 * The best pending Worker requests of the worker's architectures (and of none), skipping the
 * partitions this pass already found empty.
 */
async function readCandidates(
  deps: Deps,
  architectures: (string | null)[],
  emptyPartitions?: Set<string>,
  partitions?: CandidatePartitions,
): Promise<WorkRequest[]> {
  const unknown = architectures.filter((arch) => !emptyPartitions?.has(arch ?? '-'));
  const lists = await Promise.all(unknown.map((arch) => deps.workRequests.pendingCandidates('Worker', arch, CANDIDATES_PER_PARTITION, partitions)));
  unknown.forEach((arch, i) => {
    if (lists[i]!.length === 0) emptyPartitions?.add(arch ?? '-');
  });
  return lists.flat();
}

/** Lookups in the task data become artifact ids, resolved as the request's creator. */
async function computeDynamicData(deps: Deps, wr: WorkRequest, task: NonNullable<ReturnType<typeof findTask>>, data: Record<string, unknown>) {
  const ctx = await lookupContextOf(deps, wr);
  return task.computeDynamicData!(data, async (lookup) =>
    (await resolveLookupMultiple(deps, ctx, lookup, 'artifact')).flatMap((r) => (r.artifact !== null ? [r.artifact] : [])),
  );
}

/**
 * Debusine behaviour 18: a pending synchronization point completes at once, unblocking its
 * dependents; a workflow callback that became pending goes to the orchestrator.
 */
async function runInternalTasks(deps: Deps, summary: ScheduleSummary, disabledOwners: Map<string, boolean>, partitions: CandidatePartitions): Promise<void> {
  for (const wr of await deps.workRequests.pendingCandidates('Internal', null, SERVER_SIDE_BATCH, partitions)) {
    if (wr.taskName === 'synchronization_point') {
      await finish(deps, wr, { status: 'completed', result: 'success' }).then(() => summary.completed.push(wr.id), ignoreConflict);
    } else if (wr.taskName === 'workflow') {
      // A callback acts for the workflow's creator: a disabled creator's waits until it is enabled.
      if (await isCreatorDisabled(deps, wr.createdBy, disabledOwners)) continue;
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
async function startWorkflows(deps: Deps, summary: ScheduleSummary, disabledOwners: Map<string, boolean>, partitions: CandidatePartitions): Promise<void> {
  for (const wr of await deps.workRequests.pendingCandidates('Workflow', null, SERVER_SIDE_BATCH, partitions)) {
    if (wr.parent !== null) continue;
    if (await isCreatorDisabled(deps, wr.createdBy, disabledOwners)) continue;
    await handOff(deps, wr, summary, () => deps.queues.enqueueOrchestration({ rootId: wr.id, kind: 'populate', workRequestId: wr.id }));
  }
}

/** Starts pending waits (the pass then completes due ones, these included); returns whether it started any. */
async function startWaitTasks(deps: Deps, summary: ScheduleSummary, partitions: CandidatePartitions): Promise<boolean> {
  let started = false;
  for (const wr of await deps.workRequests.pendingCandidates('Wait', null, SERVER_SIDE_BATCH, partitions)) {
    if (await handOff(deps, wr, summary, async () => {})) started = true;
  }
  return started;
}

/** Debusine behaviour 19: `Wait/delay` completes once `delay_until` has passed. */
async function completeDueWaits(deps: Deps, summary: ScheduleSummary): Promise<void> {
  const now = deps.clock.now().toISOString();
  for (const wr of await deps.workRequests.dueWaits(now, SERVER_SIDE_BATCH)) {
    if (summary.completed.includes(wr.id)) continue;
    await finish(deps, wr, { status: 'completed', result: 'success' }).then(() => summary.completed.push(wr.id), ignoreConflict);
  }
}

async function startServerTasks(deps: Deps, summary: ScheduleSummary, disabledOwners: Map<string, boolean>, partitions: CandidatePartitions): Promise<void> {
  for (const wr of await deps.workRequests.pendingCandidates('Server', null, SERVER_SIDE_BATCH, partitions)) {
    // Like Worker requests: a disabled creator's server tasks stay pending until it is enabled.
    if (await isCreatorDisabled(deps, wr.createdBy, disabledOwners)) continue;
    await handOff(deps, wr, summary, () => deps.queues.enqueueServerTask({ workRequestId: wr.id }));
  }
}
