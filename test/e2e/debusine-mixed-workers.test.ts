/**
 * A Debusine worker (its WebSocket protocol, spoken by the test as Debusine 0.12.1's worker speaks it)
 * and a real `conveyor worker` take work from the same pending requests: one scheduler, each worker
 * told on its own channel (WebSocket / SQS), every request run exactly once. A Debusine worker that
 * disappears mid-task (socket closed; it sends no heartbeats) loses its request to the same watchdog
 * and reclaim rule as any worker, and the retry runs on a `conveyor worker`.
 */
import { randomBytes } from 'node:crypto';
import { enableWorker } from '../../shared/app/workers';
import { Socket, sleep } from './debusine-socket';
import { E2eHarness, WORKSPACE, isFinished } from './harness';
import { waitFor } from './worker-process';

jest.setTimeout(300_000);

const h = new E2eHarness({ tmpPrefix: 'conveyor-e2e-mixed-', dirs: ['home', 'config', 'cache'] });
const sockets: Socket[] = [];

// The heartbeat limit leaves a busy machine room for `conveyor worker`'s heartbeats (one a second).
beforeAll(() => h.start({ CONVEYOR_DEV_SCHEDULE_SECONDS: '1', CONVEYOR_WATCHDOG_STALE_SECONDS: '20' }), 240_000);
afterAll(async () => {
  for (const s of sockets) s.ws.terminate();
  await h.stop({ stopWorkers: 'log' });
}, 120_000);

/** Debusine's worker: its own token, registered, enabled by the admin, connected and greeted. */
async function debusineWorker(fqdn: string) {
  const token = randomBytes(32).toString('hex');
  const call = async (method: string, path: string, body?: unknown, asWorker = true) => {
    const res = await fetch(`${h.stack!.url}/api/1.0/${path}`, {
      method,
      headers: { ...(asWorker ? { Token: token } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined };
  };
  // Registration carries the new token in the body only (Debusine's worker sends no Token header yet).
  const registered = await call('POST', 'worker/register/', { token, fqdn, worker_type: 'external' }, false);
  expect(registered.status).toBe(201);
  const name = registered.json.name as string;
  await enableWorker(h.deps!, 'test', name);
  const socket = new Socket(`${h.stack!.url.replace('http', 'ws')}/api/ws/1.0/worker/connect/`, token);
  sockets.push(socket);
  await socket.opened;
  await socket.waitFor((m) => m['text'] === 'request_dynamic_metadata', 'request_dynamic_metadata', 90_000);
  expect((await call('PUT', 'worker/dynamic-metadata/', { 'system:host_architecture': 'amd64', 'system:architectures': ['amd64'] })).status).toBe(204);
  return {
    name,
    socket,
    /** get-next-for-worker: the request it should run now, if any. */
    async next(): Promise<{ id: number; status: string } | undefined> {
      const res = await call('GET', 'work-request/get-next-for-worker/');
      if (res.status === 204) return undefined;
      expect(res.status).toBe(200);
      return res.json;
    },
    async complete(id: number): Promise<void> {
      const res = await call('PUT', `work-request/${id}/completed/`, { result: 'success', output_data: { runtime_statistics: { duration: 1 } } });
      expect(res.status).toBe(200);
    },
  };
}

const createNoop = async (): Promise<number> => {
  const res = await h.api('POST', 'work-request/', 'contributor', { task_name: 'noop', task_data: { result: true }, workspace: WORKSPACE });
  h.expectStatus(res, 200);
  return res.json.id as number;
};

describe('a Debusine worker next to a conveyor worker', () => {
  it('both take requests from the same pending queue; none is assigned twice', async () => {
    const [bee] = await h.startWorkers(['bee.e2e.test']);
    const debusine = await debusineWorker('debusine-mixed.e2e.test');
    const ids: number[] = [];
    for (let i = 0; i < 6; i++) ids.push(await createNoop());

    // The Debusine worker runs what get-next gives it; it holds its first request until the conveyor
    // worker has finished one, so that both are seen working at the same time.
    const taken: number[] = [];
    const deadline = Date.now() + 150_000;
    for (;;) {
      const finals = await Promise.all(ids.map((id) => h.getWorkRequest(id)));
      if (finals.every(isFinished)) break;
      if (Date.now() > deadline) throw new Error(`not all finished: ${JSON.stringify(finals.map((w) => [w.id, w.status, w.worker_name]))}\n${h.diagnostics()}`);
      const work = await debusine.next();
      if (!work) {
        await sleep(300);
        continue;
      }
      expect(work.status).toBe('running');
      taken.push(work.id);
      if (taken.length === 1) {
        await waitFor(
          'a request finished by the conveyor worker',
          () => Promise.all(ids.map((id) => h.getWorkRequest(id))),
          (all) => all.some((w) => w.worker_name === bee!.name && w.status === 'completed'),
          { describe: h.diagnostics },
        );
      }
      await debusine.complete(work.id);
    }

    const finals = await Promise.all(ids.map((id) => h.getWorkRequest(id)));
    for (const w of finals) expect(w).toMatchObject({ status: 'completed', result: 'success', superseded_by: null });
    const ranBy = (name: string) => finals.filter((w) => w.worker_name === name).map((w) => w.id as number).sort((a, b) => a - b);
    // Every request ran on exactly one of the two, and the Debusine worker got each of its own once.
    expect(new Set(taken).size).toBe(taken.length);
    expect(ranBy(debusine.name)).toEqual([...taken].sort((a, b) => a - b));
    expect(ranBy(debusine.name).length).toBeGreaterThan(0);
    expect(ranBy(bee!.name).length).toBeGreaterThan(0);
    expect(ranBy(debusine.name).length + ranBy(bee!.name).length).toBe(ids.length);
    // The socket was told of its work (work_request_available), not only polled.
    expect(debusine.socket.messages.filter((m) => m['text'] === 'work_request_available').length).toBeGreaterThan(0);
    await bee!.stop();
    debusine.socket.ws.terminate();
  });

  it("a Debusine worker that disappears mid-task loses its request to the watchdog; the retry runs on a conveyor worker", async () => {
    // Only the Debusine worker may take the next request.
    for (const w of h.workers) if (!w.exitStatus()) await w.stop();
    const debusine = await debusineWorker('debusine-gone.e2e.test');
    const id = await createNoop();
    const work = await waitFor('the request for the Debusine worker', () => debusine.next(), (w) => w !== undefined, { timeoutMs: 60_000, describe: h.diagnostics });
    expect(work).toMatchObject({ id, status: 'running' });
    // Gone: the socket drops, and it never reports. The watchdog reclaims the request and retries it.
    debusine.socket.ws.terminate();
    const lost = await h.waitForWorkRequest(id, (w) => w.status !== 'running', 'the request reclaimed', 120_000);
    expect(lost).toMatchObject({ status: 'aborted', worker_name: debusine.name, superseded_by: expect.any(Number) });
    const [wasp] = await h.startWorkers(['wasp.e2e.test']);
    const retry = await h.waitForFinished(lost.superseded_by as number, 120_000);
    expect(retry).toMatchObject({ status: 'completed', result: 'success', worker_name: wasp!.name });
    await wasp!.stop();
  });
});
