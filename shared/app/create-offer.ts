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
import { hasSpareCapacity } from '../domain/workers';
import { acceptsNewWork } from '../domain/machines';
import { cannotRunReason, findTask } from '../tasks';
import type { Deps } from '../ports';
import type { Caller } from './auth';
import { byLoadThenConnected, scheduleForWorker, workersWithFreeSlots } from './scheduler';

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
): Promise<WorkRequest | undefined> {
  if (created.taskType !== 'Worker' || created.status !== 'pending' || created.worker !== null) return undefined;
  const task = findTask(created.taskType, created.taskName);
  if (!task) return undefined;
  try {
    // Independent reads, in parallel, as in an event pass: which partitions may hold work, which workers have a slot.
    const [partitions, free] = await Promise.all([deps.workRequests.candidatePartitions({ trusted: true }), workersWithFreeSlots(deps)]);
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
