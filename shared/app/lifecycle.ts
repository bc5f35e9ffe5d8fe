/**
 * The moves every work-request use case shares: finishing a request and what follows from it
 * (unblocking or aborting dependents), retrying it, and reclaiming it from a lost worker. Each
 * change is one conditional transaction; a lost race surfaces as ConflictError.
 */
import { noteUsageChange, workRequestEvent } from './accounting';
import type { FollowUpFailure } from './follow-ups';
import { ValidationError } from '../domain/errors';
import {
  assertTransition,
  bump,
  isFinished,
  mergeOutput,
  retryProblem,
  succeeded,
  successorDraft,
  unblockDecision,
  type FinalResult,
  type OutputData,
  type OutputError,
  type RetryReason,
  type WorkRequest,
} from '../domain/work-requests';
import type { Deps, PendingBatch, RecurringRunHooks, SlotChange, WorkerMessage, WorkRequestChanges } from '../ports';
import type { Worker } from '../domain/workers';
import { canRunTransition } from '../domain/run-status';
import { finishedRunStatus } from '../domain/workflows';
import { PROMISE_CATEGORY } from '../domain/collections';
import { delayedRetryOf } from '../domain/event-reactions';
import { recurringRunOf } from '../domain/recurring-run-ref';
import { rootWorkflowOf } from './acting-as';
import { ignoreConflict, withRetries } from './concurrency';
import { runEventReactions } from './event-reactions';
import { notifyCompletionListeners, notifyWorkerSockets } from './socket-notifications';

export interface FinishOptions {
  status: 'completed' | 'aborted';
  result?: FinalResult;
  outputData?: OutputData;
  error?: OutputError;
  abortedBy?: string;
  /** Give the worker's slot back (the request held one). */
  releaseSlot?: boolean;
  /** The worker itself refills the freed slot (get-next after its completion): no scheduler event. */
  slotRefilledByWorker?: boolean;
  extra?: WorkRequestChanges;
  /** Collects the follow-ups that failed after the commit (for the caller to report); they never undo it. */
  followUpFailures?: FollowUpFailure[];
}

export type { FollowUpFailure } from './follow-ups';

/**
 * Finishes a request: one conditional write (`commitFinish`, which a lost race makes throw
 * ConflictError), then its follow-ups (`followUpFinish`), which never throw: each is retried on
 * its own, and one that still fails is handed to the orchestrator where it can be. Callers retry
 * the commit only, never what follows it.
 */
/**
 * Ends `wr` in error, Debusine-style: `code` names the step that failed (configure, dynamic data,
 * execute) and `err` gives the message. A lost race (someone else finished it) is fine.
 */
export async function finishInError(deps: Deps, wr: WorkRequest, code: string, err: unknown): Promise<void> {
  await finish(deps, wr, { status: 'completed', result: 'error', error: { code, message: err instanceof Error ? err.message : String(err) } }).catch(ignoreConflict);
}

export async function finish(deps: Deps, wr: WorkRequest, opts: FinishOptions): Promise<WorkRequest> {
  const finished = await commitFinish(deps, wr, opts);
  const failures = await followUpFinish(deps, finished, { nudgeScheduler: !opts.slotRefilledByWorker });
  opts.followUpFailures?.push(...failures);
  return finished;
}

/** The conditional write of a finish (and of the start it may need first). */
export async function commitFinish(deps: Deps, wr: WorkRequest, opts: FinishOptions): Promise<WorkRequest> {
  if (opts.status === 'completed' && wr.status === 'pending') {
    // Debusine completes some requests straight from pending; Conveyor keeps to the legal path.
    wr = await startServerSide(deps, wr);
  }
  assertTransition(wr, opts.status);
  const now = deps.clock.now().toISOString();
  const result = opts.status === 'completed' ? (opts.result ?? 'success') : '';
  const finished = bump(wr, {
    status: opts.status,
    result,
    completedAt: now,
    outputData: mergeOutput(wr.outputData, opts.outputData, opts.error),
    abortedBy: opts.abortedBy ?? wr.abortedBy,
    // A root workflow's REANA run status moves with it.
    run: wr.run ? { ...wr.run, status: finishedRunStatus(wr.run.status, opts.status, result, opts.abortedBy !== undefined) } : wr.run,
  });
  const slots: SlotChange[] = opts.releaseSlot && wr.worker ? [{ worker: wr.worker, delta: -1, workRequestId: wr.id }] : [];
  await deps.workRequests.commit({
    ...opts.extra,
    update: [{ workRequest: finished, expectedVersion: wr.version, finishes: true }, ...(opts.extra?.update ?? [])],
    slots: [...slots, ...(opts.extra?.slots ?? [])],
  });
  return finished;
}

