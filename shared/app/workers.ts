/** Worker use cases: registration, metadata, dispatch (get-next), completion, heartbeats, administration. */
import { ConflictError, NotFoundError, UnauthorizedError, ValidationError } from '../domain/errors';
import { tokenUnusableReason, type Token } from '../domain/tenancy';
import { bump, isFinished, type FinalResult, type OutputData, type WorkRequest } from '../domain/work-requests';
import { hasSpareCapacity, isConnected, workerNameCandidates, WORKER_TYPES, type Metadata, type Worker, type WorkerType } from '../domain/workers';
import type { CandidatePartitions, Deps, QueueAccess } from '../ports';
import { generateTokenKey } from './admin';
import { recordAudit } from './audit';
import { hashTokenKey, requireWorker, type Caller } from './auth';
import { ignoreConflict, withRetries } from './concurrency';
import { commitFinish, finish, followUpFinish, readDependentsAhead, reclaim, recurringRunHooksOf, type DependentsReadAhead, type FollowUpFailure } from './lifecycle';
import { workRequestNotFound } from './loaders';
import { admitUnactivatedRegistration, checkEnableIsUnambiguous, consumeActivationToken } from './worker-registration';
import { machineAskedForWork } from './machines';
import { recurringRunOf } from '../domain/recurring-run-ref';
import { scheduleForWorker } from './scheduler';
import { pickWith, spreadFirst } from './pull-spread';
import { workspaceVisibility } from './visibility';

const ACTIVATION_TOKEN_TTL_MS = 15 * 60 * 1000;
const LAST_SEEN_RESOLUTION_MS = 30 * 1000;

export interface RegisterWorkerInput {
  tokenKey: string;
  fqdn: string;
  workerType?: WorkerType;
  concurrency?: number;
}

/**
 * Registers a worker under the slug of its FQDN (`-2`, `-3` on clashes). With a valid activation
 * token (pool workers) it starts enabled; without one (Debusine's own flow) its token starts
 * disabled until an administrator enables it, and the registration is rate-limited. The worker's
 * queue is created when it is first enabled, never for an unapproved registration.
 */
export async function registerWorker(deps: Deps, input: RegisterWorkerInput, activationKey?: string): Promise<Worker> {
  if (!/^[0-9a-f]{64}$/.test(input.tokenKey)) throw ValidationError.field('token', 'must be 64 lowercase hex characters', 'Invalid worker');
  const workerType = input.workerType ?? 'external';
  if (!WORKER_TYPES.includes(workerType)) throw ValidationError.field('worker_type', `must be one of ${WORKER_TYPES.join(', ')}`, 'Invalid worker');
  const hash = hashTokenKey(input.tokenKey);
  if (await deps.identity.getTokenByHash(hash)) throw new ConflictError('Token exists', 'that token is already registered');
  // The activation token is spent before anything is created: one conditional write decides.
  const activation: Token | undefined = activationKey ? await consumeActivationToken(deps, activationKey) : undefined;
  if (!activation) await admitUnactivatedRegistration(deps);
  const enabled = activation !== undefined;
  const now = deps.clock.now().toISOString();
  let worker: Worker | undefined;
  const id = await deps.sequences.next('worker');
  for (const name of workerNameCandidates(input.fqdn)) {
    const candidate: Worker = {
      name,
      id,
      tokenHash: hash,
      workerType,
      enabled,
      registeredAt: now,
      connectedAt: null,
      lastSeenAt: null,
      staticMetadata: {},
      dynamicMetadata: {},
      dynamicMetadataUpdatedAt: null,
      concurrency: input.concurrency ?? 1,
      assigned: 0,
      queueUrl: null,
      version: 1,
    };
    try {
      await deps.workers.create(candidate);
      worker = candidate;
      break;
    } catch (err) {
      ignoreConflict(err); // the name was taken meanwhile: try the next
    }
  }
  if (!worker) throw new ConflictError('Name taken', `too many workers named after ${input.fqdn}`);
  let registered = worker;
  if (enabled) {
    const queueUrl = await deps.workerChannels.createQueue(worker.name);
    registered = { ...worker, queueUrl, version: worker.version + 1 };
    await deps.workers.update(registered, worker.version);
  }
  await deps.identity.createToken({
    id: deps.ids.random().slice(0, 12),
    hash,
    workerName: worker.name,
    purpose: 'worker',
    status: enabled ? 'active' : 'requested',
    enabled,
    comment: `worker ${worker.name}`,
    createdAt: now,
    version: 1,
  });
  if (activation) {
    await recordAudit(deps, `activation-token:${activation.id}`, 'worker.register', { worker: worker.name, enabled: true });
  }
  return registered;
}

