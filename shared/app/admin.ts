/**
 * Administration use cases (the `conveyor admin` commands): users, tokens, workspaces,
 * roles and the audit log. Every change is written to the audit log.
 */
import { randomBytes } from 'node:crypto';
import { ConflictError, NotFoundError, ValidationError } from '../domain/errors';
import { isRole, type Role } from '../domain/roles';
import {
  DEFAULT_FILE_STORE,
  DEFAULT_SCOPE,
  usernameProblem,
  workspaceNameProblem,
  type AuditEntry,
  type RoleGrant,
  type Token,
  type User,
  type Workspace,
} from '../domain/tenancy';
import type { Deps, Page } from '../ports';
import { recordAudit } from './audit';
import { hashTokenKey } from './auth';
import { applyDefaultLimits } from './quotas';

export async function createUser(
  deps: Deps,
  actor: string,
  input: { username: string; email?: string; isAdmin?: boolean },
): Promise<User> {
  const problem = usernameProblem(input.username);
  if (problem) throw ValidationError.field('username', problem, 'Invalid user');
  const user: User = {
    username: input.username,
    email: input.email,
    isAdmin: input.isAdmin ?? false,
    createdAt: deps.clock.now().toISOString(),
  };
  await deps.identity.createUser(user);
  await applyDefaultLimits(deps, user.username);
  await recordAudit(deps, actor, 'user.create', { username: user.username, isAdmin: user.isAdmin });
  return user;
}

export function listUsers(deps: Deps): Promise<User[]> {
  return deps.identity.listUsers();
}

/** A new random key: 64 hex characters, as Debusine clients expect. */
export function generateTokenKey(): string {
  return randomBytes(32).toString('hex');
}

export async function createToken(
  deps: Deps,
  actor: string,
  input: { username: string; purpose?: 'api' | 'user'; comment?: string; enabled?: boolean; expireAt?: string },
): Promise<{ token: Token; key: string }> {
  const user = await deps.identity.getUser(input.username);
  if (!user) throw new NotFoundError('Not found', `no user "${input.username}"`);
  if (input.expireAt !== undefined && Number.isNaN(Date.parse(input.expireAt))) {
    throw ValidationError.field('expire_at', 'must be an ISO 8601 date', 'Invalid token');
  }
  const purpose = input.purpose ?? 'api';
  if (purpose === 'user') {
    // REANA: at most one active "user" token; a new one needs the old one revoked.
    const existing = (await deps.identity.listTokens(user.username)).find((t) => t.purpose === 'user' && t.status !== 'revoked');
    if (existing) throw new ConflictError('Token exists', `user "${user.username}" already has a user token (${existing.id}); revoke it first`);
  }
  const key = generateTokenKey();
  const enabled = input.enabled ?? false;
  const token: Token = {
    id: deps.ids.random().slice(0, 12),
    hash: hashTokenKey(key),
    username: user.username,
    purpose,
    // Created disabled, a token waits as `requested` until an admin grants it.
    status: enabled ? 'active' : 'requested',
    enabled,
    comment: input.comment ?? '',
    createdAt: deps.clock.now().toISOString(),
    expireAt: input.expireAt ? new Date(input.expireAt).toISOString() : undefined,
    version: 1,
  };
  await deps.identity.createToken(token);
  await recordAudit(deps, actor, 'token.create', {
    token: token.id,
    username: user.username,
    purpose,
    enabled,
    expireAt: token.expireAt ?? null,
  });
  return { token, key };
}

async function loadToken(deps: Deps, tokenId: string): Promise<Token> {
  const token = await deps.identity.getTokenById(tokenId);
  if (!token) throw new NotFoundError('Not found', `no token "${tokenId}"`);
  return token;
}

export async function setTokenEnabled(deps: Deps, actor: string, tokenId: string, enabled: boolean): Promise<Token> {
  const token = await loadToken(deps, tokenId);
  if (token.status === 'revoked') throw new ConflictError('Token revoked', `token "${tokenId}" is revoked and cannot change`);
  const next: Token = { ...token, enabled, status: enabled ? 'active' : token.status, version: token.version + 1 };
  await deps.identity.updateToken(next, token.version);
  await recordAudit(deps, actor, enabled ? 'token.enable' : 'token.disable', { token: tokenId, username: token.username ?? null });
  return next;
}

export async function revokeToken(deps: Deps, actor: string, tokenId: string): Promise<Token> {
  const token = await loadToken(deps, tokenId);
  if (token.status === 'revoked') return token;
  const next: Token = { ...token, enabled: false, status: 'revoked', version: token.version + 1 };
  // Also frees the user's (user, purpose) slot when this token held it (tokens.ts).
  await deps.accounts.revokeClaimedToken(next, token.version);
  await recordAudit(deps, actor, 'token.revoke', { token: tokenId, username: token.username ?? null });
  return next;
}

export function listTokens(deps: Deps, username?: string): Promise<Token[]> {
  return deps.identity.listTokens(username);
}

function checkDelay(value: number | null | undefined, field = 'default_expiration_delay'): void {
  if (value === undefined || value === null) return;
  if (!Number.isInteger(value) || value < 0) {
    throw ValidationError.field(field, 'must be a non-negative whole number of seconds', 'Invalid workspace');
  }
}

