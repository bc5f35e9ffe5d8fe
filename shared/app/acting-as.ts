/**
 * Who a work request acts as, and where: its creator (lookups and collection updates run with
 * exactly the creator's rights), in its workspace, inside its root workflow.
 */
import { ForbiddenError, UnauthorizedError, ValidationError } from '../domain/errors';
import { isFinished, type WorkRequest } from '../domain/work-requests';
import type { Deps } from '../ports';
import { checkTaskRequest, requireWorkerOrTask, type Caller } from './auth';
import { CreatorDisabledError } from './user-status';

/** Where a lookup runs: as whom, in which workspace, and inside which root workflow (for `internal@collections`). */
export interface LookupContext {
  scope: string;
  workspace: string;
  caller: Caller;
  workflowRootId?: number;
}

/** The root workflow of a request (itself for a root workflow), or undefined outside workflows. */
export async function rootWorkflowOf(deps: Deps, wr: WorkRequest): Promise<WorkRequest | undefined> {
  let current: WorkRequest | undefined = wr;
  let root: WorkRequest | undefined = wr.taskType === 'Workflow' ? wr : undefined;
  for (let depth = 0; depth < 100 && current?.parent != null; depth++) {
    current = await deps.workRequests.get(current.parent);
    if (current?.taskType === 'Workflow') root = current;
  }
  return root;
}

/** The id of the root workflow of a request, or undefined outside workflows. */
export async function workflowRootOf(deps: Deps, wr: WorkRequest): Promise<number | undefined> {
  return (await rootWorkflowOf(deps, wr))?.id;
}

/**
 * The caller a request's lookups run as: its creator (`user:<name>`), so that they see exactly what
 * the creator may see. The token is a stand-in: nothing authenticates with it. A disabled creator is
 * refused (CreatorDisabledError) like its tokens are: its work must not keep acting with its rights.
 */
export async function callerForCreator(deps: Deps, createdBy: string): Promise<Caller> {
  const m = /^user:(.+)$/.exec(createdBy);
  if (!m) throw new ForbiddenError('Permission denied', `lookups cannot act for "${createdBy}"`);
  const user = await deps.identity.getUser(m[1]!);
  if (!user) throw new ForbiddenError('Permission denied', `user "${m[1]}" no longer exists`);
  if (user.disabled) throw new CreatorDisabledError(user.username);
  return {
    kind: 'user',
    user,
    token: {
      id: `acting-for-${user.username}`,
      hash: '',
      username: user.username,
      purpose: 'user',
      status: 'active',
      enabled: true,
      comment: 'stand-in: a work request acting for its creator',
      createdAt: user.createdAt,
      version: 0,
    },
  };
}

/** Workflow code acts as the request's creator (Debusine: lookups run as `created_by`). */
export function creatorCaller(deps: Deps, wr: WorkRequest): Promise<Caller> {
  return callerForCreator(deps, wr.createdBy);
}

/** The context of the lookups `wr` makes: as its creator, in its workspace and root workflow. */
export async function lookupContextOf(deps: Deps, wr: WorkRequest, root?: WorkRequest): Promise<LookupContext> {
  const workflowRootId = (root ?? (await rootWorkflowOf(deps, wr)))?.id;
  return {
    scope: wr.scope,
    workspace: wr.workspace,
    caller: await creatorCaller(deps, wr),
    ...(workflowRootId !== undefined ? { workflowRootId } : {}),
  };
}

/**
 * The context of a worker's lookup: the request must be assigned to the calling worker and not finished
 * (otherwise 401); the lookup runs as the request's creator in its workspace, inside its root workflow.
 */
export async function lookupContextForWorker(deps: Deps, caller: Caller, workRequestId: number): Promise<LookupContext> {
  requireWorkerOrTask(caller);
  checkTaskRequest(caller, workRequestId);
  const wr = await deps.workRequests.get(workRequestId);
  if (!wr) throw ValidationError.field('work_request', `work request ${workRequestId} does not exist`, 'Invalid lookup');
  if (wr.worker !== caller.worker.name || isFinished(wr)) {
    throw new UnauthorizedError('Not assigned', `work request ${workRequestId} is not assigned to worker ${caller.worker.name}`);
  }
  return lookupContextOf(deps, wr);
}
