/**
 * REANA's accounts on Conveyor: the token lifecycle (behaviour 34), disabled users, quotas on the
 * request path (behaviours 29–31) and accounting that a replay never counts twice.
 */
import fc from 'fast-check';
import { applyAccountingEvents, artifactEvent, expectedUsage, workRequestEvent } from '../../shared/app/accounting';
import { recomputeUsageInBulk as recomputeUsage } from '../../shared/app/bulk-recompute';
import { createToken, createUser } from '../../shared/app/admin';
import { createArtifact, deleteArtifact } from '../../shared/app/artifacts';
import { grantToken, listOwnTokens, requestToken, revokeUserToken, setUserDisabled } from '../../shared/app/tokens';
import { enforceQuotas, setQuotaLimit, showQuota } from '../../shared/app/quotas';
import { createWorkRequest } from '../../shared/app/work-requests';
import { schedule } from '../../shared/app/scheduler';
import { createMemoryDeps } from '../../shared/adapters/memory';
import { ConflictError, ForbiddenError } from '../../shared/domain/errors';
import { QuotaExceededError } from '../../shared/domain/quotas';
import { createWorld } from '../support/world';
import { createSchedulingWorld } from '../support/scheduling';
import { deleteOneOf, fileOf, storeArtifact, storeFinishedRequest, storeOneOf } from '../support/accounting';
import type { AccountingEvent } from '../../shared/ports';
import { authenticate } from '../../shared/app/auth';

describe('behaviour 34: the token lifecycle', () => {
  it('a requested token has no usable key; granting turns the same token active and shows its key once', async () => {
    const { deps } = await createWorld();
    const alice = await createUser(deps, 'test', { username: 'alice' });
    const requested = await requestToken(deps, alice, { comment: 'laptop' });
    expect(requested).toMatchObject({ status: 'requested', enabled: false, purpose: 'user' });
    const { token, key } = await grantToken(deps, 'admin-cli:root', { tokenId: requested.id });
    expect(token.id).toBe(requested.id);
    expect(token).toMatchObject({ status: 'active', enabled: true, comment: 'laptop' });
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    const caller = await authenticate(deps, key);
    expect(caller.kind === 'user' && caller.user.username).toBe('alice');
    const mine = await listOwnTokens(deps, alice);
    expect(mine.map((t) => [t.id, t.status])).toEqual([[requested.id, 'active']]);
    expect(deps.audit.entries.map((e) => e.action)).toEqual(expect.arrayContaining(['request_token', 'grant_token']));
  });

  it('requesting while a token is requested or active answers 409; after a revoke it is allowed again', async () => {
    const { deps } = await createWorld();
    const alice = await createUser(deps, 'test', { username: 'alice' });
    const first = await requestToken(deps, alice);
    await expect(requestToken(deps, alice)).rejects.toThrow(ConflictError);
    const { key } = await grantToken(deps, 'test', { tokenId: first.id });
    await expect(requestToken(deps, alice)).rejects.toThrow(/already has a user token/);
    // Granting without a requested token while one is active is refused too (REANA's setter).
    await expect(grantToken(deps, 'test', { username: 'alice' })).rejects.toThrow(ConflictError);
    await revokeUserToken(deps, 'test', first.id);
    await expect(authenticate(deps, key)).rejects.toThrow(/revoked/);
    const again = await requestToken(deps, alice);
    expect(again.status).toBe('requested');
    expect(deps.audit.entries.filter((e) => e.action === 'revoke_token')).toHaveLength(1);
  });

  it('named API tokens live beside the user token', async () => {
    const { deps } = await createWorld();
    const alice = await createUser(deps, 'test', { username: 'alice' });
    await createToken(deps, 'test', { username: 'alice', purpose: 'api', enabled: true, comment: 'ci' });
    await createToken(deps, 'test', { username: 'alice', purpose: 'api', enabled: true, comment: 'ci2' });
    const requested = await requestToken(deps, alice);
    expect(requested.status).toBe('requested');
  });

  it('only a requested token can be granted', async () => {
    const { deps } = await createWorld();
    const alice = await createUser(deps, 'test', { username: 'alice' });
    const t = await requestToken(deps, alice);
    await grantToken(deps, 'test', { tokenId: t.id });
    await expect(grantToken(deps, 'test', { tokenId: t.id })).rejects.toThrow(/only a requested token can be granted/);
  });

  it('two racing requests: exactly one wins', async () => {
    const { deps } = await createWorld();
    const alice = await createUser(deps, 'test', { username: 'alice' });
    const outcomes = await Promise.allSettled([requestToken(deps, alice), requestToken(deps, alice)]);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
  });
});

