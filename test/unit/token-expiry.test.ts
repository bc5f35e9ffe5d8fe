/**
 * The token step of the expiry pass on the memory adapters: tokens past their expiry date are
 * deleted (audit entry each), others stay, a dry run lists them and changes nothing, a token that
 * changed since it was read is left alone, and a pass stops at its bound.
 */
import { MemoryExpiryStore } from '../../shared/adapters/memory/expiry-store';
import { runExpiryPass } from '../../shared/app/expiry';
import { expiryReportText } from '../../cli/admin/expire';
import type { Token } from '../../shared/domain/tenancy';
import { createWorld, type World } from '../support/world';

let world: World;
let store: MemoryExpiryStore;

beforeEach(async () => {
  world = await createWorld();
  store = new MemoryExpiryStore(world.deps);
});

const inSeconds = (s: number) => new Date(world.deps.clock.now().getTime() + s * 1000).toISOString();

async function token(id: string, expireAt?: string): Promise<Token> {
  const t: Token = {
    id,
    hash: `${id}`.padEnd(64, '0'),
    username: 'owner',
    purpose: 'task',
    status: 'active',
    enabled: true,
    comment: '',
    createdAt: world.deps.clock.now().toISOString(),
    ...(expireAt ? { expireAt } : {}),
    version: 1,
  };
  await world.deps.identity.createToken(t);
  return t;
}

test('expired tokens go (with an audit entry), the others stay; a dry run only lists them', async () => {
  const soon = await token('t-soon', inSeconds(10));
  const later = await token('t-later', inSeconds(1000));
  const never = await token('t-never');
  world.deps.clock.advance(20_000);

  const dry = await runExpiryPass(world.deps, store, { dryRun: true });
  expect(dry.tokens.deleted).toEqual([{ id: 't-soon', username: 'owner', purpose: 'task', expire_at: soon.expireAt }]);
  expect(expiryReportText(dry)).toContain(`Tokens past their expiry date that would be deleted: t-soon (task, expired ${soon.expireAt})`);
  expect(await world.deps.identity.getTokenByHash(soon.hash)).toBeDefined();

  const done = await runExpiryPass(world.deps, store);
  expect(done.tokens.deleted.map((t) => t.id)).toEqual(['t-soon']);
  expect(await world.deps.identity.getTokenByHash(soon.hash)).toBeUndefined();
  expect(await world.deps.identity.getTokenByHash(later.hash)).toBeDefined();
  expect(await world.deps.identity.getTokenByHash(never.hash)).toBeDefined();
  const audit = (await world.deps.audit.list({ limit: 50 })).items.filter((e) => e.action === 'token.expired');
  expect(audit.map((e) => e.details.token)).toEqual(['t-soon']);
  expect((await runExpiryPass(world.deps, store)).tokens.deleted).toEqual([]);
});

test('a token changed since it was read is not deleted; a pass stops at its bound and the next continues', async () => {
  const tokens = [];
  for (let i = 0; i < 5; i++) tokens.push(await token(`t${i}`, inSeconds(i + 1)));
  world.deps.clock.advance(60_000);
  expect(await store.tokens.deleteExpiredToken({ ...tokens[0]!, version: 7 })).toBe(false);
  const first = await runExpiryPass(world.deps, store, { maxTokens: 3 });
  expect(first.tokens.deleted.map((t) => t.id)).toEqual(['t0', 't1', 't2']);
  expect(first.tokens.finished).toBe(false);
  expect(first.finished).toBe(false);
  const second = await runExpiryPass(world.deps, store, { maxTokens: 3 });
  expect(second.tokens.deleted.map((t) => t.id)).toEqual(['t3', 't4']);
  expect(second.tokens.finished).toBe(true);
});
