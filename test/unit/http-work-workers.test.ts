/**
 * The worker API over HTTP (workers-api) against the memory deps, routed with the manifest's
 * routes as the local gateway routes them, handled by the real middy handlers.
 */
import { generateTokenKey } from '../../shared/app/admin';
import { setMachineState } from '../../shared/app/machines';
import { createActivationToken } from '../../shared/app/workers';
import { createSchedulingWorld, type SchedulingWorld } from '../support/scheduling';
import { workApiClient, type WorkApiClient } from '../support/work-api';

let world: SchedulingWorld;
let http: WorkApiClient;
let key: (name: string) => string;

beforeEach(async () => {
  world = await createSchedulingWorld();
  http = workApiClient(world.deps);
  key = (name) => world.keys[name]!;
});

const register = (body: Record<string, unknown>, token?: string) => http('POST', '/api/1.0/worker/register/', { body, ...(token ? { token } : {}) });

describe('POST worker/register/', () => {
  it('registers under the slug of the FQDN, disabled, its queue not created until enabled: 201 {name, enabled}', async () => {
    const res = await register({ token: generateTokenKey(), fqdn: 'Worker-Bee.lan' });
    expect(res.status).toBe(201);
    expect(res.json).toEqual({ id: expect.any(Number), name: 'worker-bee-lan', enabled: false });
    const stored = await world.deps.workers.get('worker-bee-lan');
    expect(stored).toMatchObject({ enabled: false, workerType: 'external', concurrency: 1 });
    expect(stored!.queueUrl).toBeNull();
    const again = await register({ token: generateTokenKey(), fqdn: 'worker-bee.lan', worker_type: 'celery', concurrency: 4 });
    expect(again.json).toEqual({ id: expect.any(Number), name: 'worker-bee-lan-2', enabled: false });
    expect(await world.deps.workers.get('worker-bee-lan-2')).toMatchObject({ workerType: 'celery', concurrency: 4 });
  });

  it.each([
    [{ token: 'ab'.repeat(31), fqdn: 'x' }, 'token'],
    [{ token: 'AB'.repeat(32), fqdn: 'x' }, 'token'],
    [{ token: 'ab'.repeat(32), fqdn: '' }, 'fqdn'],
    [{ token: 'ab'.repeat(32), fqdn: 'x'.repeat(256) }, 'fqdn'],
    [{ token: 'ab'.repeat(32), fqdn: 'x', worker_type: 'robot' }, 'worker_type'],
    [{ token: 'ab'.repeat(32), fqdn: 'x', concurrency: 0 }, 'concurrency'],
    [{ token: 'ab'.repeat(32), fqdn: 'x', concurrency: 65 }, 'concurrency'],
    [{ token: 'ab'.repeat(32), fqdn: 'x', concurrency: 1.5 }, 'concurrency'],
    [{ token: 'ab'.repeat(32), fqdn: 'x', name: 'mine' }, 'name'],
    [{ fqdn: 'x' }, 'token'],
  ])('refuses %j (400 naming %s)', async (body, field) => {
    const res = await register(body);
    expect(res.status).toBe(400);
    expect(Object.keys(res.json.validation_errors)).toEqual([field]);
    expect(await world.deps.workers.list()).toHaveLength(0);
  });

  it('refuses a token that is already registered (409)', async () => {
    const token = generateTokenKey();
    expect((await register({ token, fqdn: 'a.lan' })).status).toBe(201);
    expect((await register({ token, fqdn: 'b.lan' })).status).toBe(409);
  });

  it('refuses a Token header that is not an activation token', async () => {
    const res = await register({ token: generateTokenKey(), fqdn: 'pool.lan' }, key('viewer'));
    expect(res.status).toBe(401);
    expect(await world.deps.workers.list()).toHaveLength(0);
  });

  // Debusine behaviour 3. Fails while authenticate() (shared/app/auth.ts) refuses activation
  // tokens before the route runs: "the token is not a user token" (401).
  it('enables a pool worker that presents an activation token in Token, once', async () => {
    const { key: activation } = await createActivationToken(world.deps, 'admin');
    const res = await register({ token: generateTokenKey(), fqdn: 'pool.lan' }, activation);
    expect(res.status).toBe(201);
    expect(res.json).toEqual({ id: expect.any(Number), name: 'pool-lan', enabled: true });
    expect((await register({ token: generateTokenKey(), fqdn: 'pool.lan' }, activation)).status).toBe(403); // used up: Debusine's 403
  });
});

