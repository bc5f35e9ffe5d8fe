/**
 * Concurrent scheduler passes against DynamoDB Local never give a request to two workers, and
 * never put a worker over its concurrency.
 */
import { createAwsDeps } from '../../shared/adapters/aws';
import { generateTokenKey, createToken, createUser, createWorkspace, grantRole } from '../../shared/app/admin';
import { authenticate } from '../../shared/app/auth';
import { createArtifact } from '../../shared/app/artifacts';
import { initDatabase } from '../../shared/app/bootstrap';
import { schedule } from '../../shared/app/scheduler';
import { createWorkRequest } from '../../shared/app/work-requests';
import { enableWorker, registerWorker, updateDynamicMetadata } from '../../shared/app/workers';
import type { Deps } from '../../shared/ports';
import { AMD64_METADATA } from '../support/scheduling';

jest.setTimeout(120_000);

let deps: Deps;
const suffix = Math.random().toString(36).slice(2, 8);

beforeAll(async () => {
  deps = createAwsDeps(process.env);
  await initDatabase(deps);
});

it('never double-assigns under concurrent scheduler passes', async () => {
  const workspace = `sched-${suffix}`;
  await createWorkspace(deps, 'test', { name: workspace });
  await createUser(deps, 'test', { username: `sched-${suffix}` });
  await grantRole(deps, 'test', { workspace, username: `sched-${suffix}`, role: 'contributor' });
  const { key } = await createToken(deps, 'test', { username: `sched-${suffix}`, enabled: true });
  const user = await authenticate(deps, key);
  // Workers advertise an architecture of their own so that only this test's requests match them.
  const arch = `test-${suffix}`;
  const metadata = { ...AMD64_METADATA, 'system:architectures': [arch], 'system:host_architecture': arch };
  const workers: Awaited<ReturnType<typeof registerWorker>>[] = [];
  for (const [i, concurrency] of [1, 2, 3].entries()) {
    const tokenKey = generateTokenKey();
    const w = await registerWorker(deps, { tokenKey, fqdn: `sched-${suffix}-${i}.lan`, concurrency });
    await enableWorker(deps, 'test', w.name);
    await updateDynamicMetadata(deps, await authenticate(deps, tokenKey), metadata);
    workers.push(w);
  }
  // lintian because it takes a host architecture: the requests land in this test's own partition.
  const input = await createArtifact(deps, user, { scope: 'debusine', workspace, category: 'debian:binary-package', data: {}, files: {} });
  const requests = [];
  for (let i = 0; i < 12; i++) {
    requests.push(
      await createWorkRequest(deps, user, { scope: 'debusine', workspace, taskName: 'lintian', taskData: { input: { binary_artifacts: [input.artifact.id] }, host_architecture: arch } }),
    );
  }
  const passes = await Promise.all(Array.from({ length: 6 }, () => schedule(deps)));
  const assignments = passes.flatMap((p) => p.assigned).filter((a) => workers.some((w) => w.name === a.worker));
  const ids = assignments.map((a) => a.workRequestId);
  expect(new Set(ids).size).toBe(ids.length); // no request assigned twice
  expect(ids.length).toBe(6); // 1 + 2 + 3 slots
  for (const w of workers) {
    const stored = (await deps.workers.get(w.name))!;
    const held = (await deps.workRequests.activeForWorker(w.name)).length;
    expect(stored.assigned).toBe(w.concurrency);
    expect(held).toBe(w.concurrency);
  }
  for (const r of requests) {
    const stored = (await deps.workRequests.get(r.id))!;
    const claimants = assignments.filter((a) => a.workRequestId === r.id).map((a) => a.worker);
    expect(claimants.length).toBeLessThanOrEqual(1);
    expect(stored.worker ?? undefined).toBe(claimants[0]);
  }
});
