import type { Role } from './roles';

export const DEFAULT_SCOPE = 'debusine';
export const DEFAULT_WORKSPACE = 'System';
export const DEFAULT_FILE_STORE = 'Default';

/** Where a record lives: a workspace of a scope. */
export interface WorkspaceRef {
  scope: string;
  workspace: string;
}

export interface Scope {
  name: string;
  label: string;
  createdAt: string;
}

export interface Workspace {
  scope: string;
  name: string;
  public: boolean;
  /** Seconds until a new artifact expires; 0 or null keeps it forever. */
  defaultExpirationDelay: number | null;
  /**
   * Seconds after its last work request finished (after its creation if it never ran one) when the
   * workspace itself is deleted by the expiry pass; 0, null or absent: never (Debusine's rule).
   */
  expirationDelay?: number | null;
  defaultFileStore: string;
  otherFileStores: string[];
  createdAt: string;
  version: number;
}

export interface User {
  username: string;
  email?: string;
  isAdmin: boolean;
  createdAt: string;
  /** A disabled user's tokens are all refused and their pending work is not started. */
  disabled?: boolean;
  /** The user's quota, kept on the user item so that authentication reads it for free. */
  quota?: import('./quotas').Quota;
}

/**
 * REANA's token lifecycle with Debusine's enabled flag: `requested` tokens are
 * disabled until granted, `active` ones may still be disabled by an admin, `revoked`
 * is final.
 */
export type TokenStatus = 'requested' | 'active' | 'revoked';

export interface Token {
  id: string;
  /** SHA-256 (hex) of the key. The key itself is never stored. */
  hash: string;
  /** The owning user; absent for worker and activation tokens. */
  username?: string;
  /** The worker this token authenticates (purpose `worker`). */
  workerName?: string;
  /**
   * `user` for the one per-user token of a purpose, `api` for named API tokens, `worker` for a
   * worker's own token, `activation` for a 15-minute token that lets a pool worker register enabled.
   */
  purpose: 'user' | 'api' | 'worker' | 'activation' | 'task';
  /** Purpose `task`: the one work request (running on `workerName`) this short-lived token acts for. */
  workRequestId?: number;
  status: TokenStatus;
  enabled: boolean;
  comment: string;
  createdAt: string;
  expireAt?: string;
  lastSeenAt?: string;
  version: number;
}

export interface RoleGrant {
  scope: string;
  workspace: string;
  username: string;
  role: Role;
  grantedAt: string;
}

export interface AuditEntry {
  id: string;
  at: string;
  actor: string;
  action: string;
  details: Record<string, unknown>;
}

/** Why a token cannot authenticate now, or undefined if it can. */
export function tokenUnusableReason(token: Token, now: Date): string | undefined {
  if (token.status === 'revoked') return 'token has been revoked';
  if (token.status !== 'active' || !token.enabled) return 'token is disabled';
  if (token.expireAt && Date.parse(token.expireAt) <= now.getTime()) return 'token has expired';
  return undefined;
}

const WORKSPACE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$/;
const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,149}$/;

export function workspaceNameProblem(name: string): string | undefined {
  return WORKSPACE_NAME.test(name)
    ? undefined
    : 'must be 1-100 characters of letters, digits, ".", "_", "+" or "-", starting with a letter or digit';
}

export function usernameProblem(name: string): string | undefined {
  return USERNAME.test(name)
    ? undefined
    : 'must be 1-150 characters of letters, digits, ".", "_", "@", "+" or "-", starting with a letter or digit';
}
