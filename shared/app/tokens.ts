/**
 * REANA's token lifecycle (launchpad_reana.md §B.9, behaviour 34) and users' disable/enable.
 * A user requests a token (`requested`, no usable key); an admin grants it: the same token (same
 * id) becomes `active` and its key is shown once; an admin revokes it. A (user, purpose) slot is
 * held by at most one requested-or-active token, enforced by a conditional claim item, so two
 * racing requests cannot both win. Named API tokens (`api`) live beside it, unclaimed.
 *
 * Kept apart from auth.ts on purpose: authentication only asks `refuseDisabledUser`.
 */
import { ConflictError, NotFoundError, ValidationError } from '../domain/errors';
import type { Token, User } from '../domain/tenancy';
import type { Deps } from '../ports';
import { generateTokenKey } from './admin';
import { recordAudit } from './audit';
import { hashTokenKey } from './auth';

/** The purposes that hold one slot per user (REANA's UserTokenType: one `reana` token). */
export const CLAIMED_PURPOSES = ['user'] as const;

/** 12 characters of the random id (its end: the test fakes count at the end). */
function newTokenId(deps: Deps): string {
  return deps.ids.random().slice(-12);
}

/** A requested token has no key yet: its item is keyed by a placeholder that no key hashes to. */
function placeholderHash(id: string): string {
  return `requested-${id}`;
}

/** REANA's `request_access_token`: 409 when a token of that purpose is active or requested. */
export async function requestToken(deps: Deps, user: User, input: { comment?: string } = {}): Promise<Token> {
  const legacy = (await deps.identity.listTokens(user.username)).find((t) => t.purpose === 'user' && t.status !== 'revoked');
  if (legacy) throw tokenSlotTaken(user.username, legacy);
  const id = newTokenId(deps);
  const token: Token = {
    id,
    hash: placeholderHash(id),
    username: user.username,
    purpose: 'user',
    status: 'requested',
    enabled: false,
    comment: input.comment ?? '',
    createdAt: deps.clock.now().toISOString(),
    version: 1,
  };
  await deps.accounts.requestToken(token);
  await recordAudit(deps, `user:${user.username}`, 'request_token', { token: id, username: user.username, purpose: 'user' });
  return token;
}

function tokenSlotTaken(username: string, token: Token): ConflictError {
  return new ConflictError('Token exists', `user "${username}" already has a ${token.purpose} token (${token.id}) that is ${token.status}; ask an administrator to revoke it first`);
}

/**
 * REANA's `access_token` setter: a requested token becomes active with a new key (shown once);
 * with no requested token, a new active one is created, refused while one is active.
 */
export async function grantToken(deps: Deps, actor: string, input: { tokenId?: string; username?: string }): Promise<{ token: Token; key: string }> {
  const requested = input.tokenId !== undefined ? await deps.identity.getTokenById(input.tokenId) : await latestUserToken(deps, input.username);
  const key = generateTokenKey();
  const now = deps.clock.now().toISOString();
  if (requested && requested.status === 'requested') {
    const granted: Token = { ...requested, hash: hashTokenKey(key), status: 'active', enabled: true, version: requested.version + 1 };
    await deps.accounts.grantRequestedToken(requested, granted);
    await recordAudit(deps, actor, 'grant_token', { token: granted.id, username: granted.username ?? null });
    return { token: granted, key };
  }
  if (input.tokenId !== undefined) {
    if (!requested) throw new NotFoundError('Not found', `no token "${input.tokenId}"`);
    throw new ConflictError('Token not requested', `token "${requested.id}" is ${requested.status}: only a requested token can be granted`);
  }
  const username = input.username!;
  const user = await deps.identity.getUser(username);
  if (!user) throw new NotFoundError('Not found', `no user "${username}"`);
  if (requested && requested.status === 'active') throw tokenSlotTaken(username, requested);
  const id = newTokenId(deps);
  const token: Token = { id, hash: hashTokenKey(key), username, purpose: 'user', status: 'active', enabled: true, comment: '', createdAt: now, version: 1 };
  await deps.accounts.createClaimedToken(token);
  await recordAudit(deps, actor, 'grant_token', { token: id, username });
  return { token, key };
}

/** The user's newest non-revoked user token (REANA looks at the latest one). */
async function latestUserToken(deps: Deps, username: string | undefined): Promise<Token | undefined> {
  if (username === undefined) throw ValidationError.field('token', 'give a token id or a username', 'Invalid grant');
  const tokens = (await deps.identity.listTokens(username)).filter((t) => t.purpose === 'user' && t.status !== 'revoked');
  return tokens.sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0];
}

/** Revokes a token for good and frees its user's slot; REANA's revoke_token in the audit log. */
export async function revokeUserToken(deps: Deps, actor: string, tokenId: string): Promise<Token> {
  const token = await deps.identity.getTokenById(tokenId);
  if (!token) throw new NotFoundError('Not found', `no token "${tokenId}"`);
  if (token.status === 'revoked') return token;
  const next: Token = { ...token, enabled: false, status: 'revoked', version: token.version + 1 };
  await deps.accounts.revokeClaimedToken(next, token.version);
  await recordAudit(deps, actor, 'revoke_token', { token: tokenId, username: token.username ?? null });
  return next;
}

/** A user's own tokens (never the keys or hashes). */
export async function listOwnTokens(deps: Deps, user: User): Promise<Token[]> {
  return (await deps.identity.listTokens(user.username)).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

export async function setUserDisabled(deps: Deps, actor: string, username: string, disabled: boolean): Promise<User> {
  const user = await deps.identity.getUser(username);
  if (!user) throw new NotFoundError('Not found', `no user "${username}"`);
  const updated = await deps.accounts.setUserDisabled(username, disabled);
  await recordAudit(deps, actor, disabled ? 'user.disable' : 'user.enable', { username });
  return updated;
}

