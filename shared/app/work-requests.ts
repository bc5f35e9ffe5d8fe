/** Work-request use cases for users (the Debusine `work-request/` API). */
import { enforceQuotas } from './quotas';
import { createOfferedToIdleWorker, readOfferState } from './create-offer';
import * as z from 'zod';
import { MAX_HIDDEN_PAGES_SKIPPED, MAX_NOTIFICATION_ADDRESSES, MAX_REACTIONS_PER_EVENT, tooMany } from '../domain/limits';
import { ForbiddenError, NotFoundError, ValidationError } from '../domain/errors';
import { roleAtLeast } from '../domain/roles';
import { sendNotificationAction } from '../domain/event-reactions';
import {
  bump,
  EVENT_NAMES,
  isFinished,
  newWorkRequest,
  priorityChangeProblem,
  type EventReactions,
  type WorkRequest,
  type WorkRequestStatus,
} from '../domain/work-requests';
import { findTask, validateTaskData } from '../tasks';
import type { Deps, Page, WorkRequestListFilter } from '../ports';
import { accessWorkspace, callerId, isAdmin, requireUser, type Caller } from './auth';
import { withRetries } from './concurrency';
import { runEventReactions } from './event-reactions';
import { commitFinish, createSuccessor, finish, followUpFinish, notifyWorker, type FollowUpFailure } from './lifecycle';
import { loadWorkRequest } from './loaders';
import { notificationEnvelope, type NotificationOverrides } from './notification-policy';
import { reopenParents, restartWorkflow } from './workflow-runs';
import { workspaceVisibility } from './visibility';

/** API users may only ask for notifications (Debusine); the other actions are for workflows. */
const eventReactionsSchema = z.strictObject(
  Object.fromEntries(EVENT_NAMES.map((event) => [
    event,
    z.array(sendNotificationAction).max(MAX_REACTIONS_PER_EVENT, tooMany('MAX_REACTIONS_PER_EVENT', MAX_REACTIONS_PER_EVENT, 'reactions')).optional(),
  ])),
);

/** Each send-notification reaction stays within its channel's addresses (finding 3): 400 at once. */
async function checkNotificationReactions(deps: Deps, reactions: EventReactions): Promise<void> {
  for (const [event, actions] of Object.entries(reactions)) {
    for (const [i, action] of (actions ?? []).entries()) {
      const field = `event_reactions.${event}[${i}]`;
      const channel = await deps.channels.get(String(action['channel']));
      // A channel created later is checked when sending (event-reactions.ts), as before.
      if (channel) notificationEnvelope(channel, (action['data'] ?? {}) as NotificationOverrides, `${field}.data`);
    }
  }
}

export interface CreateWorkRequestInput {
  scope: string;
  workspace: string;
  taskName: string;
  taskData: unknown;
  eventReactions?: unknown;
}

/**
 * Creates a request. Where `deps.offerOnCreate` is set, a Worker request is created already assigned
 * to an idle worker that takes it (create-offer.ts); the scheduler event is sent only when it is created
 * pending. The answer is the request as a pending create shows it (as before: the assignment shows on
 * the next read). A failed offer is only reported in `followUpFailures`: the request is created pending.
 */
export async function createWorkRequest(deps: Deps, caller: Caller, input: CreateWorkRequestInput, followUpFailures: FollowUpFailure[] = []): Promise<WorkRequest> {
  requireUser(caller);
  // Worker tasks for contributors; Server and Wait tasks only for administrators (Debusine: superusers).
  const task =
    findTask('Worker', input.taskName) ??
    (isAdmin(caller) ? (findTask('Server', input.taskName) ?? findTask('Wait', input.taskName)) : undefined);
  if (!task) throw ValidationError.field('task_name', `${input.taskName}: task name is not registered`, 'Cannot create work request');
  const taskData = validateTaskData(task, input.taskData);
  let eventReactions: EventReactions = {};
  if (input.eventReactions !== undefined) {
    const parsed = eventReactionsSchema.safeParse(input.eventReactions);
    if (!parsed.success) {
      // A limit is named where it was exceeded; anything else keeps Debusine's one message.
      const overLimit = parsed.error.issues.find((issue) => issue.code === 'too_big');
      if (overLimit) {
        throw ValidationError.field(['event_reactions', ...overLimit.path.map(String)].join('.'), overLimit.message, 'Invalid event_reactions');
      }
      throw ValidationError.field('event_reactions', 'only send-notification actions with a channel are allowed', 'Invalid event_reactions');
    }
    eventReactions = parsed.data as EventReactions;
    await checkNotificationReactions(deps, eventReactions);
  }
  // The offer's reads (never rejecting) depend on no check below: they go alongside them (unused if one refuses).
  const offerReads = deps.offerOnCreate && task.taskType === 'Worker' ? readOfferState(deps) : undefined;
  await accessWorkspace(deps, caller, input.scope, input.workspace, 'contributor');
  await enforceQuotas(deps, caller, input.scope, input.workspace);
  const id = await deps.sequences.next('work-request');
  const now = deps.clock.now().toISOString();
  const wr = newWorkRequest({
    id,
    scope: input.scope,
    workspace: input.workspace,
    createdBy: callerId(caller)!,
    taskType: task.taskType,
    taskName: task.name,
    taskData,
    hostArchitecture: task.hostArchitecture?.(taskData) ?? null,
    createdAt: now,
    eventReactions,
  });
  if (deps.offerOnCreate && wr.taskType === 'Worker') {
    // Created already assigned to an idle worker when one takes it, else pending with the event.
    await createOfferedToIdleWorker(deps, wr, caller, followUpFailures, offerReads);
    return wr;
  }
  await deps.workRequests.commit({ create: [wr] });
  await runEventReactions(deps, wr, 'on_creation');
  await deps.queues.enqueueSchedulerEvent({ type: 'work-request-pending', workRequestId: id });
  return wr;
}

