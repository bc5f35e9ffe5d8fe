/**
 * Security findings 2 and 7: worker registration is bounded. Without an activation token
 * (Debusine's own flow) it is rate-limited, creates no queue and stays out of what the scheduler
 * reads; an activation token is spent by one conditional write; a contested machine name needs
 * the token fingerprint to be enabled.
 */
import { createHash } from 'node:crypto';
import { generateTokenKey } from '../../../shared/app/admin';
import { MAX_UNACTIVATED_REGISTRATIONS_PER_HOUR, tokenFingerprint } from '../../../shared/app/worker-registration';
import { createActivationToken, enableWorker, registerWorker } from '../../../shared/app/workers';
import { schedule } from '../../../shared/app/scheduler';
import { createSchedulingWorld, type SchedulingWorld } from '../../support/scheduling';
import { workApiClient, type WorkApiClient } from '../../support/work-api';

let world: SchedulingWorld;
let http: WorkApiClient;

beforeEach(async () => {
  world = await createSchedulingWorld();
  http = workApiClient(world.deps);
});

const register = (body: Record<string, unknown>, token?: string) => http('POST', '/api/1.0/worker/register/', { body, ...(token ? { token } : {}) });
const fingerprintOf = (key: string) => createHash('sha256').update(key).digest('hex').slice(0, 16);

it('an unapproved registration creates no queue and costs the scheduler and watchdog nothing', async () => {
  await world.addWorker('real.lan');
  for (let i = 0; i < 10; i++) expect((await register({ token: generateTokenKey(), fqdn: `flood-${i}.lan` })).status).toBe(201);
  expect(world.deps.workerChannels.queues.size).toBe(1);
  // The scheduler and the watchdog read workers.list(): only the enabled worker is in it.
  expect((await world.deps.workers.list()).map((w) => w.name)).toEqual(['real-lan']);
  const listSpy = jest.spyOn(world.deps.workers, 'listDisabled');
  await schedule(world.deps);
  expect(listSpy).not.toHaveBeenCalled();
  // Administrators still see them.
  const listed = await http('GET', '/api/1.0/worker/', { token: world.keys['admin'] });
  expect(listed.json.results).toHaveLength(11);
});

it(`registrations without an activation token are limited to MAX_UNACTIVATED_REGISTRATIONS_PER_HOUR (429 naming it)`, async () => {
  for (let i = 0; i < MAX_UNACTIVATED_REGISTRATIONS_PER_HOUR; i++) {
    expect((await register({ token: generateTokenKey(), fqdn: `w${i}.lan` })).status).toBe(201);
  }
  const refused = await register({ token: generateTokenKey(), fqdn: 'one-too-many.lan' });
  expect(refused.status).toBe(429);
  expect(refused.headers['content-type']).toBe('application/problem+json');
  expect(refused.json.detail).toMatch(/MAX_UNACTIVATED_REGISTRATIONS_PER_HOUR/);
  expect(await world.deps.workers.get('one-too-many-lan')).toBeUndefined();
  // Pool workers with an activation token are not limited; the next hour admits again.
  const { key: activation } = await createActivationToken(world.deps, 'admin');
  expect((await register({ token: generateTokenKey(), fqdn: 'pool.lan' }, activation)).status).toBe(201);
  world.deps.clock.advance(3600_000);
  expect((await register({ token: generateTokenKey(), fqdn: 'later.lan' })).status).toBe(201);
});

it('two concurrent registrations with one activation token: exactly one wins (one conditional write)', async () => {
  const { key: activation } = await createActivationToken(world.deps, 'admin');
  const results = await Promise.all([
    register({ token: generateTokenKey(), fqdn: 'pool-a.lan' }, activation),
    register({ token: generateTokenKey(), fqdn: 'pool-b.lan' }, activation),
  ]);
  expect(results.map((r) => r.status).sort()).toEqual([201, 401]);
  const enabled = (await world.deps.workers.list()).map((w) => w.name);
  expect(enabled).toHaveLength(1);
  expect((await world.deps.workers.listDisabled()).filter((w) => w.name.startsWith('pool'))).toEqual([]);
});

it('a machine name registered first by someone else is not enabled without the token fingerprint', async () => {
  const attackerKey = generateTokenKey();
  const realKey = generateTokenKey();
  const squatter = await registerWorker(world.deps, { tokenKey: attackerKey, fqdn: 'build1.example.org' });
  const real = await registerWorker(world.deps, { tokenKey: realKey, fqdn: 'build1.example.org' });
  expect([squatter.name, real.name]).toEqual(['build1-example-org', 'build1-example-org-2']);
  // The administrator enables "build1-example-org" as usual: refused, both fingerprints named.
  await expect(enableWorker(world.deps, 'admin', 'build1-example-org')).rejects.toThrow(/Contested worker name|await approval/);
  await expect(enableWorker(world.deps, 'admin', 'build1-example-org')).rejects.toThrow(new RegExp(fingerprintOf(realKey)));
  // The fingerprint shown on the real machine does not match the squatter's registration.
  await expect(enableWorker(world.deps, 'admin', 'build1-example-org', fingerprintOf(realKey))).rejects.toThrow(/Fingerprint mismatch/);
  expect((await world.deps.workers.get('build1-example-org'))!.enabled).toBe(false);
  const enabled = await enableWorker(world.deps, 'admin', 'build1-example-org-2', fingerprintOf(realKey));
  expect(enabled).toMatchObject({ enabled: true, queueUrl: 'memory://queues/conveyor-worker-build1-example-org-2' });
  expect(tokenFingerprint(real.tokenHash)).toBe(fingerprintOf(realKey));
});
