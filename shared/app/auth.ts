import { createHash } from 'node:crypto';
import { NotFoundError, UnauthorizedError, ForbiddenError } from '../domain/errors';
import { roleAtLeast, workspaceAccess, type Role } from '../domain/roles';
import { tokenUnusableReason, type Token, type User, type Workspace } from '../domain/tenancy';
import type { Worker } from '../domain/workers';
import type { Deps } from '../ports';
import { refuseDisabledUser } from './user-status';

export type Caller =
  | { kind: 'anonymous' }
  | { kind: 'user'; user: User; token: Token }
  | { kind: 'worker'; worker: Worker; token: Token; task?: TaskScope };

/**
 * A task token (security finding 4) acts for one work request running on the worker: it may
 * read that request's workspace (and public ones), run its lookups and create and upload its
 * outputs, but none of the worker's own calls (get-next, completion, metadata, its queue).
 */
export interface TaskScope {
  workRequestId: number;
  scope: string;
  workspace: string;
}

/** Recording `last_seen_at` on every request would double the writes; once per 5 minutes is enough. */
const LAST_SEEN_RESOLUTION_MS = 5 * 60 * 1000;

export function hashTokenKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Debusine's answer (403, DRF's detail) to a token that is unknown, disabled or expired. */
export const UNUSABLE_TOKEN_DETAIL = 'Authentication credentials were not provided.';

export function unusableToken(reason: string): ForbiddenError {
  return new ForbiddenError(`Invalid token: ${reason}`, UNUSABLE_TOKEN_DETAIL);
}

/**
 * Identifies the caller from the `Token` header; no header means anonymous. A token that cannot
 * authenticate gets 403 with Debusine's detail: its client reads 403 as "token invalid or disabled",
 * and its worker keeps retrying until an admin enables the token.
 */
export async function authenticate(deps: Deps, tokenKey: string | undefined): Promise<Caller> {
  if (tokenKey === undefined || tokenKey === '') return { kind: 'anonymous' };
  return authenticateTokenHash(deps, hashTokenKey(tokenKey.trim()));
}

/** `authenticate` for a token known only by its SHA-256 (an upload that reached the bucket through CloudFront). */
export async function authenticateTokenHash(deps: Deps, hash: string): Promise<Caller> {
  const token = await deps.identity.getTokenByHash(hash);
  if (!token) throw unusableToken('the token is not known');
  const now = deps.clock.now();
  const unusable = tokenUnusableReason(token, now);
  if (unusable) throw unusableToken(unusable);
  if (token.purpose === 'worker' && token.workerName) {
    const worker = await deps.workers.get(token.workerName);
    if (!worker) throw new UnauthorizedError('Invalid token', 'the token has no worker');
    await recordTokenUse(deps, token, now);
    return { kind: 'worker', worker, token };
  }
  if (token.purpose === 'task' && token.workerName && token.workRequestId !== undefined) {
    const task = await authenticateTask(deps, token);
    await recordTokenUse(deps, token, now);
    return task;
  }
  // An activation token only lets a pool worker register (the register use case reads it
  // itself); for everything else the caller is anonymous.
  if (token.purpose === 'activation') return { kind: 'anonymous' };
  if (!token.username) throw new UnauthorizedError('Invalid token', 'the token is not a user token');
  const user = await deps.identity.getUser(token.username);
  if (!user) throw new UnauthorizedError('Invalid token', 'the token has no user');
  refuseDisabledUser(user);
  await recordTokenUse(deps, token, now);
  return { kind: 'user', user, token };
}

/**
 * The token just read says when it was last recorded: skip the write inside the resolution
 * window (a conditional write that fails is still billed, so the check happens here first).
 */
async function recordTokenUse(deps: Deps, token: Token, now: Date): Promise<void> {
  if (token.lastSeenAt && now.getTime() - Date.parse(token.lastSeenAt) < LAST_SEEN_RESOLUTION_MS) return;
  await deps.identity.touchToken(token.hash, now, LAST_SEEN_RESOLUTION_MS);
}

export function requireUser(caller: Caller): asserts caller is Extract<Caller, { kind: 'user' }> {
  if (caller.kind === 'worker') throw new ForbiddenError('Permission denied', 'this endpoint needs a user token, not a worker token');
  if (caller.kind !== 'user') throw new UnauthorizedError('Authentication required', 'send a "Token" header');
}