async function updateWorker(deps: Deps, name: string, change: (w: Worker) => Partial<Worker>): Promise<Worker> {
  return withRetries(async () => {
    const current = await deps.workers.get(name);
    if (!current) throw new NotFoundError('Not found', `no worker "${name}"`);
    const next = { ...current, ...change(current), version: current.version + 1 };
    await deps.workers.update(next, current.version);
    return next;
  });
}

/** The worker reports what it can do; this is also its keep-alive. */
export async function updateDynamicMetadata(deps: Deps, caller: Caller, metadata: Metadata): Promise<void> {
  requireWorker(caller);
  const now = deps.clock.now();
  const wasConnected = isConnected(caller.worker, now);
  const iso = now.toISOString();
  await updateWorker(deps, caller.worker.name, (w) => ({
    dynamicMetadata: metadata,
    dynamicMetadataUpdatedAt: iso,
    connectedAt: w.connectedAt ?? iso,
    lastSeenAt: iso,
  }));
  if (!wasConnected || caller.worker.assigned < caller.worker.concurrency) {
    await deps.queues.enqueueSchedulerEvent({ type: 'worker-available', worker: caller.worker.name });
  }
}

export async function disconnectWorker(deps: Deps, caller: Caller): Promise<void> {
  requireWorker(caller);
  await updateWorker(deps, caller.worker.name, () => ({ connectedAt: null }));
}

/**
 * Where the worker long-polls. The queue is created again if it was lost (deleted, or an emulator
 * restarted without it): creating an existing queue is idempotent, and workers ask only at start,
 * to refresh credentials and after their queue failed them (finding 8).
 */
export async function workerQueueAccess(deps: Deps, caller: Caller): Promise<QueueAccess> {
  requireWorker(caller);
  const queueUrl = await deps.workerChannels.createQueue(caller.worker.name);
  if (queueUrl !== caller.worker.queueUrl) await updateWorker(deps, caller.worker.name, () => ({ queueUrl }));
  return deps.workerChannels.access(queueUrl);
}

/** Records that the worker is alive (and connected again, if it had been dropped). */
async function markSeen(deps: Deps, worker: Worker): Promise<void> {
  const now = deps.clock.now();
  if (worker.connectedAt === null) {
    await updateWorker(deps, worker.name, () => ({ connectedAt: now.toISOString(), lastSeenAt: now.toISOString() }));
  } else if (!worker.lastSeenAt || now.getTime() - Date.parse(worker.lastSeenAt) >= LAST_SEEN_RESOLUTION_MS) {
    await deps.workers.touch(worker.name, now, LAST_SEEN_RESOLUTION_MS);
  }
}

/**
 * Debusine's get-next: running requests the worker no longer runs (all of them, unless it lists
 * the ones it still runs) are lost work and get retried; then the best request already assigned
 * to it starts running and is returned. With nothing assigned and a slot free, the worker pulls:
 * the best pending request it can run is assigned and started in this same round trip (as
 * Debusine's get-next schedules on demand), under the same conditional slot rule as a pass.
 */