/** A workspace's settings as an admin gives them; `scope` defaults to the default scope. */
interface WorkspaceInput {
  scope?: string;
  name: string;
  public?: boolean;
  defaultExpirationDelay?: number | null;
  expirationDelay?: number | null;
}

export async function createWorkspace(
  deps: Deps,
  actor: string,
  input: WorkspaceInput,
): Promise<Workspace> {
  const scope = input.scope ?? DEFAULT_SCOPE;
  const problem = workspaceNameProblem(input.name);
  if (problem) throw ValidationError.field('name', problem, 'Invalid workspace');
  checkDelay(input.defaultExpirationDelay);
  checkDelay(input.expirationDelay, 'expiration_delay');
  if (!(await deps.identity.getScope(scope))) throw new NotFoundError('Not found', `no scope "${scope}"`);
  const ws: Workspace = {
    scope,
    name: input.name,
    public: input.public ?? false,
    defaultExpirationDelay: input.defaultExpirationDelay ?? null,
    expirationDelay: input.expirationDelay ?? null,
    defaultFileStore: DEFAULT_FILE_STORE,
    otherFileStores: [],
    createdAt: deps.clock.now().toISOString(),
    version: 1,
  };
  await deps.identity.createWorkspace(ws);
  await recordAudit(deps, actor, 'workspace.create', { scope, workspace: ws.name, public: ws.public, defaultExpirationDelay: ws.defaultExpirationDelay, expirationDelay: ws.expirationDelay ?? null });
  return ws;
}

export async function updateWorkspace(
  deps: Deps,
  actor: string,
  input: WorkspaceInput,
): Promise<Workspace> {
  const scope = input.scope ?? DEFAULT_SCOPE;
  checkDelay(input.defaultExpirationDelay);
  checkDelay(input.expirationDelay, 'expiration_delay');
  const ws = await deps.identity.getWorkspace(scope, input.name);
  if (!ws) throw new NotFoundError('Not found', `no workspace "${input.name}" in scope "${scope}"`);
  const next: Workspace = {
    ...ws,
    public: input.public ?? ws.public,
    defaultExpirationDelay: input.defaultExpirationDelay !== undefined ? input.defaultExpirationDelay : ws.defaultExpirationDelay,
    expirationDelay: input.expirationDelay !== undefined ? input.expirationDelay : (ws.expirationDelay ?? null),
    version: ws.version + 1,
  };
  await deps.identity.updateWorkspace(next, ws.version);
  await recordAudit(deps, actor, 'workspace.update', {
    scope,
    workspace: ws.name,
    before: { public: ws.public, defaultExpirationDelay: ws.defaultExpirationDelay, expirationDelay: ws.expirationDelay ?? null },
    after: { public: next.public, defaultExpirationDelay: next.defaultExpirationDelay, expirationDelay: next.expirationDelay ?? null },
  });
  return next;
}

export function listWorkspaces(deps: Deps, scope: string = DEFAULT_SCOPE): Promise<Workspace[]> {
  return deps.identity.listWorkspaces(scope);
}

export async function grantRole(
  deps: Deps,
  actor: string,
  input: { scope?: string; workspace: string; username: string; role: string },
): Promise<RoleGrant> {
  const scope = input.scope ?? DEFAULT_SCOPE;
  if (!isRole(input.role)) throw ValidationError.field('role', 'must be one of viewer, uploader, contributor, owner', 'Invalid role');
  if (!(await deps.identity.getWorkspace(scope, input.workspace))) {
    throw new NotFoundError('Not found', `no workspace "${input.workspace}" in scope "${scope}"`);
  }
  if (!(await deps.identity.getUser(input.username))) throw new NotFoundError('Not found', `no user "${input.username}"`);
  const previous = await deps.identity.getRole(scope, input.workspace, input.username);
  const grant: RoleGrant = {
    scope,
    workspace: input.workspace,
    username: input.username,
    role: input.role as Role,
    grantedAt: deps.clock.now().toISOString(),
  };
  await deps.identity.putRole(grant);
  await recordAudit(deps, actor, 'role.grant', { scope, workspace: input.workspace, username: input.username, role: grant.role, previous: previous ?? null });
  return grant;
}

export async function revokeRole(deps: Deps, actor: string, input: { scope?: string; workspace: string; username: string }): Promise<void> {
  const scope = input.scope ?? DEFAULT_SCOPE;
  const existed = await deps.identity.deleteRole(scope, input.workspace, input.username);
  if (!existed) throw new NotFoundError('Not found', `"${input.username}" holds no role in "${input.workspace}"`);
  await recordAudit(deps, actor, 'role.revoke', { scope, workspace: input.workspace, username: input.username });
}

export function listRoles(deps: Deps, input: { scope?: string; workspace: string }): Promise<RoleGrant[]> {
  return deps.identity.listRoles(input.scope ?? DEFAULT_SCOPE, input.workspace);
}

export function listAudit(deps: Deps, input: { limit: number; cursor?: string }): Promise<Page<AuditEntry>> {
  return deps.audit.list(input);
}