/** What follows a committed finish: its event reactions, then `afterFinish`, and Debusine's completion listeners. Never throws. */
export async function followUpFinish(deps: Deps, finished: WorkRequest, opts: AfterFinishOptions = {}): Promise<FollowUpFailure[]> {
  const failures: FollowUpFailure[] = [];
  const step = followUpStep(failures, finished);
  // Debusine's on-completed WebSocket listeners are told once the dependents read ahead went pending
  // (their Query then runs beside the consistent re-listing of dependents, not after it), or once the
  // unblocking is over when nothing was read ahead. Never before: on DynamoDB Local any request in
  // parallel slows the pending write a dependent waits for.
  let letListenersGo!: () => void;
  const listenersMayGo = new Promise<void>((resolve) => (letListenersGo = resolve));
  const listeners = listenersMayGo.then(() => step('completion listeners', () => notifyCompletionListeners(deps, finished)));
  // Usage accounting (a queue send) depends on nothing else here: it runs alongside the reactions
  // and the unblocking of dependents, so it is not one more round trip before a dependent goes.
  await Promise.all([
    step('usage accounting', () => noteUsageChange(deps, workRequestEvent(finished))),
    (async () => {
      try {
        if (finished.status === 'completed') {
          const effects = await runEventReactions(deps, finished, succeeded(finished) ? 'on_success' : 'on_failure');
          for (const f of effects.failures) failures.push({ step: `event reaction ${String(f.action)}`, workRequestId: finished.id, error: f.error });
        }
        failures.push(...(await afterFinish(deps, finished, { ...opts, onDependentsReadAheadSettled: letListenersGo })));
      } finally {
        letListenersGo();
      }
    })(),
  ]);
  // A recurring job's run follows its request: a result, and the next run (SPEC §5); through the
  // port, so that only the functions that write it here bundle the recurring-job code.
  if (recurringRunOf(finished)) await step('recurring job run', () => recurringRunHooksOf(deps).moved(deps, finished, 'finished'));
  await listeners;
  return failures;
}

/** The port a recurring run's request moves through; a function that bundles lifecycle must be wired with it. */
export function recurringRunHooksOf(deps: Deps): RecurringRunHooks {
  if (!deps.recurringRunHooks) throw new Error('recurring run hooks are not wired into these deps');
  return deps.recurringRunHooks;
}

/** Marks a request running without a worker (Internal, Server and Wait tasks). */
export async function startServerSide(deps: Deps, wr: WorkRequest): Promise<WorkRequest> {
  assertTransition(wr, 'running');
  const now = deps.clock.now().toISOString();
  // REANA: a queued run becomes pending when picked up, running once its orchestrator starts.
  const run = wr.run && canRunTransition(wr.run.status, 'pending') ? { ...wr.run, status: 'pending' as const } : wr.run;
  const running = bump(wr, { status: 'running', startedAt: now, heartbeatAt: now, run });
  await deps.workRequests.commit({ update: [{ workRequest: running, expectedVersion: wr.version }] });
  return running;
}

export interface AfterFinishOptions {
  /** Default true: send the scheduler event for the freed capacity. */
  nudgeScheduler?: boolean;
  /** What `readDependentsAhead` read alongside the finish's commit. */
  readAhead?: DependentsReadAhead;
  /** Called once the dependents read ahead were settled, before the dependents are listed again (not called without `readAhead`). */
  onDependentsReadAheadSettled?: () => void;
}

/** A finishing request's dependents and its workflow, read while its finish commits (undefined: the read failed). */
export type DependentsReadAhead = Promise<{ dependents: WorkRequest[]; parent?: WorkRequest } | undefined>;