export async function getNextForWorker(deps: Deps, caller: Caller, stillRunning?: number[]): Promise<WorkRequest | undefined> {
  requireWorker(caller);
  const keep = new Set(stillRunning ?? []);
  // Independent: marking the worker seen and reading what it holds.
  const [, active] = await Promise.all([markSeen(deps, caller.worker), deps.workRequests.activeForWorker(caller.worker.name, caller.worker)]);
  let held = active.length;
  for (const wr of active) {
    if (wr.status === 'running' && !keep.has(wr.id)) {
      await reclaim(deps, wr, `worker ${caller.worker.name} asked for new work while this request was running on it`).then(
        () => held--,
        ignoreConflict, // finished concurrently: nothing lost
      );
    }
  }
  return startOrPull(deps, caller.worker, active, held);
}

/**
 * What get-next does once lost work is dealt with: the best request already assigned to the worker
 * starts; else, with a slot free (`held`: the requests it holds now), the best pending request it
 * can run is assigned and started, under the same conditional slot rule as a scheduling pass.
 * `pull` (completions, which several workers send at once): the order candidates are tried in, and
 * the partitions read alongside the worker's requests.
 */
async function startOrPull(
  deps: Deps,
  holder: Worker,
  active: WorkRequest[],
  held: number,
  pull: { order?: (sorted: WorkRequest[]) => WorkRequest[]; partitions?: Promise<CandidatePartitions> } = {},
): Promise<WorkRequest | undefined> {
  const started = await startFirst(deps, active.filter((wr) => wr.status === 'pending'));
  if (started) return started;
  // Nothing left to start: a QUIESCING machine takes no new work, and with nothing running goes OFFLINE (QUIESCED).
  if (holder.machineState === 'QUIESCING') {
    await machineAskedForWork(deps, holder);
    return undefined;
  }
  const worker = { ...holder, assigned: held };
  if (!hasSpareCapacity(worker)) return undefined;
  // One read says which partitions may hold work: with nothing pending, get-next answers 204 without a Query of each.
  const partitions = await (pull.partitions ?? deps.workRequests.candidatePartitions());
  const committed: WorkRequest[] = [];
  let filledMeanwhile = false;
  const pulled = await scheduleForWorker(deps, worker, {
    notify: false,
    partitions,
    onAssigned: (wr) => committed.push(wr),
    ...(pull.order ? { order: pull.order } : {}),
    onFull: () => (filledMeanwhile = true),
  });
  // The freed slot was filled meanwhile by a create's offer or a pass (the worker was in the free-slot
  // index between its completion and this pull): what they assigned starts now, in this round trip,
  // instead of the worker waiting for their queue message and asking get-next.
  if (pulled.length === 0 && filledMeanwhile) return startFirst(deps, await deps.workRequests.activeForWorker(holder.name));
  if (pulled.length === 0) return undefined;
  // Started from what the assignment wrote, without reading it back; if an assignment reaction changed
  // it meanwhile (the start's version check fails), from a fresh read.
  return (await startFirst(deps, committed)) ?? startFirst(deps, await deps.workRequests.getMany(pulled.map((a) => a.workRequestId)));
}

/** Starts the best of the requests assigned to a worker that are still pending; undefined if none could be. */
async function startFirst(deps: Deps, candidates: WorkRequest[]): Promise<WorkRequest | undefined> {
  const assigned = candidates
    .filter((wr) => wr.status === 'pending')
    .sort((a, b) => b.priorityBase + b.priorityAdjustment - (a.priorityBase + a.priorityAdjustment) || a.createdAt.localeCompare(b.createdAt) || a.id - b.id);
  for (const wr of assigned) {
    const now = deps.clock.now().toISOString();
    const running = bump(wr, { status: 'running', startedAt: now, heartbeatAt: now, logtail: [] });
    try {
      await deps.workRequests.commit({ update: [{ workRequest: running, expectedVersion: wr.version }] });
      // A lost race on the job leaves its run PENDING; finishing the run starts it then.
      if (recurringRunOf(running)) await recurringRunHooksOf(deps).moved(deps, running, 'started').catch(ignoreConflict);
      return running;
    } catch (err) {
      ignoreConflict(err); // aborted or reassigned meanwhile: try the next
    }
  }
  return undefined;
}

