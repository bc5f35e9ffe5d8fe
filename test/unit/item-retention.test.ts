/**
 * Collection-item retention in the expiry pass (Debusine's full_history_retention_period and
 * metadata_only_retention_period), through the HTTP routes and use cases on the memory adapters:
 * a removed item keeps its artifact link for the first period, its metadata for the second, then
 * goes; the artifact it retained expires once the link is dropped; the index follows what is due.
 */
import { MemoryExpiryStore } from '../../shared/adapters/memory/expiry-store';
import { runExpiryPass } from '../../shared/app/expiry';
import { expiryReportText } from '../../cli/admin/expire';
import { describeItemRetention, nextItemRetentionCheck } from '../../shared/domain/expiry';
import { collectionRoutes } from '../../shared/http/routes/collections';
import { createWorld, httpClient, type World } from '../support/world';

let world: World;
let http: ReturnType<typeof httpClient>;
let store: MemoryExpiryStore;

beforeEach(async () => {
  world = await createWorld();
  http = httpClient(world.deps, collectionRoutes(() => world.deps));
  store = new MemoryExpiryStore(world.deps);
});

const owner = () => world.keys['owner']!;
const pass = (dryRun = false) => runExpiryPass(world.deps, store, { recheckSeconds: 0, blobGraceSeconds: 0, dryRun });
const tick = (seconds: number) => world.deps.clock.advance(seconds * 1000);

async function collection(periods: Record<string, number | null>): Promise<number> {
  const res = await http('POST', '/api/1.0/collection/', { token: owner(), body: { name: `c${Math.random()}`, category: 'testing:things', workspace: 'priv', ...periods } });
  expect(res.status).toBe(201);
  return res.json.id;
}

async function artifact(delay: number): Promise<number> {
  const res = await http('POST', '/api/1.0/artifact/', { token: owner(), body: { category: 'testing', workspace: 'priv', data: {}, expiration_delay: delay } });
  expect(res.status).toBe(201);
  return res.json.id;
}

async function addAndRemove(collectionId: number, name: string, artifactId: number): Promise<number> {
  const added = await http('POST', `/api/1.0/collection/${collectionId}/items/`, { token: owner(), body: { name, artifact: artifactId } });
  expect(added.status).toBe(201);
  expect((await http('DELETE', `/api/1.0/collection/${collectionId}/items/${name}/`, { token: owner() })).status).toBe(204);
  return added.json.id;
}

const itemRow = (id: number) => world.deps.collections.items.get(id);

