/**
 * The create path's offer (issue 12): a new pending Worker request is offered at once to a worker
 * with a free slot, so that an idle dispatch needs no scheduler event, no scheduler invocation and
 * no second queue hop. The offer is one worker's share of an event pass (`scheduleForWorker`, one
 * slot): the same conditional slot writes, the same priority order (the worker takes the best
 * pending request it can run, which may be an older one), disabled creators skipped, candidate
 * markers trusted, the worker told on its queue and its WebSockets. Whatever it did not do for the
 * new request, the scheduler event still does.
 */
import type { WorkRequest } from '../domain/work-requests';
import { hasSpareCapacity, type Worker } from '../domain/workers';
import { acceptsNewWork } from '../domain/machines';
import { cannotRunReason, findTask } from '../tasks';
import type { CandidatePartitions, Deps } from '../ports';
import type { Caller } from './auth';
import { byLoadThenConnected, scheduleForWorker, workersWithFreeSlots } from './scheduler';

/** What an offer reads before choosing a worker; a failed read is kept, to be reported by the offer. */
export type OfferReads = Promise<{ partitions: CandidatePartitions; free: Worker[] } | { error: unknown }>;

/**
 * The offer's reads (which partitions may hold work, which workers have a slot), started on their own:
 * neither depends on the new request, so the create runs them alongside its commit (one round trip
 * less before the offer can assign). Never rejects.
 */
export function readOfferState(deps: Deps): OfferReads {
  return Promise.all([deps.workRequests.candidatePartitions({ trusted: true }), workersWithFreeSlots(deps)]).then(
    ([partitions, free]) => ({ partitions, free }),
    (error: unknown) => ({ error }),
  );
}

/**
 * The markers as read, plus the new request's own partition: they may have been read before its
 * commit set that partition's marker, and the new request must be a candidate of its own offer.
 */
function withOwnPartition(partitions: CandidatePartitions, created: WorkRequest): CandidatePartitions {
  return {
    mayHold: (taskType, architecture) =>
      (taskType === created.taskType && architecture === created.hostArchitecture) || partitions.mayHold(taskType, architecture),
  };
}

/**
 * Offers `created` (committed, pending) to the best free worker that could run it. Returns the
 * request as the assignment committed it when the worker took it, undefined otherwise (no free worker
 * could run it, the worker took an older request, or another pass got the slot first): the caller
 * then sends the scheduler event. Never throws: a failure is given to `onFailure` and reads as
 * "not assigned", so the create stands and falls back to the event.
 */
export async function offerToIdleWorker(
  deps: Deps,
  created: WorkRequest,
  creator: Caller,
  onFailure: (error: unknown) => void = () => undefined,
  reads?: OfferReads,
): Promise<WorkRequest | undefined> {
  if (created.taskType !== 'Worker' || created.status !== 'pending' || created.worker !== null) return undefined;
  const task = findTask(created.taskType, created.taskName);
  if (!task) return undefined;
  try {
    // Independent reads, in parallel, as in an event pass (started with the commit when the create passed them).
    const state = await (reads ?? readOfferState(deps));
    if ('error' in state) throw state.error;
    const { free } = state;
    const partitions = withOwnPartition(state.partitions, created);
    const worker = free
      .filter((w) => hasSpareCapacity(w) && acceptsNewWork(w.machineState) && cannotRunReason(task, created.taskData, w) === undefined)
      .sort(byLoadThenConnected)[0];
    if (!worker) return undefined;
    // The creator was read by this very request's authentication, which refuses a disabled user:
    // the pass's read of it is not repeated. Other creators (of older requests) are read as in a pass.
    const disabledOwners = new Map<string, boolean>();
    if (creator.kind === 'user' && !creator.user.disabled) disabledOwners.set(creator.user.username, false);
    let taken: WorkRequest | undefined;
    await scheduleForWorker(deps, worker, {
      disabledOwners,
      partitions,
      maxAssignments: 1,
      onAssigned: (committed) => {
        if (committed.id === created.id) taken = committed;
      },
    });
    return taken;
  } catch (error) {
    onFailure(error);
    return undefined;
  }
}