/**
 * Reads what settling the dependents of `wr` will need (which requests depend on it, those requests,
 * and its workflow) alongside the commit that finishes it, so that a dependent's pending write follows
 * the commit at once instead of two reads later. Nothing read here is trusted blindly: each write is
 * conditional on the version read, and the dependents are listed again after the commit (a dependency
 * added meanwhile is settled too). Never rejects.
 */
export function readDependentsAhead(deps: Deps, wr: WorkRequest, listed?: Promise<number[]>): DependentsReadAhead {
  const parentId = wr.parent;
  // The workflow is read in the dependents' BatchGetItem, not beside the Query: one request less
  // while the commit is under way (on DynamoDB Local, parallel requests slow each other down).
  return (listed ?? deps.workRequests.reverseDependencies(wr.id)).then(
    async (ids) => {
      const wanted = parentId === null ? ids : [...ids.filter((id) => id !== parentId), parentId];
      const read = wanted.length ? await deps.workRequests.getMany(wanted) : [];
      const parent = parentId === null ? undefined : read.find((r) => r.id === parentId);
      const dependents = read.filter((r) => r.id !== parentId); // the rest of `wanted`: the listed ids
      return { dependents, ...(parent ? { parent } : {}) };
    },
    () => undefined,
  );
}

/**
 * A dependency finished: dependents that can go ahead become pending, doomed ones are aborted;
 * the workflow is told; the scheduler looks again. Each step is idempotent and runs on its own:
 * a failed unblock is handed to the orchestrator (`settle-dependents`), a lost workflow message is
 * repaired by the watchdog's reconcile sweep. Returns the steps that failed; never throws.
 */
export async function afterFinish(deps: Deps, finished: WorkRequest, opts: AfterFinishOptions = {}): Promise<FollowUpFailure[]> {
  const failures: FollowUpFailure[] = [];
  const step = followUpStep(failures, finished);
  const toOrchestrator = (kind: 'settle-dependents' | 'child-finished') => async () => {
    const root = await rootWorkflowRead(deps, finished, opts.readAhead);
    if (root) await deps.queues.enqueueOrchestration({ rootId: root.id, kind, workRequestId: finished.id });
  };
  // Independent steps, in parallel: the workflow's orchestrator judges completion from the children
  // it reads itself (a dependent still blocked is settled there too), so it need not wait for the unblocking.
  await Promise.all([
    // A failed child about to be retried after a delay keeps its dependents: the retry takes them over.
    delayedRetryOf(finished)
      ? undefined
      : step('unblock dependents', () => settleDependentsOf(deps, finished.id, finished, opts.readAhead, opts.onDependentsReadAheadSettled), toOrchestrator('settle-dependents')),
    // The workflow may be complete now: its orchestrator decides, one root at a time.
    finished.parent === null ? undefined : step('workflow completion', toOrchestrator('child-finished')),
  ]);
  // A worker that reported its completion asks for its next request itself: no scheduling pass needed.
  if (opts.nudgeScheduler ?? true) {
    await step('scheduler event', () => deps.queues.enqueueSchedulerEvent({ type: 'work-request-finished', workRequestId: finished.id }));
  }
  return failures;
}

/**
 * The root workflow of `finished`; a top-level workflow read ahead with its dependents is not read
 * again (one GetItem less on a workflow child's completion).
 */
async function rootWorkflowRead(deps: Deps, finished: WorkRequest, readAhead?: DependentsReadAhead): Promise<WorkRequest | undefined> {
  const parent = readAhead ? (await readAhead)?.parent : undefined;
  if (parent && parent.id === finished.parent && parent.parent === null && parent.taskType === 'Workflow') return parent;
  return rootWorkflowOf(deps, finished);
}

/**
 * Runs one follow-up step on its own: a failure is recorded (and, where given, handed off) instead of
 * thrown, so it never undoes or retries the commit before it.
 */
function followUpStep(failures: FollowUpFailure[], finished: WorkRequest) {
  return async (name: string, run: () => Promise<void>, handOff?: () => Promise<void>): Promise<void> => {
    try {
      await run();
    } catch (error) {
      failures.push({ step: name, workRequestId: finished.id, error });
      if (handOff) await handOff().catch((err: unknown) => failures.push({ step: `${name}: hand-off`, workRequestId: finished.id, error: err }));
    }
  };
}

