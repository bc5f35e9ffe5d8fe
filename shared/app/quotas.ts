/**
 * Quotas on the request path and for administrators. Enforcing costs at most one read: the
 * user's quota travels on the user item that authentication has already read, and the
 * workspace's is one GetItem.
 */
import { ValidationError } from '../domain/errors';
import {
  DEFAULT_QUOTA_SETTINGS,
  RESOURCES,
  describeResourceQuota,
  enforceQuota,
  isResource,
  parseLimit,
  QuotaExceededError,
  emptyQuota,
  type Account,
  type Quota,
  type QuotaSettings,
  type Resource,
  type ResourceQuotaView,
} from '../domain/quotas';
import type { User } from '../domain/tenancy';
import type { Deps } from '../ports';
import { recordAudit } from './audit';
import type { Caller } from './auth';

export function quotaSettingsOf(deps: Deps): QuotaSettings {
  return deps.quotaSettings ?? DEFAULT_QUOTA_SETTINGS;
}

export function userQuota(user: User): Quota {
  return user.quota ?? emptyQuota();
}

/**
 * Refuses new work (work requests, workflows, artifacts) when the caller or the workspace is at or
 * over a limit. `incoming` adds what this request would bring (an artifact's declared bytes), so
 * that an upload that would cross the limit is refused before it is made.
 */
export async function enforceQuotas(deps: Deps, caller: Caller, scope: string, workspace: string, incoming: Partial<Record<Resource, number>> = {}): Promise<void> {
  if (caller.kind === 'user') checkAccount({ kind: 'user', username: caller.user.username }, userQuota(caller.user), incoming);
  const wsAccount: Account = { kind: 'workspace', scope, workspace };
  checkAccount(wsAccount, await deps.quotas.getQuota(wsAccount), incoming);
}

function checkAccount(account: Account, quota: Quota, incoming: Partial<Record<Resource, number>>): void {
  enforceQuota(account, quota);
  for (const r of RESOURCES) {
    const extra = incoming[r] ?? 0;
    const { limit, used } = quota[r];
    if (limit !== 0 && extra > 0 && used + extra > limit) throw new QuotaExceededError(account, r, used, limit, extra);
  }
}

/** REANA's quota output: per resource, usage with human-readable units, limit and health when limited. */
export function describeQuota(quota: Quota): Record<Resource, ResourceQuotaView> {
  return { cpu: describeResourceQuota('cpu', quota.cpu), disk: describeResourceQuota('disk', quota.disk) };
}

/** The API's and the CLI's view of an account's quota. */
export function quotaView(account: Account, quota: Quota) {
  return { ...(account.kind === 'user' ? { user: account.username } : { scope: account.scope, workspace: account.workspace }), quota: describeQuota(quota) };
}

export async function showQuota(deps: Deps, account: Account): Promise<Quota> {
  if (account.kind === 'user') {
    const user = await deps.identity.getUser(account.username);
    if (!user) throw new ValidationError('Invalid account', { user: [`no user "${account.username}"`] });
  } else if (!(await deps.identity.getWorkspace(account.scope, account.workspace))) {
    throw new ValidationError('Invalid account', { workspace: [`no workspace "${account.workspace}" in scope "${account.scope}"`] });
  }
  return deps.accounts.getQuota(account);
}

export async function setQuotaLimit(deps: Deps, actor: string, account: Account, resource: string, limit: unknown): Promise<Quota> {
  if (!isResource(resource)) throw ValidationError.field('resource', 'must be "cpu" or "disk"', 'Invalid quota');
  const value = parseLimit(limit);
  const before = await showQuota(deps, account);
  const quota = await deps.accounts.setLimit(account, resource, value);
  await recordAudit(deps, actor, 'quota.set', { account, resource, limit: value, previous: before[resource].limit });
  return quota;
}

/** New users get the configured default limits (REANA_DEFAULT_QUOTA_*_LIMIT). */
export async function applyDefaultLimits(deps: Deps, username: string): Promise<void> {
  const { defaultLimits } = quotaSettingsOf(deps);
  for (const r of RESOURCES) {
    if (defaultLimits[r]) await deps.accounts.setLimit({ kind: 'user', username }, r, defaultLimits[r]);
  }
}
