/**
 * Accounts on DynamoDB Local: the token lifecycle's conditional claim and item move, disabled
 * users, quota limits on the user item, and accounting transactions under replay and concurrency.
 */
import { createAwsDeps } from '../../shared/adapters/aws';
import { MemoryAccountingQueue } from '../../shared/adapters/memory/accounts';
import { applyAccountingEvents, artifactEvent, expectedUsage } from '../../shared/app/accounting';
import { recomputeUsageInBulk as recomputeUsage } from '../../shared/app/bulk-recompute';
import { createUser, createWorkspace } from '../../shared/app/admin';
import { authenticate } from '../../shared/app/auth';
import { initDatabase } from '../../shared/app/bootstrap';
import { enforceQuotas, setQuotaLimit, showQuota } from '../../shared/app/quotas';
import { grantToken, requestToken, revokeUserToken, setUserDisabled } from '../../shared/app/tokens';
import { ConflictError, ForbiddenError } from '../../shared/domain/errors';
import { QuotaExceededError } from '../../shared/domain/quotas';
import type { Deps } from '../../shared/ports';
import { fileOf, storeArtifact } from '../support/accounting';

jest.setTimeout(120_000);

let deps: Deps;
const suffix = Math.random().toString(36).slice(2, 8);

beforeAll(async () => {
  deps = { ...createAwsDeps(process.env), accountingQueue: new MemoryAccountingQueue() };
  await initDatabase(deps);
});

it('runs the token lifecycle with conditional writes', async () => {
  const user = await createUser(deps, 'test', { username: `tok-${suffix}` });
  const requested = await requestToken(deps, user);
  await expect(requestToken(deps, user)).rejects.toThrow(ConflictError);
  const { token, key } = await grantToken(deps, 'test', { tokenId: requested.id });
  expect(token.id).toBe(requested.id);
  const caller = await authenticate(deps, key);
  expect(caller.kind).toBe('user');
  // The requested placeholder item is gone: the id finds the active token only.
  expect((await deps.identity.getTokenById(requested.id))?.status).toBe('active');
  await expect(requestToken(deps, user)).rejects.toThrow(ConflictError);
  await revokeUserToken(deps, 'test', token.id);
  await expect(authenticate(deps, key)).rejects.toThrow(/revoked/);
  expect((await requestToken(deps, user)).status).toBe('requested');
});

it('two racing token requests: one wins', async () => {
  const user = await createUser(deps, 'test', { username: `race-${suffix}` });
  const outcomes = await Promise.allSettled([requestToken(deps, user), requestToken(deps, user), requestToken(deps, user)]);
  expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
});

it('a disabled user is refused with 403 and keeps the flag across reads', async () => {
  const name = `dis-${suffix}`;
  await createUser(deps, 'test', { username: name });
  const { key } = await grantToken(deps, 'test', { username: name });
  await setUserDisabled(deps, 'test', name, true);
  await expect(authenticate(deps, key)).rejects.toThrow(ForbiddenError);
  await setUserDisabled(deps, 'test', name, false);
  expect((await authenticate(deps, key)).kind).toBe('user');
});

it('accounts distinct files once, replays and concurrent deliveries included, and enforces limits', async () => {
  const name = `acct-${suffix}`;
  const workspace = `acct-${suffix}`;
  await createWorkspace(deps, 'test', { name: workspace });
  await createUser(deps, 'test', { username: name });
  await setQuotaLimit(deps, 'test', { kind: 'user', username: name }, 'disk', 1000);
  const base = 8_000_000 + Math.floor(Math.random() * 1_000_000) * 10;
  const a = await storeArtifact(deps, base + 1, name, [fileOf(base + 1, 400), fileOf(base + 2, 300)], workspace);
  const b = await storeArtifact(deps, base + 2, name, [fileOf(base + 1, 400)], workspace);
  const events = [artifactEvent(a), artifactEvent(b)];
  // The same events delivered concurrently and again: every step is conditional.
  await Promise.all([applyAccountingEvents(deps, events), applyAccountingEvents(deps, [...events].reverse()), applyAccountingEvents(deps, events)]);
  const user = { kind: 'user' as const, username: name };
  expect(await showQuota(deps, user)).toEqual({ cpu: { limit: 0, used: 0 }, disk: { limit: 1000, used: 700 } });
  expect(await expectedUsage(deps, user)).toEqual({ cpu: 0, disk: 700 });
  const caller = await authenticate(deps, (await grantToken(deps, 'test', { username: name })).key);
  await expect(enforceQuotas(deps, caller, 'debusine', workspace, { disk: 301 })).rejects.toThrow(QuotaExceededError);
  await expect(enforceQuotas(deps, caller, 'debusine', workspace, { disk: 300 })).resolves.toBeUndefined();
  await deps.artifacts.delete(a);
  await applyAccountingEvents(deps, [artifactEvent(a), artifactEvent(a)]);
  expect((await showQuota(deps, user)).disk.used).toBe(400);
  expect((await showQuota(deps, { kind: 'workspace', scope: 'debusine', workspace })).disk.used).toBe(400);
  // Drift (a counter changed behind accounting's back) is what the recompute's correction fixes.
  expect(await deps.accounts.correctUsed(user, 'disk', 400, 999)).toBe(true);
  expect(await deps.accounts.correctUsed(user, 'disk', 400, 1)).toBe(false);
  const accounts = await deps.accounts.listAccounts();
  expect(accounts).toEqual(expect.arrayContaining([user, { kind: 'workspace', scope: 'debusine', workspace }]));
  const summary = await recomputeUsage(deps);
  expect(summary.corrected).toEqual(expect.arrayContaining([{ account: user, resource: 'disk', from: 999, to: 400 }]));
  expect((await showQuota(deps, user)).disk.used).toBe(400);
});