describe('collection-item retention', () => {
  it('shows the periods on the collection and refuses bad ones naming the field', async () => {
    const id = await collection({ full_history_retention_period: 100, metadata_only_retention_period: 50 });
    const shown = await http('GET', `/api/1.0/collection/${id}/`, { token: owner() });
    expect(shown.json).toMatchObject({ full_history_retention_period: 100, metadata_only_retention_period: 50 });
    const plain = await collection({});
    expect((await http('GET', `/api/1.0/collection/${plain}/`, { token: owner() })).json).toMatchObject({ full_history_retention_period: null, metadata_only_retention_period: null });
    const bad = await http('POST', '/api/1.0/collection/', { token: owner(), body: { name: 'bad', category: 'testing:things', workspace: 'priv', full_history_retention_period: -1 } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.json)).toContain('full_history_retention_period');
  });

  it('a removed item keeps its link for the first period, its metadata for the second, then goes; the artifact expires once unlinked', async () => {
    const coll = await collection({ full_history_retention_period: 100, metadata_only_retention_period: 50 });
    const art = await artifact(10);
    const item = await addAndRemove(coll, 'x', art);

    tick(20); // the artifact has expired, the removed item still retains it
    const first = await pass();
    expect(first.items.kept).toEqual([expect.objectContaining({ collection: coll, item, why: expect.stringContaining('full history kept until') })]);
    expect(first.kept.map((k) => [k.id, k.reason.kind])).toEqual([[art, 'retained-by-collection']]);
    // not due again until the period ends: the next pass does not read it
    expect(world.deps.collections.retentionChecks.get(item)).toBe(nextItemRetentionCheck(itemRow(item)!, { fullHistoryRetentionPeriod: 100, metadataOnlyRetentionPeriod: 50 }));
    expect((await pass()).items.kept).toEqual([]);

    tick(90); // 110 s after removal: metadata only
    const dry = await pass(true);
    expect(dry.items.linkDropped).toEqual([{ collection: coll, item, name: 'x', artifact: art }]);
    expect(expiryReportText(dry)).toContain(`would be reduced to metadata: ${coll}/${item}`);
    expect(itemRow(item)!.artifactId).toBe(art); // a dry run changes nothing
    const second = await pass();
    expect(second.items.linkDropped).toEqual([{ collection: coll, item, name: 'x', artifact: art }]);
    expect(itemRow(item)).toMatchObject({ artifactId: null, name: 'x' });
    // the artifact is free: condemned now (this pass), deleted by the next
    expect(second.condemned).toEqual([art]);
    expect((await pass()).deleted).toEqual([art]);

    tick(50); // 160 s after removal: the row goes
    expect((await pass()).items.deleted).toEqual([{ collection: coll, item, name: 'x' }]);
    expect(itemRow(item)).toBeUndefined();
    expect(world.deps.collections.retentionChecks.has(item)).toBe(false);
    const actions = (await world.deps.audit.list({ limit: 100 })).items.filter((e) => e.action.startsWith('collection-item.'));
    expect(actions.map((e) => [e.action, e.details.item])).toEqual(
      expect.arrayContaining([
        ['collection-item.link-dropped', item],
        ['collection-item.deleted', item],
      ]),
    );
  });

  it('items of a collection that keeps history forever leave the index after one look; active items are never touched', async () => {
    const forever = await collection({});
    const metadataForever = await collection({ full_history_retention_period: 0 });
    const a = await addAndRemove(forever, 'a', await artifact(1000));
    const b = await addAndRemove(metadataForever, 'b', await artifact(1000));
    const active = await http('POST', `/api/1.0/collection/${metadataForever}/items/`, { token: owner(), body: { name: 'c', artifact: await artifact(1000) } });
    tick(1);
    const first = await pass();
    expect(first.items.kept).toEqual([expect.objectContaining({ item: a, why: describeItemRetention({ removedAt: 'x', artifactId: 1 }, { fullHistoryRetentionPeriod: null, metadataOnlyRetentionPeriod: null }) })]);
    expect(first.items.linkDropped.map((i) => i.item)).toEqual([b]);
    expect(world.deps.collections.retentionChecks.size).toBe(0);
    tick(1e6);
    const later = await pass();
    expect(later.items).toEqual({ linkDropped: [], deleted: [], kept: [], finished: true });
    expect(itemRow(a)!.artifactId).not.toBeNull();
    expect(itemRow(active.json.id)!.artifactId).not.toBeNull();
  });

  it('a bounded pass leaves the rest for the next one; a change between read and write wins over the pass', async () => {
    const coll = await collection({ full_history_retention_period: 0, metadata_only_retention_period: 0 });
    const items = [];
    for (let i = 0; i < 5; i++) items.push(await addAndRemove(coll, `i${i}`, await artifact(1000)));
    tick(1);
    const first = await runExpiryPass(world.deps, store, { maxItems: 3, recheckSeconds: 0 });
    expect(first.items.deleted.map((i) => i.item)).toEqual(items.slice(0, 3));
    expect(first.items.finished).toBe(false);
    expect(first.finished).toBe(false);
    // A stale read (the item changed since): the conditional write refuses it.
    const stale = { ...itemRow(items[3]!)!, removedAt: '2000-01-01T00:00:00.000Z' };
    expect(await store.items.deleteRemovedItem(stale)).toBe(false);
    const second = await runExpiryPass(world.deps, store, { maxItems: 3, recheckSeconds: 0 });
    expect(second.items.deleted.map((i) => i.item)).toEqual(items.slice(3));
  });
});
