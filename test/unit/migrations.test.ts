/** Schema migrations: data written by the version before accounts is upgraded (and back), in order, idempotently. */
import { Command } from 'commander';
import { registerAdminCommands } from '../../cli/admin/commands';
import { createMemoryDeps, type MemoryDeps } from '../../shared/adapters/memory';
import { hashTokenKey } from '../../shared/app/auth';
import { initDatabase } from '../../shared/app/bootstrap';
import { BASE_REVISION, currentRevision, downgradeSchema, NEWEST_REVISION, upgradeSchema } from '../../shared/app/migrations';
import { requestToken } from '../../shared/app/tokens';
import { ConflictError } from '../../shared/domain/errors';

/** What the previous version stored: users without quota attributes, a user token without its claim, no schema stamp. */
async function previousVersionData(): Promise<MemoryDeps> {
  const deps = createMemoryDeps();
  deps.quotaSettings = { defaultLimits: { cpu: 0, disk: 5 * 1024 ** 3 }, terminationPolicy: ['cpu', 'disk'], periodic: true };
  for (const username of ['alice', 'bob']) await deps.identity.createUser({ username, isAdmin: false, createdAt: '2026-01-01T00:00:00.000Z' });
  await deps.identity.createToken({ id: 'oldtoken0001', hash: hashTokenKey('k'.repeat(64)), username: 'alice', purpose: 'user', status: 'active', enabled: true, comment: '', createdAt: '2026-01-01T00:00:00.000Z', version: 1 });
  return deps;
}

