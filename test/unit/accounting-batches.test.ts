/**
 * The accountant combines the finished work requests of one batch: one conditional write per usage
 * item (the workspace's quota item, each user's), with the summed run times, and still counts every
 * request exactly once (a replay within or across batches, a batch redelivered after a partial failure).
 */
import type { SQSEvent } from 'aws-lambda';
import { accountantHandler } from '../../functions/accountant';
import { applyAccountingEvents, SOURCES_PER_WRITE, workRequestEvent } from '../../shared/app/accounting';
import type { Account } from '../../shared/domain/quotas';
import type { AccountingEvent, AccountingRewrite } from '../../shared/ports';
import { logger } from '../../shared/observability/logger';
import { storeFinishedRequest } from '../support/accounting';
import { createWorld, type World } from '../support/world';

const WORKSPACE: Account = { kind: 'workspace', scope: 'debusine', workspace: 'priv' };
const user = (username: string): Account => ({ kind: 'user', username });

/** Finished requests of `owner` with these run times (ms), ids from `firstId`. */
async function finished(w: World, owner: string, firstId: number, runTimes: number[]): Promise<AccountingEvent[]> {
  return Promise.all(runTimes.map(async (ms, i) => workRequestEvent(await storeFinishedRequest(w.deps, firstId + i, owner, ms))));
}

/** Records every accounting write (and lets a test fail some). */
function recordWrites(w: World, fail?: (rewrite: AccountingRewrite) => boolean): AccountingRewrite[] {
  const writes: AccountingRewrite[] = [];
  const real = w.deps.accounts.rewriteAccounting.bind(w.deps.accounts);
  jest.spyOn(w.deps.accounts, 'rewriteAccounting').mockImplementation(async (rewrite) => {
    if (fail?.(rewrite)) throw new Error('DynamoDB is down for this account');
    writes.push(rewrite);
    return real(rewrite);
  });
  return writes;
}

const cpuUsed = async (w: World, account: Account) => (await w.deps.accounts.getQuota(account)).cpu.used;
const accountOf = (rewrite: AccountingRewrite) => (rewrite.account.kind === 'user' ? rewrite.account.username : 'workspace');
const sqsEvent = (messages: AccountingEvent[][]): SQSEvent =>
  ({ Records: messages.map((events, i) => ({ messageId: `m${i}`, body: JSON.stringify({ type: 'accounting', events }) })) }) as unknown as SQSEvent;

