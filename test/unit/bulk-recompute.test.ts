/**
 * The bulk recompute: the same usage and the same accounting items as the source-by-source
 * recompute on random data, and an event after it changes nothing for an unchanged source.
 */
import fc from 'fast-check';
import { applyAccountingEvents, artifactEvent, expectedUsage, recomputeUsageBySource, workRequestEvent } from '../../shared/app/accounting';
import { recomputeUsageInBulk } from '../../shared/app/bulk-recompute';
import type { Account } from '../../shared/domain/quotas';
import type { AccountingEvent, Deps } from '../../shared/ports';
import { createWorld } from '../support/world';
import { deleteOneOf, fileOf, storeArtifact, storeFinishedRequest, storeOneOf } from '../support/accounting';

type Op =
  | { kind: 'create'; owner: number; files: number[] }
  | { kind: 'delete'; pick: number }
  | { kind: 'run'; owner: number; ms: number }
  | { kind: 'deliver' }
  | { kind: 'drift'; owner: number; by: number };

const owners = ['uploader', 'contributor', 'owner'];
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('create' as const), owner: fc.nat(2), files: fc.array(fc.nat(6), { maxLength: 4 }) }),
  fc.record({ kind: fc.constant('delete' as const), pick: fc.nat(20) }),
  fc.record({ kind: fc.constant('run' as const), owner: fc.nat(2), ms: fc.integer({ min: 0, max: 10_000 }) }),
  fc.record({ kind: fc.constant('deliver' as const) }),
  fc.record({ kind: fc.constant('drift' as const), owner: fc.nat(2), by: fc.integer({ min: 1, max: 500 }) }),
);

/** Builds the same world from the same operations: some events delivered, some lost, some counters drifted. */
async function build(ops: Op[]): Promise<{ deps: Deps; events: AccountingEvent[]; live: number[] }> {
  const w = await createWorld();
  const events: AccountingEvent[] = [];
  const live: number[] = [];
  let nextId = 1;
  for (const o of ops) {
    if (o.kind === 'create') {
      events.push(await storeOneOf(w.deps, live, nextId++, owners[o.owner]!, o.files, o.owner === 2 ? 'pub' : 'priv'));
    } else if (o.kind === 'delete' && live.length) {
      events.push(await deleteOneOf(w.deps, live, o.pick));
    } else if (o.kind === 'run') {
      events.push(workRequestEvent(await storeFinishedRequest(w.deps, 1000 + nextId++, owners[o.owner]!, o.ms)));
    } else if (o.kind === 'deliver' && events.length) {
      await applyAccountingEvents(w.deps, [events[events.length - 1]!]);
    } else if (o.kind === 'drift') {
      const account: Account = { kind: 'user', username: owners[o.owner]! };
      const used = (await w.deps.accounts.getQuota(account)).disk.used;
      await w.deps.accounts.correctUsed(account, 'disk', used, used + o.by);
    }
  }
  return { deps: w.deps, events, live };
}

/** Every account's usage and accounting items, versions left out. */
async function accountingState(deps: Deps): Promise<Record<string, unknown>> {
  const state: Record<string, unknown> = {};
  for (const account of await deps.accounts.listAccounts()) {
    const quota = await deps.accounts.getQuota(account);
    const contributions = (await deps.accounts.listContributions(account))
      .map(({ source, contribution }) => ({ source, cpu: contribution.cpu, files: contribution.files }))
      .sort((a, b) => `${a.source.kind}${a.source.id}`.localeCompare(`${b.source.kind}${b.source.id}`));
    const refs = (await deps.accounts.listFileRefs(account)).map(({ fileKey, size, artifacts }) => ({ fileKey, size, artifacts })).sort((a, b) => a.fileKey.localeCompare(b.fileKey));
    if (quota.cpu.used === 0 && quota.disk.used === 0 && !contributions.length && !refs.length) continue;
    state[JSON.stringify(account)] = { cpu: quota.cpu.used, disk: quota.disk.used, contributions, refs };
  }
  return state;
}

describe('the bulk recompute', () => {
  it('leaves the same usage and the same accounting items as the source-by-source recompute', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 14 }), async (ops) => {
        const bySource = await build(ops);
        const bulk = await build(ops);
        const a = await recomputeUsageBySource(bySource.deps);
        const b = await recomputeUsageInBulk(bulk.deps);
        expect(b.sources).toBe(a.sources);
        const state = await accountingState(bulk.deps);
        expect(state).toEqual(await accountingState(bySource.deps));
        for (const account of await bulk.deps.accounts.listAccounts()) {
          const q = await bulk.deps.accounts.getQuota(account);
          expect({ cpu: q.cpu.used, disk: q.disk.used }).toEqual(await expectedUsage(bulk.deps, account));
        }
        // A second run finds nothing to correct.
        expect((await recomputeUsageInBulk(bulk.deps)).corrected).toEqual([]);
      }),
      { numRuns: 60 },
    );
  });

  it('an event after a bulk recompute changes nothing when its source did not change, and the real difference when it did', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 14 }), async (ops) => {
        const { deps, events, live } = await build(ops);
        await recomputeUsageInBulk(deps);
        const after = await accountingState(deps);
        // Every event again (twice): every source is as the recompute saw it.
        await applyAccountingEvents(deps, events);
        await applyAccountingEvents(deps, [...events].reverse());
        expect(await accountingState(deps)).toEqual(after);
        // A source that changes afterwards moves usage by exactly its difference.
        if (live.length) {
          const found = (await deps.artifacts.get(live[0]!))!;
          await deps.artifacts.delete(found.artifact);
          await applyAccountingEvents(deps, [artifactEvent(found.artifact)]);
          const viaEvent = await accountingState(deps);
          await recomputeUsageInBulk(deps);
          expect(await accountingState(deps)).toEqual(viaEvent);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('counts a file shared by two of a user\'s artifacts once, and removes what a deleted source left', async () => {
    const w = await createWorld();
    const a = await storeArtifact(w.deps, 1, 'uploader', [fileOf(1, 100), fileOf(2, 50)]);
    await storeArtifact(w.deps, 2, 'uploader', [fileOf(1, 100)]);
    await applyAccountingEvents(w.deps, [artifactEvent(a)]);
    await w.deps.artifacts.delete(a); // its event is lost
    const summary = await recomputeUsageInBulk(w.deps, { actor: 'test' });
    expect(summary.sources).toBe(2);
    const user = { kind: 'user' as const, username: 'uploader' };
    expect((await w.deps.accounts.getQuota(user)).disk.used).toBe(100);
    expect((await w.deps.accounts.listFileRefs(user)).map((r) => [r.fileKey, r.artifacts])).toEqual([[expect.stringMatching(/-100$/), [2]]]);
    expect((await w.deps.accounts.listContributions(user)).map((c) => c.source)).toEqual([{ kind: 'artifact', id: 2 }]);
  });
});