async function loadOwnRequest(deps: Deps, worker: Worker, id: number): Promise<WorkRequest> {
  const wr = await deps.workRequests.get(id);
  if (!wr) throw workRequestNotFound(id);
  if (wr.worker !== worker.name) throw new UnauthorizedError('Not your work request', `work request ${id} is not assigned to worker ${worker.name}`);
  return wr;
}

/**
 * A worker reports its request's result. `workerPullsNext` (default true: `conveyor worker` and the
 * in-process callers) says the worker asks get-next for its next request itself; false (Debusine's
 * worker) makes the completion send a scheduler event, whose pass tells the worker of its next request.
 */
export async function completeWorkRequest(
  deps: Deps,
  caller: Caller,
  id: number,
  input: { result: FinalResult; outputData?: OutputData; workerPullsNext?: boolean },
  followUpFailures?: FollowUpFailure[],
): Promise<WorkRequest> {
  requireWorker(caller);
  // A late report from a worker that lost the request is refused and changes nothing at all,
  // so the worker is only marked as seen once the completion is accepted. Only the commit is
  // retried: once it landed the worker gets its answer, whatever its follow-ups meet.
  // A workflow child's dependents (and its workflow) are read while its finish commits: the first one
  // can then go pending right after the commit (lifecycle.ts, readDependentsAhead).
  let readAhead: DependentsReadAhead | undefined;
  // Which requests depend on it is asked alongside the request's own read, before knowing whether it
  // is a workflow child: a child's dependent then goes pending 3 round trips after the completion
  // starts, not 4. Outside workflows the answer is unused: half a read unit (eventually consistent;
  // the dependents are listed again, consistently, after the commit).
  const listed = deps.workRequests.reverseDependencies(id, { consistent: false });
  listed.catch(() => undefined); // awaited only by a workflow child's read-ahead, which reads again if it failed
  const finished = await withRetries(async () => {
    const wr = await loadOwnRequest(deps, caller.worker, id);
    if (wr.status !== 'running') {
      throw new ConflictError('Not running', `work request ${id} is ${wr.status}${wr.supersededBy ? ` (retried as ${wr.supersededBy})` : ''}`);
    }
    if (wr.parent !== null) readAhead ??= readDependentsAhead(deps, wr, listed);
    return commitFinish(deps, wr, { status: 'completed', result: input.result, outputData: input.outputData, releaseSlot: true });
  });
  // `conveyor worker` pulls its next request once it has reported (in this same round trip with
  // `?next=1`, else with get-next), so its freed slot needs no scheduling pass. Debusine's worker never
  // asks on its own: it waits for `work_request_available`, which only a scheduling pass sends, so its
  // completion (over HTTP: without `pulls_next=true` or `next=1`) nudges the scheduler as Debusine's server does.
  const failures = await followUpFinish(deps, finished, { nudgeScheduler: input.workerPullsNext === false, ...(readAhead ? { readAhead } : {}) });
  followUpFailures?.push(...failures);
  await markSeen(deps, caller.worker).catch((error: unknown) => followUpFailures?.push({ step: 'mark worker seen', workRequestId: id, error }));
  return finished;
}

/** A completion that also pulled the worker's next request: `next` undefined when there is none, `pullFailed` when it must ask get-next. */
export interface CompletionWithNext {
  finished: WorkRequest;
  next?: WorkRequest;
  pullFailed: boolean;
}

/**
 * Conveyor's own worker completes and pulls in one round trip (issue 12: no second get-next). The
 * completion commits first, exactly as `completeWorkRequest`; then, as get-next does, the best
 * request assigned to the worker starts, or with a slot free the best pending one it can run is
 * assigned and started. Unlike get-next it reclaims nothing: the worker's other tasks still run,
 * and one a concurrent get-next just started must not be taken back. A failed pull never fails
 * the stored completion: it is reported as a follow-up failure and the worker asks get-next.
 */