describe('disabled users', () => {
  it('every token of a disabled user answers 403; enabling restores access; both are audited', async () => {
    const w = await createWorld();
    await setUserDisabled(w.deps, 'test', 'contributor', true);
    await expect(w.caller('contributor')).rejects.toThrow(ForbiddenError);
    await expect(w.caller('contributor')).rejects.toThrow(/disabled/);
    await setUserDisabled(w.deps, 'test', 'contributor', false);
    expect((await w.caller('contributor')).kind).toBe('user');
    expect(w.deps.audit.entries.map((e) => e.action)).toEqual(expect.arrayContaining(['user.disable', 'user.enable']));
  });

  it('the scheduler does not start the pending work of a disabled user, and does once re-enabled', async () => {
    const w = await createSchedulingWorld();
    await w.addWorker('bee.example');
    const wr = await w.submit('noop');
    await setUserDisabled(w.deps, 'test', 'contributor', true);
    expect((await schedule(w.deps)).assigned).toEqual([]);
    expect((await w.deps.workRequests.get(wr.id))!.worker).toBeNull();
    await setUserDisabled(w.deps, 'test', 'contributor', false);
    expect((await schedule(w.deps)).assigned.map((a) => a.workRequestId)).toEqual([wr.id]);
  });
});

describe('quotas on the request path (behaviours 29–31)', () => {
  it('a user at the cpu limit cannot create work requests; 403 names resource, usage and limit', async () => {
    const w = await createWorld();
    await setQuotaLimit(w.deps, 'test', { kind: 'user', username: 'contributor' }, 'cpu', 3500);
    await storeFinishedRequest(w.deps, 900, 'contributor', 3500);
    await applyAccountingEvents(w.deps, [workRequestEvent({ id: 900, scope: 'debusine', workspace: 'priv', createdBy: 'user:contributor' })]);
    // Behaviour 31: the request's CPU is its run time; the user's is the sum.
    expect((await showQuota(w.deps, { kind: 'user', username: 'contributor' })).cpu).toEqual({ limit: 3500, used: 3500 });
    const caller = await w.caller('contributor');
    const create = createWorkRequest(w.deps, caller, { scope: 'debusine', workspace: 'priv', taskName: 'noop', taskData: {} });
    await expect(create).rejects.toThrow(QuotaExceededError);
    await expect(createWorkRequest(w.deps, caller, { scope: 'debusine', workspace: 'priv', taskName: 'noop', taskData: {} })).rejects.toThrow(
      /user "contributor" has used 3s of its 3s cpu quota/,
    );
  });

  it('a workspace limit applies to everyone in it', async () => {
    const w = await createWorld();
    await setQuotaLimit(w.deps, 'test', { kind: 'workspace', scope: 'debusine', workspace: 'priv' }, 'disk', 10);
    await storeArtifact(w.deps, 500, 'uploader', [fileOf(1, 10)]);
    await applyAccountingEvents(w.deps, [artifactEvent({ id: 500, scope: 'debusine', workspace: 'priv', createdBy: 'user:uploader' })]);
    await expect(enforceQuotas(w.deps, await w.caller('contributor'), 'debusine', 'priv')).rejects.toThrow(/workspace "debusine\/priv" has used 10 Bytes/);
    await expect(enforceQuotas(w.deps, await w.caller('contributor'), 'debusine', 'pub')).resolves.toBeUndefined();
  });

  it('an upload that would cross the disk limit is refused before anything is stored', async () => {
    const w = await createWorld();
    await setQuotaLimit(w.deps, 'test', { kind: 'user', username: 'uploader' }, 'disk', 1024 * 1024);
    const caller = await w.caller('uploader');
    const before = w.deps.artifacts;
    const attempt = createArtifact(w.deps, caller, {
      scope: 'debusine',
      workspace: 'priv',
      category: 'testing',
      data: {},
      files: { big: { size: 2 * 1024 * 1024, sha256: 'a'.repeat(64) } },
    });
    await expect(attempt).rejects.toThrow(/would add 2 MiB/);
    expect(before).toBe(w.deps.artifacts);
  });

  it('new users get the configured default limits', async () => {
    const deps = createMemoryDeps();
    deps.quotaSettings = { defaultLimits: { cpu: 60_000, disk: 1024 }, terminationPolicy: ['cpu', 'disk'], periodic: true };
    await createUser(deps, 'test', { username: 'bob' });
    expect(await showQuota(deps, { kind: 'user', username: 'bob' })).toEqual({ cpu: { limit: 60_000, used: 0 }, disk: { limit: 1024, used: 0 } });
  });

  it('setting a limit is audited and refuses bad input', async () => {
    const w = await createWorld();
    await expect(setQuotaLimit(w.deps, 'test', { kind: 'user', username: 'viewer' }, 'gpu', 1)).rejects.toThrow(/resource/);
    await expect(setQuotaLimit(w.deps, 'test', { kind: 'user', username: 'viewer' }, 'disk', -1)).rejects.toThrow(/non-negative/);
    await expect(setQuotaLimit(w.deps, 'test', { kind: 'user', username: 'nobody' }, 'disk', 1)).rejects.toThrow(/no user/);
    await setQuotaLimit(w.deps, 'test', { kind: 'user', username: 'viewer' }, 'disk', 5);
    expect(w.deps.audit.entries.filter((e) => e.action === 'quota.set')).toHaveLength(1);
  });
});