/**
 * Settles every request that depends on `id` (each on its own, so one failure does not stop the
 * others); `finished`: that request as its finish committed it (see `SettleOptions`); `readAhead`:
 * what was read alongside that commit (its dependents go at once, while the list is read again).
 */
export async function settleDependentsOf(
  deps: Deps,
  id: number,
  finished?: WorkRequest,
  readAhead?: DependentsReadAhead,
  onReadAheadSettled?: () => void,
): Promise<void> {
  const errors: unknown[] = [];
  const settle = (dependent: number, ahead?: { dependent: WorkRequest; finishedParent?: WorkRequest }) =>
    settleDependent(deps, dependent, { ...(finished ? { finished } : {}), ...(ahead ? { ahead } : {}) }).catch((err: unknown) => errors.push(err));
  const early = readAhead ? await readAhead : undefined;
  if (!early) {
    for (const dependent of await deps.workRequests.reverseDependencies(id)) await settle(dependent);
  } else {
    // The dependents read ahead go now; the list read after the commit catches one added meanwhile.
    // It is read after their pending writes, not beside them: it is never what they wait for, and
    // on DynamoDB Local a parallel request slows the write a dependent waits for.
    for (const dependent of early.dependents) await settle(dependent.id, { dependent, ...(early.parent ? { finishedParent: early.parent } : {}) });
    onReadAheadSettled?.();
    const listedNow = await deps.workRequests.reverseDependencies(id);
    const seen = new Set(early.dependents.map((d) => d.id));
    for (const dependent of listedNow) if (!seen.has(dependent)) await settle(dependent);
  }
  if (errors.length) throw new AggregateError(errors, `settling ${errors.length} dependent(s) of work request ${id} failed`, { cause: errors[0] });
}

/**
 * Re-evaluates one blocked request against its dependencies; returns whether it became pending.
 * In a `batch` (a populate letting many children go), only the first unblock of the batch sends
 * its scheduler event: the caller sends one more after `batch.close()` (see `PendingBatch`).
 */
export async function settleDependent(deps: Deps, id: number, opts: SettleOptions = {}): Promise<boolean> {
  const { batch } = opts;
  // Read alongside the dependency's commit: used for the first attempt only (a retry reads afresh).
  let ahead = opts.ahead;
  return withRetries(async () => {
    const { finished } = opts;
    const first = ahead;
    ahead = undefined;
    // After a dependency finished, the dependent is likely to go: the finished request's workflow
    // (most often the dependent's too) is read alongside the dependent, and the dependencies only
    // if there are others than the finished one (its state is known: it was just committed).
    const [dependent, finishedParent] = await Promise.all([
      first?.dependent ?? deps.workRequests.get(id),
      first?.finishedParent ?? (finished?.parent != null ? deps.workRequests.get(finished.parent) : undefined),
    ]);
    if (!dependent || dependent.status !== 'blocked') return false;
    const parentRead = (): Promise<WorkRequest | undefined> => (dependent.parent === null ? Promise.resolve(undefined) : deps.workRequests.get(dependent.parent));
    const onlyFinished = finished !== undefined && dependent.dependencies.length > 0 && dependent.dependencies.every((d) => d === finished.id);
    const [dependencies, earlyParent] = await Promise.all([
      onlyFinished ? dependent.dependencies.map(() => finished) : deps.workRequests.getMany(dependent.dependencies),
      finishedParent !== undefined && finishedParent.id === dependent.parent ? finishedParent : finished ? parentRead() : undefined,
    ]);
    const decision = unblockDecision(dependent, dependencies);
    if (decision === 'unblock') {
      // Debusine behaviour 26: children wait while their workflow is not running.
      if (dependent.parent !== null && (earlyParent ?? (await parentRead()))?.status !== 'running') return false;
      const unblocked = bump(dependent, { status: 'pending' });
      await deps.workRequests.commit({
        update: [{ workRequest: unblocked, expectedVersion: dependent.version }],
        ...(batch ? { pendingBatch: batch.markers } : {}),
      });
      await runEventReactions(deps, unblocked, 'on_unblock');
      if (!batch || batch.unblocked.length === 0) await deps.queues.enqueueSchedulerEvent({ type: 'work-request-pending', workRequestId: id });
      batch?.unblocked.push(id);
      return true;
    } else if (decision === 'abort') {
      // Whoever aborted a dependency aborted this one too (Debusine sets aborted_by down the tree).
      const abortedBy = dependencies.find((d) => d.status === 'aborted' && d.abortedBy)?.abortedBy ?? undefined;
      await finish(deps, dependent, { status: 'aborted', abortedBy, error: { code: 'dependency-failed', message: 'a dependency failed or was aborted' } });
    }
    return false;
  });
}