export async function completeAndPullNext(
  deps: Deps,
  caller: Caller,
  id: number,
  input: { result: FinalResult; outputData?: OutputData },
  followUpFailures?: FollowUpFailure[],
): Promise<CompletionWithNext> {
  const finished = await completeWorkRequest(deps, caller, id, input, followUpFailures);
  requireWorker(caller);
  try {
    // Independent reads, in parallel: what the worker holds, and which partitions may hold work (read
    // in vain only when something was already assigned to the worker). The worker as authenticated
    // (before this finish) still names the request just finished among its slot holders.
    const partitions = deps.workRequests.candidatePartitions();
    partitions.catch(() => undefined); // awaited below only if needed: never an unhandled rejection
    // The request just finished is excluded by the read itself: it is not read back (one BatchGetItem
    // less when it held the worker's only slot; docs/decisions.md, "Reads of the idle path").
    const active = (await deps.workRequests.activeForWorker(caller.worker.name, caller.worker, id)).filter((wr) => !isFinished(wr));
    // Workers completing at once mostly try different requests first (pull-spread.ts).
    const pick = pickWith(deps.ids);
    const next = await startOrPull(deps, caller.worker, active, active.length, { order: (sorted) => spreadFirst(sorted, pick), partitions });
    return { finished, ...(next ? { next } : {}), pullFailed: false };
  } catch (error) {
    followUpFailures?.push({ step: 'pull the next request', workRequestId: id, error });
    return { finished, pullFailed: true };
  }
}

export const MAX_LOGTAIL_LINES = 5;

/** Accepts a heartbeat for a request running on this worker; the applier writes it later, in batches. */
export async function recordHeartbeat(deps: Deps, caller: Caller, id: number, logtail: string[]): Promise<void> {
  requireWorker(caller);
  const wr = await loadOwnRequest(deps, caller.worker, id);
  if (wr.status !== 'running') throw new ConflictError('Not running', `work request ${id} is ${wr.status}; stop working on it`);
  await markSeen(deps, caller.worker);
  await deps.queues.enqueueHeartbeat({
    workRequestId: id,
    worker: caller.worker.name,
    at: deps.clock.now().toISOString(),
    logtail: logtail.slice(-MAX_LOGTAIL_LINES).map((l) => l.slice(0, 1000)),
  });
}

export type WorkerView = Worker & { connected: boolean; currentWork: number[] };

/**
 * A worker with its current work. Without `viewer` (operators: the admin CLI and routes) every
 * request is shown; otherwise only requests in workspaces the viewer may see (a private
 * workspace's running request ids are not shown to outsiders).
 */
async function view(deps: Deps, w: Worker, canSee?: (scope: string, workspace: string) => Promise<boolean>): Promise<WorkerView> {
  const active = (await deps.workRequests.activeForWorker(w.name)).filter((r) => !isFinished(r));
  const shown = canSee ? (await Promise.all(active.map(async (r) => ((await canSee(r.scope, r.workspace)) ? [r] : [])))).flat() : active;
  return { ...w, connected: isConnected(w, deps.clock.now()), currentWork: shown.map((r) => r.id) };
}

/** Enabled and disabled workers (the scheduler reads only the enabled ones). */
export async function listWorkers(deps: Deps, viewer?: Caller): Promise<WorkerView[]> {
  const all = [...(await deps.workers.list()), ...(await deps.workers.listDisabled())];
  const canSee = viewer ? workspaceVisibility(deps, viewer) : undefined;
  return Promise.all(all.map((w) => view(deps, w, canSee)));
}

export async function getWorker(deps: Deps, name: string, viewer?: Caller): Promise<WorkerView> {
  const w = await deps.workers.get(name);
  if (!w) throw new NotFoundError('Not found', `no worker "${name}"`);
  return view(deps, w, viewer ? workspaceVisibility(deps, viewer) : undefined);
}

async function setWorkerToken(deps: Deps, worker: Worker, enabled: boolean): Promise<void> {
  await withRetries(async () => {
    const token = await deps.identity.getTokenByHash(worker.tokenHash);
    if (!token) throw new NotFoundError('Not found', `worker "${worker.name}" has no token`);
    await deps.identity.updateToken({ ...token, enabled, status: enabled ? 'active' : token.status, version: token.version + 1 }, token.version);
  });
}

