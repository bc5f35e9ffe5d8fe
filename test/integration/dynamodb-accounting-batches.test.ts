/**
 * The accountant's combined write on DynamoDB Local: the finished work requests of one batch are
 * accounted with one transaction per usage item (the contributions conditional on their versions,
 * the summed change of `used`), full transactions of 99 contributions + the counter included, and
 * the totals stay exact under replays and racing deliveries.
 */
import { createAwsDeps } from '../../shared/adapters/aws';
import { MemoryAccountingQueue } from '../../shared/adapters/memory/accounts';
import { applyAccountingEvents, expectedUsage, SOURCES_PER_WRITE, workRequestEvent } from '../../shared/app/accounting';
import { createUser, createWorkspace } from '../../shared/app/admin';
import { initDatabase } from '../../shared/app/bootstrap';
import type { Account } from '../../shared/domain/quotas';
import type { AccountingEvent, AccountingRewrite, Deps } from '../../shared/ports';
import { storeFinishedRequest } from '../support/accounting';

jest.setTimeout(180_000);

let deps: Deps;
const suffix = Math.random().toString(36).slice(2, 8);
const workspace = `batch-${suffix}`;
const alice = `alice-${suffix}`;
const bob = `bob-${suffix}`;
const idBase = 7_000_000 + Math.floor(Math.random() * 1_000_000) * 200;
const WORKSPACE: Account = { kind: 'workspace', scope: 'debusine', workspace };
const user = (username: string): Account => ({ kind: 'user', username });

beforeAll(async () => {
  deps = { ...createAwsDeps(process.env), accountingQueue: new MemoryAccountingQueue() };
  await initDatabase(deps);
  await createWorkspace(deps, 'test', { name: workspace });
  await createUser(deps, 'test', { username: alice });
  await createUser(deps, 'test', { username: bob });
});

afterEach(() => jest.restoreAllMocks());

async function finished(owner: string, first: number, runTimes: number[]): Promise<AccountingEvent[]> {
  return Promise.all(runTimes.map(async (ms, i) => workRequestEvent(await storeFinishedRequest(deps, idBase + first + i, owner, ms, workspace))));
}

function recordWrites(): AccountingRewrite[] {
  const writes: AccountingRewrite[] = [];
  const real = deps.accounts.rewriteAccounting.bind(deps.accounts);
  jest.spyOn(deps.accounts, 'rewriteAccounting').mockImplementation(async (rewrite) => {
    writes.push(rewrite);
    return real(rewrite);
  });
  return writes;
}

const cpuUsed = async (account: Account) => (await deps.accounts.getQuota(account)).cpu.used;

it('accounts 10 requests of 2 users with one write per usage item; replays and racing deliveries count nothing twice', async () => {
  const events = [...(await finished(alice, 0, [100, 200, 300, 400, 500])), ...(await finished(bob, 10, [1, 2, 3, 4, 5]))];
  const writes = recordWrites();
  await applyAccountingEvents(deps, events);
  expect(writes.map((w) => [w.account.kind === 'user' ? w.account.username : 'workspace', w.contributions.length, w.usageDelta.cpu]).sort()).toEqual(
    [
      [alice, 5, 1500],
      [bob, 5, 15],
      ['workspace', 10, 1515],
    ].sort(),
  );
  expect(await cpuUsed(user(alice))).toBe(1500);
  expect(await cpuUsed(user(bob))).toBe(15);
  expect(await cpuUsed(WORKSPACE)).toBe(1515);

  // The same events again, racing each other and with a new request: only the new one is written.
  const more = await finished(alice, 20, [7000]);
  writes.length = 0;
  await Promise.all([applyAccountingEvents(deps, [...events, ...more]), applyAccountingEvents(deps, [...more, ...events].reverse()), applyAccountingEvents(deps, events)]);
  expect(writes.every((w) => w.contributions.every((c) => c.source.id === idBase + 20))).toBe(true);
  expect(await cpuUsed(user(alice))).toBe(8500);
  expect(await cpuUsed(user(bob))).toBe(15);
  expect(await cpuUsed(WORKSPACE)).toBe(8515);
  // What a recompute would say: the counters equal the sum of the contributions stored.
  expect(await expectedUsage(deps, user(alice))).toEqual({ cpu: 8500, disk: 0 });
  expect(await expectedUsage(deps, WORKSPACE)).toEqual({ cpu: 8515, disk: 0 });
});

it(`fills a transaction to DynamoDB's 100 items: ${SOURCES_PER_WRITE} contributions and the usage counter`, async () => {
  const owner = `carol-${suffix}`;
  await createUser(deps, 'test', { username: owner });
  const before = await cpuUsed(WORKSPACE);
  const events = await finished(owner, 100, Array.from({ length: SOURCES_PER_WRITE + 1 }, (_, i) => i + 1));
  const writes = recordWrites();
  await applyAccountingEvents(deps, events);
  expect(writes.map((w) => w.contributions.length).sort((a, b) => a - b)).toEqual([1, 1, SOURCES_PER_WRITE, SOURCES_PER_WRITE]);
  const total = ((SOURCES_PER_WRITE + 1) * (SOURCES_PER_WRITE + 2)) / 2;
  expect(await cpuUsed(user(owner))).toBe(total);
  expect(await cpuUsed(WORKSPACE)).toBe(before + total);
});