export interface SettleOptions {
  /** Part of a batch of unblocks (a populate). */
  batch?: UnblockBatch;
  /**
   * A dependency of it that has just finished (as committed): the dependent is likely to go, so its
   * workflow is read in parallel with the dependent, and this dependency is not read again. A
   * dependent re-pointed meanwhile (a retry) names another id, or fails its versioned write.
   */
  finished?: WorkRequest;
  /** The dependent (and the finished request's workflow) as read alongside that commit (`readDependentsAhead`). */
  ahead?: { dependent: WorkRequest; finishedParent?: WorkRequest };
}

/** Unblocks made in one step (`settleDependent`'s batch): their marker batch and the ids made pending. */
export interface UnblockBatch {
  markers: PendingBatch;
  unblocked: number[];
}

/** Starts an unblock batch (`settleDependent`); `endUnblockBatch` closes it. */
export function startUnblockBatch(deps: Deps): UnblockBatch {
  return { markers: deps.workRequests.pendingBatch(), unblocked: [] };
}

/** Closes the batch's markers, then one scheduler event for the unblocks after the first (which had its own). */
export async function endUnblockBatch(deps: Deps, batch: UnblockBatch): Promise<void> {
  await batch.markers.close();
  const last = batch.unblocked.at(-1);
  if (batch.unblocked.length > 1 && last !== undefined) await deps.queues.enqueueSchedulerEvent({ type: 'work-request-pending', workRequestId: last });
}

/** Follows `supersededBy` to the request that stands for `id` now. */
async function latestSuccessor(deps: Deps, id: number): Promise<number> {
  let current = id;
  for (let i = 0; i < 50; i++) {
    const wr = await deps.workRequests.get(current);
    if (!wr || wr.supersededBy === null) return current;
    current = wr.supersededBy;
  }
  return current;
}

export interface RetryOptions {
  reason: RetryReason;
  /** Changes to write in the same transaction (e.g. aborting the lost original). */
  extra?: WorkRequestChanges;
}

/**
 * Creates the successor of a finished request: same task, dependencies moved to their latest
 * successors, and blocked dependents re-pointed to it (Debusine's `WorkRequest.retry`).
 * `original` must be the state after `extra` is applied (e.g. already aborted).
 */
export async function createSuccessor(deps: Deps, original: WorkRequest, opts: RetryOptions): Promise<WorkRequest> {
  const problem = retryProblem(original, opts.reason);
  if (problem) throw new ValidationError('Cannot retry work request', {}, problem);
  const dependencies = await Promise.all(original.dependencies.map((d) => latestSuccessor(deps, d)));
  const id = await deps.sequences.next('work-request');
  const now = deps.clock.now().toISOString();
  const draft = successorDraft(original, { id, now, dependencies, reason: opts.reason });
  const depStates = await deps.workRequests.getMany(dependencies);
  const decision = unblockDecision(draft, depStates);
  if (decision === 'abort') throw new ValidationError('Cannot retry work request', {}, 'Task dependencies cannot be satisfied');
  const successor: WorkRequest = { ...draft, status: decision === 'unblock' || dependencies.length === 0 ? 'pending' : 'blocked' };
  const superseded = bump(original, { supersededBy: id });
  const dependentIds = await deps.workRequests.reverseDependencies(original.id);
  const dependents = (await deps.workRequests.getMany(dependentIds)).filter((r) => !isFinished(r));
  const extraUpdates = opts.extra?.update ?? [];
  // `original` may already be in `extra` (e.g. aborted by the same transaction): supersede that copy.
  const originalInExtra = extraUpdates.find((u) => u.workRequest.id === original.id);
  const updates = originalInExtra
    ? extraUpdates.map((u) => (u.workRequest.id === original.id ? { ...u, workRequest: { ...u.workRequest, supersededBy: id } } : u))
    : [...extraUpdates, { workRequest: superseded, expectedVersion: original.version }];
  await deps.workRequests.commit({
    ...opts.extra,
    create: [successor, ...(opts.extra?.create ?? [])],
    update: [
      ...updates,
      ...dependents.map((r) => ({
        workRequest: bump(r, { dependencies: r.dependencies.map((d) => (d === original.id ? id : d)) }),
        expectedVersion: r.version,
      })),
    ],
    addReverseDependencies: [
      ...dependencies.map((d) => ({ dependency: d, dependent: id })),
      ...dependents.map((r) => ({ dependency: id, dependent: r.id })),
      ...(opts.extra?.addReverseDependencies ?? []),
    ],
    removeReverseDependencies: [...dependents.map((r) => ({ dependency: original.id, dependent: r.id })), ...(opts.extra?.removeReverseDependencies ?? [])],
  });
  await repointPromises(deps, original, successor);
  if (successor.status === 'pending') await deps.queues.enqueueSchedulerEvent({ type: 'work-request-pending', workRequestId: id });
  return successor;
}