/** The worker itself: a task token is refused (it never gets work, completes it or reads the queue). */
export function requireWorker(caller: Caller): asserts caller is Extract<Caller, { kind: 'worker' }> {
  requireWorkerOrTask(caller);
  if (caller.task) throw new ForbiddenError('Permission denied', 'a task token cannot do this; only the worker itself can');
}

/** The worker, or a task acting for one of its running requests (lookups, outputs). */
export function requireWorkerOrTask(caller: Caller): asserts caller is Extract<Caller, { kind: 'worker' }> {
  if (caller.kind === 'user') throw new ForbiddenError('Permission denied', 'this endpoint needs a worker token, not a user token');
  if (caller.kind !== 'worker') throw new UnauthorizedError('Authentication required', 'send the worker\'s token in a "Token" header');
}

/** A task token acts only for its own work request: anything else is 403. */
export function checkTaskRequest(caller: Extract<Caller, { kind: 'worker' }>, workRequestId: number): void {
  if (caller.task && caller.task.workRequestId !== workRequestId) {
    throw new ForbiddenError('Permission denied', `this task token acts for work request ${caller.task.workRequestId} only`);
  }
}

/** A task token is valid while its request runs on its worker: it dies with the request. */
async function authenticateTask(deps: Deps, token: Token): Promise<Caller> {
  const worker = await deps.workers.get(token.workerName!);
  if (!worker || !worker.enabled) throw new UnauthorizedError('Invalid token', 'the task token has no enabled worker');
  const wr = await deps.workRequests.get(token.workRequestId!);
  if (!wr || wr.worker !== worker.name || wr.status !== 'running') {
    throw new UnauthorizedError('Invalid token', `work request ${token.workRequestId} is no longer running on worker ${worker.name}`);
  }
  return { kind: 'worker', worker, token, task: { workRequestId: wr.id, scope: wr.scope, workspace: wr.workspace } };
}

/** How the caller appears in `created_by` and the audit log. */
export function callerId(caller: Caller): string | undefined {
  return caller.kind === 'user' ? `user:${caller.user.username}` : undefined;
}

export function isAdmin(caller: Caller): boolean {
  return caller.kind === 'user' && caller.user.isAdmin;
}

export interface WorkspaceContext {
  workspace: Workspace;
  role: Role | undefined;
}

/**
 * Loads a workspace the caller may see and checks the role the operation needs.
 * A workspace the caller cannot see answers 404 exactly like a missing one, so its
 * existence never leaks; a visible one with too low a role answers 403 (401 when
 * the caller is anonymous and logging in could help).
 */
export async function accessWorkspace(
  deps: Deps,
  caller: Caller,
  scope: string,
  name: string,
  needed: Role,
  notFound: () => Error = () => new NotFoundError('Not found', `workspace "${name}" not found in scope "${scope}"`),
): Promise<WorkspaceContext> {
  // The caller's role is read together with the workspace, whether or not it exists: a missing
  // workspace and a hidden one cost the same reads, so the answer's timing does not tell them apart.
  const [workspace, granted] = await Promise.all([
    deps.identity.getWorkspace(scope, name),
    caller.kind === 'user' ? deps.identity.getRole(scope, name, caller.user.username) : Promise.resolve(undefined),
  ]);
  if (!workspace) throw notFound();
  if (caller.kind === 'worker') {
    // Workers pass every display check (Debusine); they change nothing through user endpoints.
    if (needed !== 'viewer') throw new ForbiddenError('Permission denied', 'this endpoint needs a user token, not a worker token');
    // A task sees its own workspace, and public ones like anybody.
    const ownWorkspace = !caller.task || (caller.task.scope === scope && caller.task.workspace === name);
    if (!ownWorkspace && !workspace.public) throw notFound();
    return { workspace, role: 'viewer' };
  }
  const access = workspaceAccess({ isAdmin: isAdmin(caller), granted, workspacePublic: workspace.public });
  if (!access.canSee) throw notFound();
  if (!roleAtLeast(access.role, needed)) {
    if (caller.kind === 'anonymous') throw new UnauthorizedError('Authentication required', `this needs the ${needed} role`);
    throw new ForbiddenError('Permission denied', `this needs the ${needed} role in workspace "${name}"`);
  }
  return { workspace, role: access.role };
}