describe("the worker's own calls", () => {
  it('dynamic-metadata: 204, stores it and marks the worker connected; objects only; workers only', async () => {
    const worker = await world.addWorker('bee.lan');
    await world.deps.workers.update({ ...(await world.deps.workers.get(worker.name))!, connectedAt: null, version: 99 }, (await world.deps.workers.get(worker.name))!.version);
    const res = await http('PUT', '/api/1.0/worker/dynamic-metadata/', { token: worker.key, body: { 'system:architectures': ['arm64'], 'noop:available': true } });
    expect(res.status).toBe(204);
    expect(res.body).toBe('');
    const stored = (await world.deps.workers.get(worker.name))!;
    expect(stored.dynamicMetadata).toEqual({ 'system:architectures': ['arm64'], 'noop:available': true });
    expect(stored.connectedAt).not.toBeNull();
    expect(world.deps.queues.schedulerEvents).toContainEqual({ type: 'worker-available', worker: worker.name });
    for (const body of [[1, 2], 'text', 3]) {
      expect((await http('PUT', '/api/1.0/worker/dynamic-metadata/', { token: worker.key, body })).status).toBe(400);
    }
    expect((await http('PUT', '/api/1.0/worker/dynamic-metadata/', { token: key('admin'), body: {} })).status).toBe(403);
    expect((await http('PUT', '/api/1.0/worker/dynamic-metadata/', { body: {} })).status).toBe(401);
  });

  it('disconnect: 204 and clears connected_at', async () => {
    const worker = await world.addWorker('bee.lan');
    expect((await world.deps.workers.get(worker.name))!.connectedAt).not.toBeNull();
    const res = await http('POST', '/api/1.0/worker/disconnect/', { token: worker.key });
    expect(res.status).toBe(204);
    expect((await world.deps.workers.get(worker.name))!.connectedAt).toBeNull();
    expect((await http('POST', '/api/1.0/worker/disconnect/', { token: key('admin') })).status).toBe(403);
  });

  it('queue: where to long-poll, never cached; workers only (literal route wins over {name})', async () => {
    const worker = await world.addWorker('bee.lan');
    const res = await http('GET', '/api/1.0/worker/queue/', { token: worker.key });
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.json).toEqual({ queue_url: 'memory://queues/conveyor-worker-bee-lan', region: 'local' });
    expect((await http('GET', '/api/1.0/worker/queue/', { token: key('admin') })).status).toBe(403);
  });

  it('queue: shapes temporary credentials in snake_case', async () => {
    const worker = await world.addWorker('bee.lan');
    world.deps.workerChannels.access = async (queueUrl) => ({
      queueUrl,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'ASIA', secretAccessKey: 'secret', sessionToken: 'tok', expiration: '2026-01-01T01:00:00.000Z' },
    });
    const res = await http('GET', '/api/1.0/worker/queue/', { token: worker.key });
    expect(res.json).toEqual({
      queue_url: 'memory://queues/conveyor-worker-bee-lan',
      region: 'eu-west-1',
      credentials: { access_key_id: 'ASIA', secret_access_key: 'secret', session_token: 'tok', expiration: '2026-01-01T01:00:00.000Z' },
    });
  });
});

describe('GET worker/ and worker/<name>/', () => {
  it('lists workers with their merged metadata and current work, to any authenticated caller', async () => {
    const worker = await world.addWorker('bee.lan', { concurrency: 2 });
    await world.deps.workers.update(
      { ...(await world.deps.workers.get(worker.name))!, staticMetadata: { 'system:architectures': ['s390x'] }, version: 100 },
      (await world.deps.workers.get(worker.name))!.version,
    );
    await world.submit('noop');
    const { schedule } = await import('../../shared/app/scheduler');
    await schedule(world.deps);
    const res = await http('GET', '/api/1.0/worker/', { token: key('viewer') });
    expect(res.status).toBe(200);
    expect(res.json.results).toHaveLength(1);
    const shown = res.json.results[0];
    expect(shown).toMatchObject({ name: 'bee-lan', worker_type: 'external', enabled: true, connected: true, concurrency: 2, state: 'ONLINE', offline_reason: null });
    expect(shown.metadata['system:architectures']).toEqual(['s390x']); // static wins
    expect(shown.metadata['noop:available']).toBe(true);
    expect(Object.keys(shown).sort()).toEqual(
      ['assigned', 'concurrency', 'connected', 'connected_at', 'current_work', 'enabled', 'id', 'last_seen_at', 'metadata', 'name', 'offline_reason', 'registered_at', 'state', 'worker_type'].sort(),
    );
    expect((await http('GET', '/api/1.0/worker/', { token: worker.key })).status).toBe(200);
    expect((await http('GET', '/api/1.0/worker/')).status).toBe(401);
  });

  it('shows one worker; 404 for an unknown one', async () => {
    await world.addWorker('bee.lan');
    const res = await http('GET', '/api/1.0/worker/bee-lan/', { token: key('viewer') });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ name: 'bee-lan', current_work: [] });
    expect((await http('GET', '/api/1.0/worker/wasp/', { token: key('viewer') })).status).toBe(404);
    expect((await http('GET', '/api/1.0/worker/bee-lan/')).status).toBe(401);
  });

  it("shows the worker's machine state (the web UI's workers page): OFFLINE with its reason after a stop", async () => {
    await world.addWorker('bee.lan');
    await setMachineState(world.deps, 'user:admin', 'bee-lan', 'offline');
    const res = await http('GET', '/api/1.0/worker/', { token: key('viewer') });
    expect(res.json.results[0]).toMatchObject({ name: 'bee-lan', state: 'OFFLINE', offline_reason: 'STOPPED' });
    await setMachineState(world.deps, 'user:admin', 'bee-lan', 'online');
    expect((await http('GET', '/api/1.0/worker/bee-lan/', { token: key('viewer') })).json).toMatchObject({ state: 'ONLINE', offline_reason: null });
  });
});