/** Promises made by the original now name its successor as the producer (Debusine). */
async function repointPromises(deps: Deps, original: WorkRequest, successor: WorkRequest): Promise<void> {
  if (original.parent === null) return;
  const root = await rootWorkflowOf(deps, original);
  if (!root?.internalCollection) return;
  const collection = await deps.collections.get(root.internalCollection);
  if (!collection) return;
  for (const item of await deps.collections.activeItems(collection.id)) {
    if (item.category !== PROMISE_CATEGORY || item.data['promise_work_request_id'] !== original.id) continue;
    await deps.collections.addItem(
      { ...item, id: await deps.sequences.next('collection-item'), data: { ...item.data, promise_work_request_id: successor.id }, createdAt: deps.clock.now().toISOString(), createdBy: `workflow:${root.id}` },
      { replace: true },
    );
  }
}

/**
 * Takes a request away from a worker that lost it (no heartbeat, or it asked for new work
 * without it): the request is aborted with a `worker-failed` record and retried, up to three
 * automatic retries; after that it completes with `error`.
 */
export async function reclaim(deps: Deps, wr: WorkRequest, message: string): Promise<WorkRequest | undefined> {
  const error: OutputError = { code: 'worker-failed', message };
  if (recurringRunOf(wr)) {
    // Launchpad's reclaimJob: no retry of the request; the job records RECLAIMED and a new run is due now.
    await finish(deps, wr, { status: 'aborted', error, releaseSlot: true });
    return undefined;
  }
  if (retryProblem(wr, 'worker-failed')) {
    await finish(deps, wr, { status: 'completed', result: 'error', error, releaseSlot: true });
    return undefined;
  }
  const now = deps.clock.now().toISOString();
  const aborted = bump(wr, { status: 'aborted', result: '', completedAt: now, outputData: mergeOutput(wr.outputData, undefined, error) });
  const successor = await createSuccessor(deps, aborted, {
    reason: 'worker-failed',
    extra: {
      update: [{ workRequest: aborted, expectedVersion: wr.version, finishes: true }],
      slots: wr.worker ? [{ worker: wr.worker, delta: -1, workRequestId: wr.id }] : [],
    },
  });
  await deps.queues.enqueueSchedulerEvent({ type: 'work-request-finished', workRequestId: wr.id });
  return successor;
}

/** Tells a worker through its own queue (new work, or stop one it runs); a worker without a queue polls. */
export async function notifyWorker(deps: Deps, workerOrName: string | Pick<Worker, 'name' | 'queueUrl'>, message: WorkerMessage): Promise<void> {
  // A worker already read (the scheduler's) saves a read: its queue URL is derived from its name, so it never goes stale.
  const worker = typeof workerOrName === 'string' ? await deps.workers.get(workerOrName) : workerOrName;
  const workerName = typeof workerOrName === 'string' ? workerOrName : workerOrName.name;
  // Each worker on its own channels: its SQS queue (`conveyor worker`), its WebSocket (Debusine's worker).
  // Independent channels, in parallel: the pass (and its event's deletion) waits for the slower one only.
  await Promise.all([worker?.queueUrl ? deps.workerChannels.send(worker.queueUrl, message) : undefined, notifyWorkerSockets(deps, workerName, message.type)]);
}