it('migration steps on DynamoDB: a previous-version user item gains quota attributes, a claim is put once, the revision moves conditionally', async () => {
  const name = `mig-${suffix}`;
  // The previous version's user item: no quota attributes.
  await deps.identity.createUser({ username: name, isAdmin: false, createdAt: '2026-01-01T00:00:00.000Z' });
  expect((await deps.identity.getUser(name))!.quota).toBeUndefined();
  await deps.accounts.initialiseUserQuota(name, { cpu: 5, disk: 7 });
  await deps.accounts.initialiseUserQuota(name, { cpu: 99, disk: 99 }); // idempotent: keeps what is there
  expect((await deps.identity.getUser(name))!.quota).toEqual({ cpu: { limit: 5, used: 0 }, disk: { limit: 7, used: 0 } });
  await deps.accounts.removeUserQuota(name);
  expect((await deps.identity.getUser(name))!.quota).toBeUndefined();
  expect(await deps.accounts.putClaim(name, 'user', 'tok1')).toBe(true);
  expect(await deps.accounts.putClaim(name, 'user', 'tok2')).toBe(false);
  expect(await deps.accounts.claimedToken(name, 'user')).toBe('tok1');
  expect(await deps.accounts.deleteClaim(name, 'user')).toBe(true);
  expect(await deps.accounts.deleteClaim(name, 'user')).toBe(false);
  const current = await deps.schema.current();
  const change = { at: new Date().toISOString(), actor: 'test', action: 'stamp' as const, from: 'base', to: current ?? 'base' };
  await expect(deps.schema.move('not-the-current-one', 'x', change)).rejects.toThrow(ConflictError);
  await deps.schema.move(current, current ?? 'base', change);
  expect((await deps.schema.history()).some((c) => c.at === change.at)).toBe(true);
});

it('the bulk recompute rewrites the items of lost events in conditional transactions; replaying those events then changes nothing', async () => {
  const name = `bulk-${suffix}`;
  const workspace = `bulk-${suffix}`;
  await createWorkspace(deps, 'test', { name: workspace });
  await createUser(deps, 'test', { username: name });
  const base = 7_000_000 + Math.floor(Math.random() * 1_000_000) * 200;
  // 120 artifacts, every event lost: more items than one transaction holds. Files 0..59 are each held twice.
  const stored = await Promise.all(Array.from({ length: 120 }, (_, i) => storeArtifact(deps, base + i, name, [fileOf(base + (i % 60), 100)], workspace)));
  const user = { kind: 'user' as const, username: name };
  const ws = { kind: 'workspace' as const, scope: 'debusine', workspace };
  await recomputeUsage(deps);
  for (const account of [user, ws]) {
    expect((await showQuota(deps, account)).disk.used).toBe(6000);
    expect(await expectedUsage(deps, account)).toEqual({ cpu: 0, disk: 6000 });
    expect(await deps.accounts.listContributions(account)).toHaveLength(120);
  }
  await applyAccountingEvents(deps, stored.map(artifactEvent));
  expect((await showQuota(deps, user)).disk.used).toBe(6000);
  await deps.artifacts.delete(stored[0]!);
  await deps.artifacts.delete(stored[60]!);
  await applyAccountingEvents(deps, [artifactEvent(stored[0]!), artifactEvent(stored[60]!)]);
  expect((await showQuota(deps, user)).disk.used).toBe(5900);
  expect((await recomputeUsage(deps)).corrected.filter((c) => JSON.stringify(c.account) === JSON.stringify(user))).toEqual([]);
});
