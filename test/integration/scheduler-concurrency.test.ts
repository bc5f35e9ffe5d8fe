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
import { enableWorker, getNextForWorker, registerWorker, updateDynamicMetadata } from '../../shared/app/workers';
import type { Deps } from '../../shared/ports';
import { AMD64_METADATA } from '../support/scheduling';

jest.setTimeout(120_000);

let deps: Deps;
const suffix = Math.random().toString(36).slice(2, 8);
const pullSuffix = `${suffix}p`;

beforeAll(async () => {
  deps = createAwsDeps(process.env);
  await initDatabase(deps);
});

async function setUp(tag: string) {
  const workspace = `sched-${tag}`;
  await createWorkspace(deps, 'test', { name: workspace });
  await createUser(deps, 'test', { username: `sched-${tag}` });
  await grantRole(deps, 'test', { workspace, username: `sched-${tag}`, role: 'contributor' });
  const { key } = await createToken(deps, 'test', { username: `sched-${tag}`, enabled: true });
  const user = await authenticate(deps, key);
  // Workers advertise an architecture of their own so that only this test's requests match them.
  const arch = `test-${suffix}`;
  const metadata = { ...AMD64_METADATA, 'system:architectures': [arch], 'system:host_architecture': arch };
  const workers: (Awaited<ReturnType<typeof registerWorker>> & { tokenKey: string })[] = [];
  for (const [i, concurrency] of [1, 2, 3].entries()) {
    const tokenKey = generateTokenKey();
    const w = await registerWorker(deps, { tokenKey, fqdn: `sched-${tag}-${i}.lan`, concurrency });
    await enableWorker(deps, 'test', w.name);
    await updateDynamicMetadata(deps, await authenticate(deps, tokenKey), metadata);
    workers.push({ ...w, tokenKey });
  }
  // lintian because it takes a host architecture: the requests land in this test's own partition.
  const input = await createArtifact(deps, user, { scope: 'debusine', workspace, category: 'debian:binary-package', data: {}, files: {} });
  const requests = [];
  for (let i = 0; i < 12; i++) {
    requests.push(
      await createWorkRequest(deps, user, { scope: 'debusine', workspace, taskName: 'lintian', taskData: { input: { binary_artifacts: [input.artifact.id] }, host_architecture: arch } }),
    );
  }
  return { workers, requests };
}

it('never double-assigns under concurrent scheduler passes', async () => {
  const { workers, requests } = await setUp(suffix);
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

it('never double-assigns when get-next pulls race scheduler passes', async () => {
  const { workers } = await setUp(pullSuffix);
  const callers = await Promise.all(workers.map((w) => authenticate(deps, w.tokenKey)));
  // Every worker pulls as many times as it has slots (each pull keeps what it started), while passes run.
  const started = new Map<string, number[]>(workers.map((w) => [w.name, []]));
  const pull = async (i: number) => {
    for (let n = 0; n < workers[i]!.concurrency; n++) {
      const wr = await getNextForWorker(deps, callers[i]!, started.get(workers[i]!.name)!);
      if (wr) started.get(workers[i]!.name)!.push(wr.id);
    }
  };
  await Promise.all([schedule(deps), pull(0), schedule(deps), pull(1), pull(2), schedule(deps)]);
  for (const w of workers) {
    const stored = (await deps.workers.get(w.name))!;
    const held = (await deps.workRequests.activeForWorker(w.name)).length;
    expect(stored.assigned).toBe(w.concurrency);
    expect(held).toBe(w.concurrency);
  }
  // Each request is held by one worker at most, and each pulled one by the worker that started it.
  const owners = new Map<number, string>();
  for (const w of workers) {
    for (const wr of await deps.workRequests.activeForWorker(w.name)) {
      expect(owners.has(wr.id)).toBe(false);
      expect((await deps.workRequests.get(wr.id))!.worker).toBe(w.name);
      owners.set(wr.id, w.name);
    }
  }
  expect(owners.size).toBe(6); // 1 + 2 + 3 slots
  for (const [name, ids] of started) for (const id of ids) expect(owners.get(id)).toBe(name);
});
