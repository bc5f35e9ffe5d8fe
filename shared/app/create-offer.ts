/**
 * The create path's offer (issue 12): a new plain pending Worker request is created ALREADY ASSIGNED
 * to a worker with a free slot, so that an idle dispatch needs no scheduler event, no scheduler
 * invocation, no second queue hop, and no pending write followed by an assignment (one Put of the
 * request instead of two, and no `PENDING#` entry that a pass could race for).
 *
 * The offer is one worker's share of an event pass (`scheduleForWorker`, one slot) with the new request
 * as one more candidate: the same conditional slot write, the same priority order (the worker takes the
 * best pending request it can run, which may be an older one), disabled creators skipped, candidate
 * markers trusted, machine states, the worker told on its queue and its WebSockets. When the worker does
 * not take the new request (no free worker could run it, it took an older one, another pass got the slot
 * first) or the offer fails, the request is created pending and the scheduler event is sent, as before.
 *
 * Order of the writes (docs/decisions.md, "Creating a request already assigned"): the worker's slot first
 * (`assigned + 1` with the request's holder), then the request's create. A request therefore never
 * exists assigned without its slot; a slot taken for a create that never landed is an orphaned holder,
 * which the watchdog's `releaseOrphanedSlots` gives back (the request is absent, or pending unassigned).
 */
import { ConflictError } from '../domain/errors';
import type { WorkRequest } from '../domain/work-requests';
import { hasSpareCapacity, type Worker } from '../domain/workers';
import { acceptsNewWork } from '../domain/machines';
import { cannotRunReason, findTask } from '../tasks';
import type { CandidatePartitions, Deps, SlotChange } from '../ports';
import type { Caller } from './auth';
import { runEventReactions } from './event-reactions';
import { notifyWorker, type FollowUpFailure } from './lifecycle';
import { byLoadThenConnected, scheduleForWorker, workersWithFreeSlots } from './scheduler';

const OFFER_STEP = 'offer the request to an idle worker';

/** What an offer reads before choosing a worker; a failed read is kept, to be reported by the offer. */
export type OfferReads = Promise<{ partitions: CandidatePartitions; free: Worker[] } | { error: unknown }>;

/**
 * The offer's reads (which partitions may hold work, which workers have a slot), started on their own:
 * neither depends on the new request, so the create starts them alongside its own checks. Never rejects.
 */
export function readOfferState(deps: Deps): OfferReads {
  return Promise.all([deps.workRequests.candidatePartitions({ trusted: true }), workersWithFreeSlots(deps)]).then(
    ([partitions, free]) => ({ partitions, free }),
    (error: unknown) => ({ error }),
  );
}

/** What the create may hand to a worker at once: a plain pending Worker request (no parent, no dependencies, not stored yet). */
function offerable(wr: WorkRequest): boolean {
  return wr.taskType === 'Worker' && wr.status === 'pending' && wr.worker === null && wr.parent === null && wr.dependencies.length === 0;
}

/**
 * Creates `wr` (new, pending, not stored yet): assigned to an idle worker when one takes it, else
 * pending with the scheduler event. Runs the `on_creation` reactions once it is stored. A failure of the
 * offer never fails the create: it is reported in `followUpFailures` and the request is created pending
 * (only the pending create itself may throw, as a create without the offer would).
 */
export async function createOfferedToIdleWorker(
  deps: Deps,
  wr: WorkRequest,
  creator: Caller,
  followUpFailures: FollowUpFailure[],
  reads?: OfferReads,
): Promise<void> {
  let stored = false;
  let assigned = false;
  if (offerable(wr)) {
    const createAssigned = async (committed: WorkRequest, slot: SlotChange) => {
      await deps.workRequests.commit({ create: [committed], slots: [slot] });
      stored = true;
      await runEventReactions(deps, wr, 'on_creation');
    };
    try {
      assigned = await offerToIdleWorker(deps, wr, creator, createAssigned, reads ?? readOfferState(deps));
    } catch (error) {
      followUpFailures.push({ step: OFFER_STEP, workRequestId: wr.id, error });
    }
  }
  if (!stored) {
    const landed = await createPending(deps, wr);
    if (landed?.worker) {
      // The offer's create landed though its answer was lost: the request holds its slot (taken first); tell the worker.
      await notifyWorker(deps, landed.worker, { type: 'work_request_available', workRequestId: wr.id }).catch((error: unknown) =>
        followUpFailures.push({ step: OFFER_STEP, workRequestId: wr.id, error }),
      );
      assigned = true;
    }
    await runEventReactions(deps, wr, 'on_creation');
  }
  if (!assigned) await deps.queues.enqueueSchedulerEvent({ type: 'work-request-pending', workRequestId: wr.id });
}

/**
 * Creates `wr` pending. Returns the stored request when it already existed: only the offer's own create
 * can have written this new id, when it failed in a way that leaves unknown whether it landed.
 */
async function createPending(deps: Deps, wr: WorkRequest): Promise<WorkRequest | undefined> {
  try {
    await deps.workRequests.commit({ create: [wr] });
    return undefined;
  } catch (error) {
    const existing = error instanceof ConflictError ? await deps.workRequests.get(wr.id) : undefined;
    if (!existing) throw error;
    return existing;
  }
}

/**
 * Offers `created` (not stored) to the best free worker that could run it, as a candidate of that
 * worker's share of a pass. Returns whether the worker took it (`createAssigned` stored it assigned and
 * the worker was told). False when no free worker could run it, the worker took an older request, or the
 * slot went to another pass first. Throws when a read or a write failed.
 */
async function offerToIdleWorker(
  deps: Deps,
  created: WorkRequest,
  creator: Caller,
  createAssigned: (assigned: WorkRequest, slot: SlotChange) => Promise<void>,
  reads: OfferReads,
): Promise<boolean> {
  const task = findTask(created.taskType, created.taskName);
  if (!task) return false;
  const state = await reads;
  if ('error' in state) throw state.error;
  const { partitions, free } = state;
  const worker = free
    .filter((w) => hasSpareCapacity(w) && acceptsNewWork(w.machineState) && cannotRunReason(task, created.taskData, w) === undefined)
    .sort(byLoadThenConnected)[0];
  if (!worker) return false;
  // The creator was read by this very request's authentication, which refuses a disabled user:
  // the pass's read of it is not repeated. Other creators (of older requests) are read as in a pass.
  const disabledOwners = new Map<string, boolean>();
  if (creator.kind === 'user' && !creator.user.disabled) disabledOwners.set(creator.user.username, false);
  let taken = false;
  await scheduleForWorker(deps, worker, {
    disabledOwners,
    partitions,
    maxAssignments: 1,
    offered: { request: created, commit: createAssigned },
    onAssigned: (committed) => {
      if (committed.id === created.id) taken = true;
    },
  });
  return taken;
}