describe('schema migrations', () => {
  it('upgrades data written by the previous version: user quotas and token claims', async () => {
    const deps = await previousVersionData();
    expect(await currentRevision(deps)).toBe(BASE_REVISION);
    const steps = await upgradeSchema(deps, 'test');
    expect(steps.map((s) => [s.rev, s.items])).toEqual([
      ['0001_user_quotas', 2],
      ['0002_token_claims', 1],
      ['0003_free_slot_index', 0],
      ['0004_work_request_listing_index', 0], // the memory store has no indexes (DynamoDB: dynamodb-work-request-listing.test.ts)
    ]);
    expect(await currentRevision(deps)).toBe(NEWEST_REVISION);
    expect((await deps.identity.getUser('bob'))!.quota).toEqual({ cpu: { limit: 0, used: 0 }, disk: { limit: 5 * 1024 ** 3, used: 0 } });
    // Alice's old active user token now holds her slot: a new request is refused, as REANA does.
    await expect(requestToken(deps, (await deps.identity.getUser('alice'))!)).rejects.toThrow(ConflictError);
    expect(await deps.accounts.claimedToken('alice', 'user')).toBe('oldtoken0001');
    expect(deps.schema.changes.map((c) => [c.action, c.from, c.to])).toEqual([
      ['upgrade', 'base', '0001_user_quotas'],
      ['upgrade', '0001_user_quotas', '0002_token_claims'],
      ['upgrade', '0002_token_claims', '0003_free_slot_index'],
      ['upgrade', '0003_free_slot_index', '0004_work_request_listing_index'],
    ]);
    // Idempotent: nothing left to do.
    expect(await upgradeSchema(deps, 'test')).toEqual([]);
  });

  it('resumes: a step that ran but was not recorded runs again without changing anything twice', async () => {
    const deps = await previousVersionData();
    await upgradeSchema(deps, 'test', '0001_user_quotas');
    // Half of the next step done, then the run stopped before recording it.
    await deps.accounts.putClaim('alice', 'user', 'oldtoken0001');
    const steps = await upgradeSchema(deps, 'test');
    expect(steps).toEqual([
      { rev: '0002_token_claims', direction: 'upgrade', items: 0 },
      { rev: '0003_free_slot_index', direction: 'upgrade', items: 0 },
      { rev: '0004_work_request_listing_index', direction: 'upgrade', items: 0 },
    ]);
    expect(await currentRevision(deps)).toBe('0004_work_request_listing_index');
  });

  it('downgrades in reverse order, one step by default, and refuses unknown revisions', async () => {
    const deps = await previousVersionData();
    await upgradeSchema(deps, 'test');
    expect((await downgradeSchema(deps, 'test')).map((s) => s.rev)).toEqual(['0004_work_request_listing_index']);
    expect((await downgradeSchema(deps, 'test', '0002_token_claims')).map((s) => s.rev)).toEqual(['0003_free_slot_index']);
    expect((await downgradeSchema(deps, 'test')).map((s) => s.rev)).toEqual(['0002_token_claims']);
    expect(await deps.accounts.claimedToken('alice', 'user')).toBeUndefined();
    expect((await downgradeSchema(deps, 'test', 'base')).map((s) => s.rev)).toEqual(['0001_user_quotas']);
    expect((await deps.identity.getUser('bob'))!.quota).toBeUndefined();
    expect(await currentRevision(deps)).toBe('base');
    await expect(upgradeSchema(deps, 'test', '0009_nope')).rejects.toThrow(/unknown revision "0009_nope"/);
    await upgradeSchema(deps, 'test');
    await expect(upgradeSchema(deps, 'test', '0001_user_quotas')).rejects.toThrow(/downgrade instead/);
  });

  it('0003 puts workers connected before the free-slot index into it', async () => {
    const deps = await previousVersionData();
    await upgradeSchema(deps, 'test', '0002_token_claims');
    const at = '2026-01-01T00:00:00.000Z';
    const base = { tokenHash: 'h', workerType: 'external' as const, registeredAt: at, staticMetadata: {}, dynamicMetadata: {}, dynamicMetadataUpdatedAt: null, queueUrl: null, version: 1 };
    await deps.workers.create({ ...base, name: 'idle', enabled: true, connectedAt: at, lastSeenAt: at, concurrency: 1, assigned: 0 });
    await deps.workers.create({ ...base, name: 'away', enabled: true, connectedAt: null, lastSeenAt: at, concurrency: 1, assigned: 0 });
    deps.workers.freeSlots.clear(); // as stored by the previous version
    expect(await upgradeSchema(deps, 'test', '0003_free_slot_index')).toEqual([{ rev: '0003_free_slot_index', direction: 'upgrade', items: 1 }]);
    expect([...deps.workers.freeSlots]).toEqual(['idle']);
  });

  it('db init on a fresh table stamps the newest revision; two racing moves cannot both win', async () => {
    const deps = createMemoryDeps();
    await initDatabase(deps);
    expect(await currentRevision(deps)).toBe(NEWEST_REVISION);
    await expect(deps.schema.move(undefined, 'x', { at: 'now', actor: 't', action: 'stamp', from: 'base', to: 'x' })).rejects.toThrow(ConflictError);
  });

  it('conveyor admin db current|history|upgrade|downgrade', async () => {
    const deps = await previousVersionData();
    let out = '';
    const admin = async (...args: string[]) => {
      out = '';
      const program = new Command().exitOverride().configureOutput({ writeErr: () => {} });
      registerAdminCommands(program, { stdout: { write: (s: string) => (out += s) }, actor: () => 'admin-cli:t', createDeps: async () => ({ deps, source: { kind: 'environment' } }) });
      await program.parseAsync(['admin', ...args], { from: 'user' });
      return out;
    };
    expect(await admin('db', 'current')).toBe(`base (newest: ${NEWEST_REVISION}; run \`conveyor admin db upgrade\`)\n`);
    expect(await admin('db', 'upgrade', '0001_user_quotas')).toBe('Upgraded to 0001_user_quotas (2 item(s) changed)\nThe schema is at 0001_user_quotas.\n');
    expect(await admin('db', 'upgrade')).toMatch(/Upgraded to 0002_token_claims \(1 item\(s\) changed\)/);
    expect(await admin('db', 'current')).toBe(`${NEWEST_REVISION} (newest)\n`);
    expect(await admin('db', 'history')).toMatch(/0001_user_quotas[\s\S]*upgrade\s+base\s+0001_user_quotas\s+admin-cli:t/);
    expect(await admin('db', 'downgrade')).toBe('Downgraded from 0004_work_request_listing_index (0 item(s) changed)\nThe schema is at 0003_free_slot_index.\n');
    expect(await admin('db', 'downgrade')).toBe('Downgraded from 0003_free_slot_index (0 item(s) changed)\nThe schema is at 0002_token_claims.\n');
    expect(await admin('db', 'downgrade')).toBe('Downgraded from 0002_token_claims (1 item(s) changed)\nThe schema is at 0001_user_quotas.\n');
    expect(deps.audit.entries.map((e) => e.action)).toEqual(['db.upgrade', 'db.upgrade', 'db.upgrade', 'db.upgrade', 'db.downgrade', 'db.downgrade', 'db.downgrade']);
  });
});
