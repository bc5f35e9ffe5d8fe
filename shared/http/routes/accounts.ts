/**
 * `/api/1.0/user/…` (a user's own tokens and quota) and `/api/1.0/admin/…` (users, tokens and
 * quotas, for administrators): REANA's account API on Conveyor's conventions.
 */
import * as z from 'zod';
import { recomputeUsageInBulk as recomputeUsage } from '../../app/bulk-recompute';
import { isAdmin, requireUser, type Caller } from '../../app/auth';
import { listTokens, listUsers } from '../../app/admin';
import { describeQuota, quotaView, setQuotaLimit, showQuota, userQuota } from '../../app/quotas';
import { grantToken, listOwnTokens, requestToken, revokeUserToken, setUserDisabled } from '../../app/tokens';
import { ForbiddenError, ValidationError } from '../../domain/errors';
import type { Account } from '../../domain/quotas';
import type { Token, User } from '../../domain/tenancy';
import type { Deps } from '../../ports';
import { json, jsonBody, type HttpRequest, type RouteHandler } from '../request';
import { parseWith } from '../validation';
import { snakeCaseFields } from '../../domain/fields';

const requestSchema = z.strictObject({ comment: z.string().max(255).optional() });
const grantSchema = z.union([z.strictObject({ token: z.string().min(1).max(64) }), z.strictObject({ username: z.string().min(1).max(150) })]);
const quotaAccountSchema = z.union([
  z.strictObject({ user: z.string().min(1).max(150) }),
  z.strictObject({ workspace: z.string().min(1).max(100), scope: z.string().min(1).max(100).optional() }),
]);
const setQuotaSchema = z.strictObject({
  user: z.string().min(1).max(150).optional(),
  workspace: z.string().min(1).max(100).optional(),
  scope: z.string().min(1).max(100).optional(),
  resource: z.enum(['cpu', 'disk']),
  limit: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
});

export function tokenJson(t: Token) {
  return {
    id: t.id,
    user: t.username ?? null,
    ...snakeCaseFields(t, ['purpose', 'status', 'enabled', 'comment', 'createdAt']),
    expire_at: t.expireAt ?? null,
    last_seen_at: t.lastSeenAt ?? null,
  };
}

const quotaJson = quotaView;

function userJson(u: User) {
  return { username: u.username, email: u.email ?? null, is_admin: u.isAdmin, disabled: Boolean(u.disabled), created_at: u.createdAt, quota: describeQuota(userQuota(u)) };
}

function requireAdmin(caller: Caller): asserts caller is Extract<Caller, { kind: 'user' }> {
  requireUser(caller);
  if (!isAdmin(caller)) throw new ForbiddenError('Permission denied', 'this endpoint is for administrators');
}

function actorOf(caller: Extract<Caller, { kind: 'user' }>): string {
  return `user:${caller.user.username}`;
}

function accountFrom(input: { user?: string | undefined; workspace?: string | undefined; scope?: string | undefined }, req: HttpRequest): Account {
  if (input.user !== undefined && input.workspace === undefined) return { kind: 'user', username: input.user };
  if (input.workspace !== undefined && input.user === undefined) return { kind: 'workspace', scope: input.scope ?? req.scope, workspace: input.workspace };
  throw new ValidationError('Invalid quota account', { user: ['give either "user" or "workspace"'], workspace: ['give either "user" or "workspace"'] });
}

export const accountsRoutes = (getDeps: () => Deps): Record<string, RouteHandler> => ({
  'GET /api/1.0/user/token/': async (req) => {
    requireUser(req.caller);
    return json(200, { results: (await listOwnTokens(getDeps(), req.caller.user)).map(tokenJson) });
  },
  'POST /api/1.0/user/token/': async (req) => {
    requireUser(req.caller);
    const body = parseWith(requestSchema, jsonBody(req) ?? {}, 'Invalid token request');
    const token = await requestToken(getDeps(), req.caller.user, body.comment !== undefined ? { comment: body.comment } : {});
    return json(201, tokenJson(token));
  },
  'GET /api/1.0/user/quota/': async (req) => {
    requireUser(req.caller);
    const account: Account = { kind: 'user', username: req.caller.user.username };
    return json(200, quotaJson(account, userQuota(req.caller.user)));
  },
  'GET /api/1.0/admin/user/': async (req) => {
    requireAdmin(req.caller);
    return json(200, { results: (await listUsers(getDeps())).map(userJson) });
  },
  'POST /api/1.0/admin/user/{username}/disable/': async (req) => {
    requireAdmin(req.caller);
    return json(200, userJson(await setUserDisabled(getDeps(), actorOf(req.caller), req.params['username'] ?? '', true)));
  },
  'POST /api/1.0/admin/user/{username}/enable/': async (req) => {
    requireAdmin(req.caller);
    return json(200, userJson(await setUserDisabled(getDeps(), actorOf(req.caller), req.params['username'] ?? '', false)));
  },
  'GET /api/1.0/admin/token/': async (req) => {
    requireAdmin(req.caller);
    return json(200, { results: (await listTokens(getDeps(), req.query['user'])).map(tokenJson) });
  },
  'POST /api/1.0/admin/token/grant/': async (req) => {
    requireAdmin(req.caller);
    const body = parseWith(grantSchema, jsonBody(req), 'Invalid grant');
    const { token, key } = await grantToken(getDeps(), actorOf(req.caller), 'token' in body ? { tokenId: body.token } : { username: body.username });
    // The key is shown this once: only its hash is stored.
    return json(200, { ...tokenJson(token), key });
  },
  'POST /api/1.0/admin/token/{id}/revoke/': async (req) => {
    requireAdmin(req.caller);
    return json(200, tokenJson(await revokeUserToken(getDeps(), actorOf(req.caller), req.params['id'] ?? '')));
  },
  'GET /api/1.0/admin/quota/': async (req) => {
    requireAdmin(req.caller);
    const input = parseWith(quotaAccountSchema, { ...req.query }, 'Invalid quota query');
    const account = accountFrom(input, req);
    return json(200, quotaJson(account, await showQuota(getDeps(), account)));
  },
  'PUT /api/1.0/admin/quota/': async (req) => {
    requireAdmin(req.caller);
    const body = parseWith(setQuotaSchema, jsonBody(req), 'Invalid quota');
    const account = accountFrom(body, req);
    return json(200, quotaJson(account, await setQuotaLimit(getDeps(), actorOf(req.caller), account, body.resource, body.limit)));
  },
  'POST /api/1.0/admin/quota/recompute/': async (req) => {
    requireAdmin(req.caller);
    const summary = await recomputeUsage(getDeps(), { actor: actorOf(req.caller) });
    return json(200, { sources: summary.sources, corrected: summary.corrected });
  },
});
