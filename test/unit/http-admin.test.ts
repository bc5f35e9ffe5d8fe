/**
 * The administrator routes of the web UI over the real HTTP handler (memory adapters): worker
 * enable/disable through the same use cases as `conveyor admin worker`, audited; the audit log
 * newest first and paginated; 403 for everyone else; bad input a 400 naming the field.
 */
import { createSchedulingWorld, type SchedulingWorld } from '../support/scheduling';
import { httpClient } from '../support/world';
import { adminWorkerRoutes, auditRoutes } from '../../shared/http/routes/admin';

let world: SchedulingWorld;
let http: ReturnType<typeof httpClient>;
const as = (name: string, body?: unknown) => ({ token: world.keys[name]!, ...(body !== undefined ? { body } : {}) });

beforeEach(async () => {
  world = await createSchedulingWorld();
  http = httpClient(world.deps, { ...adminWorkerRoutes(() => world.deps), ...auditRoutes(() => world.deps) });
});

test('an admin disables and enables a worker: its token stops and starts working, each change is audited', async () => {
  const worker = await world.addWorker('w1.example.org');
  const disabled = await http('POST', `/api/1.0/worker/${worker.name}/disable/`, as('admin'));
  expect(disabled.status).toBe(200);
  expect(disabled.json).toMatchObject({ name: worker.name, enabled: false });
  expect((await world.deps.workers.get(worker.name))?.enabled).toBe(false);
  await expect(worker.caller()).rejects.toThrow();
  const enabled = await http('POST', `/api/1.0/worker/${worker.name}/enable/`, as('admin', {}));
  expect(enabled.json).toMatchObject({ name: worker.name, enabled: true });
  await expect(worker.caller()).resolves.toMatchObject({ kind: 'worker' });

  const audit = await http('GET', '/api/1.0/audit/?limit=2', as('admin'));
  expect(audit.status).toBe(200);
  expect(audit.json.results.map((e: { action: string; actor: string; details: object }) => [e.action, e.actor, e.details])).toEqual([
    ['worker.enable', 'user:admin', { worker: worker.name }],
    ['worker.disable', 'user:admin', { worker: worker.name }],
  ]);
  expect(audit.json.next).toContain('cursor=');
  const older = await http('GET', `/api/1.0/audit/?limit=2&cursor=${audit.json.cursor}`, as('admin'));
  expect(older.status).toBe(200);
  expect(older.json.results.length).toBeGreaterThan(0);
  expect(older.json.results.map((e: { id: string }) => e.id)).not.toContain(audit.json.results[0].id);
});

test('non-admins get 403 and change nothing; unknown workers 404; bad input 400 naming the field', async () => {
  const worker = await world.addWorker('w2.example.org');
  const before = world.deps.audit.entries.length;
  for (const who of ['owner', 'contributor', 'viewer']) {
    expect((await http('POST', `/api/1.0/worker/${worker.name}/disable/`, as(who))).status).toBe(403);
    expect((await http('GET', '/api/1.0/audit/', as(who))).status).toBe(403);
  }
  expect((await http('GET', '/api/1.0/audit/', {})).status).toBe(401);
  expect((await world.deps.workers.get(worker.name))?.enabled).toBe(true);
  expect(world.deps.audit.entries.length).toBe(before);

  expect((await http('POST', '/api/1.0/worker/no-such-worker/disable/', as('admin'))).status).toBe(404);
  const badBody = await http('POST', `/api/1.0/worker/${worker.name}/enable/`, as('admin', { fingerprint: 'xyz', extra: 1 }));
  expect(badBody.status).toBe(400);
  expect(badBody.headers['content-type']).toMatch(/problem\+json/);
  const badLimit = await http('GET', '/api/1.0/audit/?limit=0', as('admin'));
  expect(badLimit.status).toBe(400);
  expect(badLimit.json.validation_errors).toHaveProperty(['limit']);
  const badCursor = await http('GET', '/api/1.0/audit/?cursor=not-a-cursor', as('admin'));
  expect(badCursor.status).toBe(400);
  expect(badCursor.json.validation_errors).toHaveProperty(['cursor']);
  expect((await world.deps.workers.get(worker.name))?.enabled).toBe(true);
});