export async function getWorkRequest(deps: Deps, caller: Caller, id: number): Promise<WorkRequest> {
  return (await loadWorkRequest(deps, caller, id)).wr;
}

/** What a listing asks for is what the repository filters on. */
export type ListWorkRequestsInput = WorkRequestListFilter;

/** Newest first; without a workspace, the requests of every workspace the caller can see. */
export async function listWorkRequests(deps: Deps, caller: Caller, input: ListWorkRequestsInput): Promise<Page<WorkRequest>> {
  if (input.workspace) {
    await accessWorkspace(deps, caller, input.scope, input.workspace, 'viewer');
    return deps.workRequests.list(input);
  }
  // Requests of workspaces the caller may not see are left out, and no cursor ever points at one
  // (a DynamoDB cursor is the last request's key: its id and creation time).
  const canSee = workspaceVisibility(deps, caller);
  const items: WorkRequest[] = [];
  let page = await deps.workRequests.list(input);
  for (let round = 1; ; round++) {
    let endsHidden = false;
    for (const wr of page.items) {
      endsHidden = !(await canSee(wr.scope, wr.workspace));
      if (!endsHidden) items.push(wr);
    }
    if (page.next === undefined) return { items };
    if (!endsHidden) return { items, next: page.next };
    const lastVisible = items[items.length - 1];
    if (lastVisible) return { items, next: deps.workRequests.cursorAfter(lastVisible, input) };
    // A whole page of hidden requests: read on, within a bound (then the listing ends for this caller).
    if (round >= MAX_HIDDEN_PAGES_SKIPPED) return { items };
    page = await deps.workRequests.list({ ...input, cursor: page.next });
  }
}

export async function setPriorityAdjustment(deps: Deps, caller: Caller, id: number, value: number): Promise<WorkRequest> {
  requireUser(caller);
  return withRetries(async () => {
    const { wr } = await loadWorkRequest(deps, caller, id);
    const problem = priorityChangeProblem({ isAdmin: isAdmin(caller), isCreator: wr.createdBy === callerId(caller), value });
    if (problem) {
      if (problem.startsWith('must be')) throw ValidationError.field('priority_adjustment', problem, 'Invalid priority');
      throw new ForbiddenError('Permission denied', problem);
    }
    const next = bump(wr, { priorityAdjustment: value });
    await deps.workRequests.commit({ update: [{ workRequest: next, expectedVersion: wr.version }] });
    return next;
  });
}

export async function retryWorkRequest(deps: Deps, caller: Caller, id: number): Promise<WorkRequest> {
  requireUser(caller);
  const { wr, role } = await loadWorkRequest(deps, caller, id);
  if (!roleAtLeast(role, 'contributor')) throw new ForbiddenError('Permission denied', 'retrying needs the contributor role');
  // A workflow is retried in place: populate again and retry its failed children.
  if (wr.taskType === 'Workflow') return restartWorkflow(deps, caller, wr, { retryChildren: true });
  const successor = await createSuccessor(deps, wr, { reason: 'manual' });
  await reopenParents(deps, caller, successor);
  return successor;
}

/**
 * Aborts a pending, blocked or running request (creator or workspace owner); its dependents
 * are aborted in turn, and a worker running it is told to stop.
 */