describe('accounting', () => {
  it('a file shared by two of a user\'s artifacts counts once, until the last one goes', async () => {
    const w = await createWorld();
    const a = await storeArtifact(w.deps, 1, 'uploader', [fileOf(1, 100), fileOf(2, 50)]);
    const b = await storeArtifact(w.deps, 2, 'uploader', [fileOf(1, 100)]);
    await applyAccountingEvents(w.deps, [artifactEvent(a), artifactEvent(b)]);
    const user = { kind: 'user' as const, username: 'uploader' };
    expect((await showQuota(w.deps, user)).disk.used).toBe(150);
    await deleteArtifact(w.deps, await w.caller('uploader'), 1);
    await applyAccountingEvents(w.deps, w.deps.accountingQueue.events);
    expect((await showQuota(w.deps, user)).disk.used).toBe(100);
    expect((await showQuota(w.deps, { kind: 'workspace', scope: 'debusine', workspace: 'priv' })).disk.used).toBe(100);
  });

  it('the recompute corrects drift (a lost event)', async () => {
    const w = await createWorld();
    await storeArtifact(w.deps, 1, 'uploader', [fileOf(1, 100)]);
    await storeFinishedRequest(w.deps, 7, 'contributor', 2500);
    const summary = await recomputeUsage(w.deps, { actor: 'test' });
    expect(summary.sources).toBe(2);
    expect((await showQuota(w.deps, { kind: 'user', username: 'uploader' })).disk.used).toBe(100);
    expect((await showQuota(w.deps, { kind: 'user', username: 'contributor' })).cpu.used).toBe(2500);
    // Nothing left to correct on a second run.
    expect((await recomputeUsage(w.deps)).corrected).toEqual([]);
  });

  it('a termination policy without a resource sends no events for it', async () => {
    const w = await createWorld();
    w.deps.quotaSettings = { defaultLimits: { cpu: 0, disk: 0 }, terminationPolicy: ['cpu'], periodic: true };
    const a = await storeArtifact(w.deps, 1, 'uploader', [fileOf(1, 100)]);
    await deleteArtifact(w.deps, await w.caller('uploader'), a.id);
    expect(w.deps.accountingQueue.events).toEqual([]);
  });

  it('replaying every event twice and out of order leaves every quota_used equal to a full recompute', async () => {
    type Op = { kind: 'create'; owner: number; files: [number, number][] } | { kind: 'delete'; pick: number } | { kind: 'run'; owner: number; ms: number };
    const owners = ['uploader', 'contributor', 'owner'];
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('create' as const), owner: fc.nat(2), files: fc.array(fc.tuple(fc.nat(5), fc.integer({ min: 1, max: 1000 })), { maxLength: 4 }) }),
      fc.record({ kind: fc.constant('delete' as const), pick: fc.nat(20) }),
      fc.record({ kind: fc.constant('run' as const), owner: fc.nat(2), ms: fc.integer({ min: 0, max: 10_000 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 12 }), fc.integer(), async (ops, seed) => {
        const w = await createWorld();
        const events: AccountingEvent[] = [];
        const live: number[] = [];
        let nextId = 1;
        for (const o of ops) {
          if (o.kind === 'create') {
            events.push(await storeOneOf(w.deps, live, nextId++, owners[o.owner]!, o.files.map(([n]) => n), o.owner === 2 ? 'pub' : 'priv'));
          } else if (o.kind === 'delete' && live.length) {
            events.push(await deleteOneOf(w.deps, live, o.pick));
          } else if (o.kind === 'run') {
            const wr = await storeFinishedRequest(w.deps, 1000 + nextId++, owners[o.owner]!, o.ms);
            events.push(workRequestEvent(wr));
          }
          // Some events are delivered early (before later changes), as a live queue would.
          if (events.length && (seed + events.length) % 3 === 0) await applyAccountingEvents(w.deps, [events[events.length - 1]!]);
        }
        const replay = shuffle([...events, ...events], seed);
        for (let i = 0; i < replay.length; i += 3) await applyAccountingEvents(w.deps, replay.slice(i, i + 3));
        const accounts = await w.deps.accounts.listAccounts();
        const before = new Map<string, unknown>();
        for (const a of accounts) {
          const q = await w.deps.accounts.getQuota(a);
          before.set(JSON.stringify(a), { cpu: q.cpu.used, disk: q.disk.used });
          expect({ cpu: q.cpu.used, disk: q.disk.used }).toEqual(await expectedUsage(w.deps, a));
        }
        // Independently: the distinct files of each owner's live artifacts.
        for (const [i, name] of owners.entries()) {
          const files = new Map<string, number>();
          for (const id of live) {
            const found = (await w.deps.artifacts.get(id))!;
            if (found.artifact.createdBy === `user:${name}`) for (const f of found.files) files.set(f.sha256, f.size);
          }
          const disk = [...files.values()].reduce((s, n) => s + n, 0);
          expect((await w.deps.accounts.getQuota({ kind: 'user', username: name })).disk.used).toBe(disk);
          void i;
        }
        const summary = await recomputeUsage(w.deps);
        expect(summary.corrected).toEqual([]);
        for (const a of accounts) {
          const q = await w.deps.accounts.getQuota(a);
          expect({ cpu: q.cpu.used, disk: q.disk.used }).toEqual(before.get(JSON.stringify(a)));
        }
      }),
      { numRuns: 60 },
    );
  });
});

function shuffle<T>(items: T[], seed: number): T[] {
  let s = seed >>> 0 || 1;
  for (let i = items.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) >>> 0;
    const j = s % (i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
