/**
 * DynamoIdentityRepository against DynamoDB Local (see test/integration/global-setup.ts).
 * The table is shared: every test uses its own names.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { randomBytes, randomUUID } from 'node:crypto';
import { DynamoIdentityRepository } from '../../shared/adapters/dynamodb/identity-repository';
import { ConflictError, NotFoundError } from '../../shared/domain/errors';
import type { Token, User, Workspace } from '../../shared/domain/tenancy';

const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const repo = new DynamoIdentityRepository(doc, process.env.CONVEYOR_TABLE_MAIN!);

afterAll(() => doc.destroy());

const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

function workspaceOf(scope: string, name = unique('ws')): Workspace {
  return {
    scope,
    name,
    public: false,
    defaultExpirationDelay: null,
    expirationDelay: null,
    defaultFileStore: 'Default',
    otherFileStores: ['Mirror', 'Cold'],
    createdAt: '2026-11-22T10:00:00.000Z',
    version: 1,
  };
}

function tokenOf(username: string | undefined, overrides: Partial<Token> = {}): Token {
  return {
    id: unique('tok'),
    hash: randomBytes(32).toString('hex'),
    username,
    purpose: 'api',
    status: 'active',
    enabled: true,
    comment: 'ci',
    createdAt: '2026-11-22T10:00:00.000Z',
    version: 1,
    ...overrides,
  };
}

async function userNamed(name = unique('user'), extra: Partial<User> = {}): Promise<User> {
  const user: User = { username: name, isAdmin: false, createdAt: '2026-11-22T10:00:00.000Z', ...extra };
  await repo.createUser(user);
  return user;
}

describe('scopes', () => {
  test('created once, then left alone', async () => {
    const scope = { name: unique('scope'), label: 'Scope', createdAt: '2026-11-22T10:00:00.000Z' };
    expect(await repo.getScope(scope.name)).toBeUndefined();
    expect(await repo.createScopeIfAbsent(scope)).toBe(true);
    expect(await repo.createScopeIfAbsent({ ...scope, label: 'Other' })).toBe(false);
    expect(await repo.getScope(scope.name)).toEqual(scope);
  });
});

describe('workspaces', () => {
  test('round trip, name clash, versioned update, listing by scope', async () => {
    const scope = unique('scope');
    const ws = workspaceOf(scope, 'b-ws');
    await repo.createWorkspace(ws);
    expect(await repo.getWorkspace(scope, ws.name)).toEqual(ws);
    await expect(repo.createWorkspace({ ...ws, public: true })).rejects.toBeInstanceOf(ConflictError);

    const next = { ...ws, public: true, defaultExpirationDelay: 3600, otherFileStores: [], version: 2 };
    await repo.updateWorkspace(next, 1);
    expect(await repo.getWorkspace(scope, ws.name)).toEqual(next);
    await expect(repo.updateWorkspace({ ...ws, version: 2 }, 1)).rejects.toThrow(/expected version 1, found 2/);
    await expect(repo.updateWorkspace(workspaceOf(scope), 1)).rejects.toBeInstanceOf(NotFoundError);

    const other = workspaceOf(scope, 'a-ws');
    await repo.createWorkspace(other);
    await repo.createWorkspace(workspaceOf(unique('scope'), 'a-ws'));
    expect(await repo.listWorkspaces(scope)).toEqual([other, next]);
  });
});

describe('users', () => {
  test('round trip with and without email, unique names, listed', async () => {
    const alice = await userNamed(unique('alice'), { email: 'alice@example.org', isAdmin: true });
    const bob = await userNamed(unique('bob'));
    expect(await repo.getUser(alice.username)).toEqual(alice);
    expect(await repo.getUser(bob.username)).toEqual(bob);
    expect(await repo.getUser(bob.username)).not.toHaveProperty('email');
    expect(await repo.getUser(unique('nobody'))).toBeUndefined();
    await expect(repo.createUser(bob)).rejects.toBeInstanceOf(ConflictError);
    const all = await repo.listUsers();
    expect(all).toEqual(expect.arrayContaining([alice, bob]));
    const names = all.map((u) => u.username);
    expect(names).toEqual([...names].sort());
  });
});

describe('tokens', () => {
  test('round trip by hash and by id; optional fields stay absent', async () => {
    const user = await userNamed();
    const full = tokenOf(user.username, { expireAt: '2027-01-01T00:00:00.000Z', lastSeenAt: '2026-11-22T10:05:00.000Z' });
    const worker = tokenOf(undefined, { purpose: 'worker', status: 'requested', enabled: false });
    await repo.createToken(full);
    await repo.createToken(worker);
    expect(await repo.getTokenByHash(full.hash)).toEqual(full);
    expect(await repo.getTokenById(full.id)).toEqual(full);
    expect(await repo.getTokenById(worker.id)).toEqual(worker);
    expect(await repo.getTokenByHash(worker.hash)).not.toHaveProperty('username');
    expect(await repo.getTokenById(unique('none'))).toBeUndefined();
    await expect(repo.createToken({ ...full, id: unique('tok') })).rejects.toBeInstanceOf(ConflictError);
  });

  test('versioned update; lastSeenAt belongs to touchToken', async () => {
    const token = tokenOf((await userNamed()).username, { expireAt: '2027-01-01T00:00:00.000Z' });
    await repo.createToken(token);
    await repo.touchToken(token.hash, new Date('2026-11-22T11:00:00.000Z'), 60_000);
    const revoked: Token = { ...token, status: 'revoked', enabled: false, comment: 'gone', expireAt: undefined, version: 2 };
    await repo.updateToken(revoked, 1);
    expect(await repo.getTokenByHash(token.hash)).toEqual({ ...revoked, lastSeenAt: '2026-11-22T11:00:00.000Z' });
    await expect(repo.updateToken({ ...token, version: 2 }, 1)).rejects.toBeInstanceOf(ConflictError);
    await expect(repo.updateToken(tokenOf('x'), 1)).rejects.toBeInstanceOf(NotFoundError);
  });

  test('touchToken writes at most once per interval and never creates a token', async () => {
    const token = tokenOf((await userNamed()).username);
    await repo.createToken(token);
    const t0 = new Date('2026-11-22T12:00:00.000Z');
    const seen = async () => (await repo.getTokenByHash(token.hash))!.lastSeenAt;
    await repo.touchToken(token.hash, t0, 60_000);
    expect(await seen()).toBe(t0.toISOString());
    await repo.touchToken(token.hash, new Date(t0.getTime() + 30_000), 60_000);
    expect(await seen()).toBe(t0.toISOString());
    const later = new Date(t0.getTime() + 61_000);
    await repo.touchToken(token.hash, later, 60_000);
    expect(await seen()).toBe(later.toISOString());
    expect((await repo.getTokenByHash(token.hash))!.version).toBe(1);

    const ghost = randomBytes(32).toString('hex');
    await repo.touchToken(ghost, t0, 60_000);
    expect(await repo.getTokenByHash(ghost)).toBeUndefined();
  });

  test('listTokens: all, or one user\'s (not a prefix-named user\'s)', async () => {
    const name = unique('carol');
    await userNamed(name);
    await userNamed(`${name}x`);
    const second = tokenOf(name, { createdAt: '2026-11-22T11:00:00.000Z' });
    const first = tokenOf(name, { createdAt: '2026-11-22T09:00:00.000Z' });
    const other = tokenOf(`${name}x`);
    for (const t of [second, first, other]) await repo.createToken(t);
    expect(await repo.listTokens(name)).toEqual([first, second]);
    expect(await repo.listTokens()).toEqual(expect.arrayContaining([first, second, other]));
  });
});

describe('roles', () => {
  test('grant, change, list both ways, revoke', async () => {
    const scope = unique('scope');
    const ws = workspaceOf(scope);
    const ws2 = workspaceOf(scope);
    await repo.createWorkspace(ws);
    await repo.createWorkspace(ws2);
    const dave = await userNamed();
    const erin = await userNamed();
    const grant = { scope, workspace: ws.name, username: dave.username, role: 'viewer' as const, grantedAt: '2026-11-22T10:00:00.000Z' };
    await repo.putRole(grant);
    expect(await repo.getRole(scope, ws.name, dave.username)).toBe('viewer');
    const owner = { ...grant, role: 'owner' as const };
    await repo.putRole(owner);
    const erinGrant = { ...grant, username: erin.username, role: 'uploader' as const };
    await repo.putRole(erinGrant);
    const elsewhere = { ...grant, workspace: ws2.name, role: 'contributor' as const };
    await repo.putRole(elsewhere);

    expect(await repo.listRoles(scope, ws.name)).toEqual([owner, erinGrant].sort((a, b) => (a.username < b.username ? -1 : 1)));
    expect(await repo.listRolesOfUser(dave.username)).toEqual([owner, elsewhere].sort((a, b) => (a.workspace < b.workspace ? -1 : 1)));
    expect(await repo.deleteRole(scope, ws.name, dave.username)).toBe(true);
    expect(await repo.deleteRole(scope, ws.name, dave.username)).toBe(false);
    expect(await repo.getRole(scope, ws.name, dave.username)).toBeUndefined();
    // the workspace item in the same partition is untouched by role queries and deletes
    expect(await repo.getWorkspace(scope, ws.name)).toEqual(ws);
  });

  test('a grant needs an existing workspace and user', async () => {
    const scope = unique('scope');
    const ws = workspaceOf(scope);
    await repo.createWorkspace(ws);
    const user = await userNamed();
    const grant = { scope, workspace: ws.name, username: user.username, role: 'viewer' as const, grantedAt: '2026-11-22T10:00:00.000Z' };
    await expect(repo.putRole({ ...grant, workspace: unique('ws') })).rejects.toThrow(/Workspace not found/);
    await expect(repo.putRole({ ...grant, username: unique('ghost') })).rejects.toThrow(/User not found/);
    expect(await repo.listRoles(scope, ws.name)).toEqual([]);
  });
});