describe('accounting a batch of finished work requests', () => {
  beforeEach(() => jest.spyOn(logger, 'error').mockImplementation(() => undefined));
  afterEach(() => jest.restoreAllMocks());

  it('writes each usage item once per batch, with the summed run times, and one contribution per request', async () => {
    const w = await createWorld();
    const events = [...(await finished(w, 'contributor', 100, [100, 200, 300, 400, 500])), ...(await finished(w, 'owner', 200, [10, 20, 30, 40, 50]))];
    const writes = recordWrites(w);
    await applyAccountingEvents(w.deps, events);
    expect(writes.map(accountOf).sort()).toEqual(['contributor', 'owner', 'workspace']);
    const byAccount = new Map(writes.map((r) => [accountOf(r), r]));
    expect(byAccount.get('contributor')!.usageDelta).toEqual({ cpu: 1500 });
    expect(byAccount.get('owner')!.usageDelta).toEqual({ cpu: 150 });
    expect(byAccount.get('workspace')!.usageDelta).toEqual({ cpu: 1650 });
    expect(byAccount.get('workspace')!.contributions.map((c) => c.source.id).sort()).toEqual([100, 101, 102, 103, 104, 200, 201, 202, 203, 204]);
    expect(byAccount.get('contributor')!.contributions.every((c) => c.expectedVersion === undefined)).toBe(true);
    expect(await cpuUsed(w, user('contributor'))).toBe(1500);
    expect(await cpuUsed(w, user('owner'))).toBe(150);
    expect(await cpuUsed(w, WORKSPACE)).toBe(1650);
  });

  it('counts a replayed event once, within a batch and across batches', async () => {
    const w = await createWorld();
    const [a, b, c] = await finished(w, 'contributor', 300, [1000, 2000, 4000]);
    const writes = recordWrites(w);
    await applyAccountingEvents(w.deps, [a!, b!, a!, b!]);
    expect(await cpuUsed(w, user('contributor'))).toBe(3000);
    writes.length = 0;
    await applyAccountingEvents(w.deps, [b!, a!, c!, c!]);
    // Only the new request is written: the others already count their present run time.
    expect(writes.map((r) => [accountOf(r), r.contributions.map((x) => x.source.id), r.usageDelta])).toEqual([
      ['workspace', [302], { cpu: 4000 }],
      ['contributor', [302], { cpu: 4000 }],
    ]);
    writes.length = 0;
    await applyAccountingEvents(w.deps, [a!, b!, c!]);
    expect(writes).toEqual([]);
    expect(await cpuUsed(w, user('contributor'))).toBe(7000);
    expect(await cpuUsed(w, WORKSPACE)).toBe(7000);
  });

  it('after a partial batch failure only the failed messages come back, and a redelivery counts nothing twice', async () => {
    const w = await createWorld();
    const mine = await finished(w, 'contributor', 400, [100, 200]);
    const theirs = await finished(w, 'owner', 500, [1000, 2000]);
    let ownerDown = true;
    const writes = recordWrites(w, (r) => ownerDown && r.account.kind === 'user' && r.account.username === 'owner');
    const handler = accountantHandler(() => w.deps);
    // The whole batch fails on the owner's write; then message by message: only the owner's fails.
    expect(await handler(sqsEvent([mine, theirs]))).toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }] });
    expect(await cpuUsed(w, user('contributor'))).toBe(300);
    expect(await cpuUsed(w, user('owner'))).toBe(0);
    // The workspace counted the owner's requests in the batch's write: its retry adds nothing.
    expect(await cpuUsed(w, WORKSPACE)).toBe(3300);
    ownerDown = false;
    writes.length = 0;
    expect(await handler(sqsEvent([theirs]))).toEqual({ batchItemFailures: [] });
    expect(writes.map(accountOf)).toEqual(['owner']);
    // And the whole first batch delivered once more (an SQS duplicate): nothing changes.
    expect(await handler(sqsEvent([mine, theirs]))).toEqual({ batchItemFailures: [] });
    expect(await cpuUsed(w, user('contributor'))).toBe(300);
    expect(await cpuUsed(w, user('owner'))).toBe(3000);
    expect(await cpuUsed(w, WORKSPACE)).toBe(3300);
  });

  it('a write lost to a concurrent one is read and written again, and the totals stay exact', async () => {
    const w = await createWorld();
    const events = await finished(w, 'contributor', 600, [100, 200, 300]);
    await Promise.all([applyAccountingEvents(w.deps, events), applyAccountingEvents(w.deps, [...events].reverse()), applyAccountingEvents(w.deps, events.slice(1))]);
    expect(await cpuUsed(w, user('contributor'))).toBe(600);
    expect(await cpuUsed(w, WORKSPACE)).toBe(600);
  });

  it(`splits an account's sources into writes of at most ${SOURCES_PER_WRITE} contributions (a transaction holds 100 items)`, async () => {
    const w = await createWorld();
    const events = await finished(w, 'contributor', 1000, Array.from({ length: SOURCES_PER_WRITE + 3 }, () => 10));
    const writes = recordWrites(w);
    await applyAccountingEvents(w.deps, events);
    expect(writes.map((r) => [accountOf(r), r.contributions.length]).sort()).toEqual([
      ['contributor', 3],
      ['contributor', SOURCES_PER_WRITE],
      ['workspace', 3],
      ['workspace', SOURCES_PER_WRITE],
    ]);
    expect(await cpuUsed(w, user('contributor'))).toBe(10 * (SOURCES_PER_WRITE + 3));
  });
});