export async function abortWorkRequest(deps: Deps, caller: Caller, id: number, followUpFailures: FollowUpFailure[] = []): Promise<WorkRequest> {
  requireUser(caller);
  // Only the commit is retried; the follow-ups (dependents, worker, descendants) run once it landed.
  const { before, aborted } = await withRetries(async () => {
    const { wr, role } = await loadWorkRequest(deps, caller, id);
    if (wr.createdBy !== callerId(caller) && !roleAtLeast(role, 'owner')) {
      throw new ForbiddenError('Permission denied', 'only the creator or a workspace owner may abort a work request');
    }
    if (isFinished(wr)) throw new ValidationError('Cannot abort work request', {}, `work request ${id} is already ${wr.status}`);
    return { before: wr, aborted: await commitFinish(deps, wr, { status: 'aborted', abortedBy: callerId(caller)!, releaseSlot: holdsSlot(wr) }) };
  });
  followUpFailures.push(...(await followUpAbort(deps, before, aborted)));
  if (before.taskType === 'Workflow') await abortDescendants(deps, before.id, callerId(caller)!, followUpFailures);
  return aborted;
}

const holdsSlot = (wr: WorkRequest) => wr.worker !== null && (wr.status === 'running' || wr.status === 'pending');

/** After an abort landed: the worker running it is told to stop, then its finish follow-ups. */
async function followUpAbort(deps: Deps, before: WorkRequest, aborted: WorkRequest): Promise<FollowUpFailure[]> {
  const failures: FollowUpFailure[] = [];
  // The worker first: its task should stop now, not after the reactions and accounting (else its
  // next heartbeat, refused with 409, may stop it before the message says why).
  if (holdsSlot(before)) {
    await notifyWorker(deps, before.worker!, { type: 'abort', workRequestId: before.id }).catch((error: unknown) =>
      failures.push({ step: 'tell the worker to stop', workRequestId: before.id, error }),
    );
  }
  failures.push(...(await followUpFinish(deps, aborted)));
  return failures;
}

/** Debusine behaviour 34: every pending, blocked or running descendant is aborted too. */
async function abortDescendants(deps: Deps, workflowId: number, by: string, followUpFailures: FollowUpFailure[]): Promise<void> {
  for (const child of await deps.workRequests.children(workflowId)) {
    const done = await withRetries(async () => {
      const current = await deps.workRequests.get(child.id);
      if (!current || current.supersededBy !== null || isFinished(current)) return undefined;
      return { before: current, aborted: await commitFinish(deps, current, { status: 'aborted', abortedBy: by, releaseSlot: holdsSlot(current) }) };
    });
    if (done) followUpFailures.push(...(await followUpAbort(deps, done.before, done.aborted)));
    if (child.taskType === 'Workflow') await abortDescendants(deps, child.id, by, followUpFailures);
  }
}

/** Manual unblock (workspace owner): accept → pending, reject → aborted, notes → logged. */
export async function unblockWorkRequest(
  deps: Deps,
  caller: Caller,
  id: number,
  input: { action?: 'accept' | 'reject'; notes?: string },
): Promise<WorkRequest> {
  requireUser(caller);
  if (input.action === undefined && input.notes === undefined) {
    throw ValidationError.field('(body)', 'give "action" or "notes"', 'Cannot unblock work request');
  }
  return withRetries(async () => {
    const { wr, role } = await loadWorkRequest(deps, caller, id);
    if (!roleAtLeast(role, 'owner')) throw new ForbiddenError('Permission denied', 'unblocking needs the owner role');
    if (wr.unblockStrategy !== 'manual') throw new ValidationError('Cannot unblock work request', {}, 'it is not waiting for a manual unblock');
    if (wr.status !== 'blocked') throw new ValidationError('Cannot unblock work request', {}, `it is ${wr.status}, not blocked`);
    const manual = (wr.workflowData['manual_unblock'] as { log?: unknown[] } | undefined) ?? {};
    const log = [
      ...(manual.log ?? []),
      { user: callerId(caller), timestamp: deps.clock.now().toISOString(), notes: input.notes ?? null, action: input.action ?? null },
    ];
    const noted = bump(wr, { workflowData: { ...wr.workflowData, manual_unblock: { ...manual, log } } });
    if (input.action === 'reject') return finish(deps, { ...noted, version: wr.version }, { status: 'aborted', abortedBy: callerId(caller) });
    const next = input.action === 'accept' ? { ...noted, status: 'pending' as const } : noted;
    await deps.workRequests.commit({ update: [{ workRequest: next, expectedVersion: wr.version }] });
    if (next.status === 'pending') await deps.queues.enqueueSchedulerEvent({ type: 'work-request-pending', workRequestId: id });
    return next;
  });
}
