import { createMemoryDeps } from '../../shared/adapters/memory';
import { generateTokenKey } from '../../shared/app/admin';
import { workerIdsOf } from '../../shared/app/worker-ids';
import { registerWorker } from '../../shared/app/workers';

describe("Debusine's integer worker ids", () => {
  it('registration gives distinct ids; workers stored before ids existed get one on first lookup, once', async () => {
    const deps = createMemoryDeps();
    const a = await registerWorker(deps, { tokenKey: generateTokenKey(), fqdn: 'a.lan' });
    const b = await registerWorker(deps, { tokenKey: generateTokenKey(), fqdn: 'b.lan' });
    expect(a.id).toEqual(expect.any(Number));
    expect(b.id).not.toBe(a.id);

    // A worker row written before workers had ids.
    const legacy = await registerWorker(deps, { tokenKey: generateTokenKey(), fqdn: 'old.lan' });
    const stored = (await deps.workers.get(legacy.name))!;
    const { id: _dropped, ...withoutId } = stored;
    await deps.workers.update({ ...withoutId, version: stored.version + 1 }, stored.version);
    expect((await deps.workers.get(legacy.name))!.id).toBeUndefined();

    const ids = await workerIdsOf(deps, [a.name, null, legacy.name, 'unknown', a.name]);
    const legacyId = ids.get(legacy.name)!;
    expect(ids.get(a.name)).toBe(a.id);
    expect(ids.has('unknown')).toBe(false);
    expect([a.id, b.id]).not.toContain(legacyId);
    expect((await deps.workers.get(legacy.name))!.id).toBe(legacyId);
    // Stable: asked again (alone or with others), the same id.
    expect((await workerIdsOf(deps, [legacy.name])).get(legacy.name)).toBe(legacyId);
    expect((await workerIdsOf(deps, [])).size).toBe(0);
  });
});