/**
 * Enables a worker. When another unapproved registration claims the same machine name, the
 * administrator must give the token fingerprint shown on the machine (see worker-registration.ts).
 * The worker's queue is created here (again, if it was lost: creating is idempotent).
 */
export async function enableWorker(deps: Deps, actor: string, name: string, expectedFingerprint?: string): Promise<Worker> {
  const worker = await deps.workers.get(name);
  if (!worker) throw new NotFoundError('Not found', `no worker "${name}"`);
  await checkEnableIsUnambiguous(deps, worker, expectedFingerprint);
  const queueUrl = await deps.workerChannels.createQueue(worker.name);
  await setWorkerToken(deps, worker, true);
  const next = await updateWorker(deps, name, () => ({ enabled: true, queueUrl }));
  await recordAudit(deps, actor, 'worker.enable', { worker: name });
  await deps.queues.enqueueSchedulerEvent({ type: 'worker-available', worker: name });
  return next;
}

/** Disables the token and takes the worker's work away: assigned requests go back to the queue, running ones are retried. */
export async function disableWorker(deps: Deps, actor: string, name: string): Promise<Worker> {
  const worker = await deps.workers.get(name);
  if (!worker) throw new NotFoundError('Not found', `no worker "${name}"`);
  await setWorkerToken(deps, worker, false);
  const next = await updateWorker(deps, name, () => ({ enabled: false }));
  for (const wr of await deps.workRequests.activeForWorker(name)) {
    await withRetries(async () => {
      const current = await deps.workRequests.get(wr.id);
      if (!current || current.worker !== name || isFinished(current)) return;
      if (current.status === 'running') {
        await reclaim(deps, current, `worker ${name} was disabled`);
      } else {
        await deps.workRequests.commit({
          update: [{ workRequest: bump(current, { worker: null, assignedAt: null }), expectedVersion: current.version }],
          slots: [{ worker: name, delta: -1, workRequestId: current.id }],
        });
        await deps.queues.enqueueSchedulerEvent({ type: 'work-request-pending', workRequestId: current.id });
      }
    });
  }
  await recordAudit(deps, actor, 'worker.disable', { worker: name });
  return next;
}

export async function setWorkerStaticMetadata(deps: Deps, actor: string, name: string, metadata: Metadata): Promise<Worker> {
  const next = await updateWorker(deps, name, () => ({ staticMetadata: metadata }));
  await recordAudit(deps, actor, 'worker.static-metadata', { worker: name, metadata });
  await deps.queues.enqueueSchedulerEvent({ type: 'worker-available', worker: name });
  return next;
}

export async function setWorkerConcurrency(deps: Deps, actor: string, name: string, concurrency: number): Promise<Worker> {
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    throw ValidationError.field('concurrency', 'must be an integer from 1 to 64', 'Invalid worker');
  }
  const next = await updateWorker(deps, name, () => ({ concurrency }));
  await recordAudit(deps, actor, 'worker.concurrency', { worker: name, concurrency });
  await deps.queues.enqueueSchedulerEvent({ type: 'worker-available', worker: name });
  return next;
}

/** A 15-minute token that lets one pool worker register already enabled. */
export async function createActivationToken(deps: Deps, actor: string): Promise<{ token: Token; key: string }> {
  const key = generateTokenKey();
  const now = deps.clock.now();
  const token: Token = {
    id: deps.ids.random().slice(0, 12),
    hash: hashTokenKey(key),
    purpose: 'activation',
    status: 'active',
    enabled: true,
    comment: 'worker activation token',
    createdAt: now.toISOString(),
    expireAt: new Date(now.getTime() + ACTIVATION_TOKEN_TTL_MS).toISOString(),
    version: 1,
  };
  await deps.identity.createToken(token);
  await recordAudit(deps, actor, 'worker.activation-token', { token: token.id, expireAt: token.expireAt });
  return { token, key };
}
