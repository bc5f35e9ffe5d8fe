/**
 * Debusine's WebSocket protocol on the local stack, spoken as Debusine 0.12.1's worker and client
 * speak it (debusine/worker/_worker.py, debusine/client/debusine.py): the worker connects with its
 * `Token` header and is refused with TOKEN_DISABLED until enabled, then hears `connected`,
 * `request_dynamic_metadata` and `work_request_available`; its open socket keeps its work alive
 * (it sends no heartbeats); killed, its request is reclaimed and retried like any other worker's;
 * `on-completed` listeners hear `work_request_completed`.
 */
import { randomBytes } from 'node:crypto';
import { createAwsDeps } from '../../shared/adapters/aws';
import { enableWorker } from '../../shared/app/workers';
import { onWorkRequestCompleted, workRequestResponse } from './debusine-models';
import { Socket, sleep } from './debusine-socket';
import { startLocalStack, type LocalStack } from './stack';

jest.setTimeout(240_000);

describe("Debusine's WebSocket channel", () => {
  let stack: LocalStack | undefined;
  const open: Socket[] = [];
  afterAll(async () => {
    for (const s of open) s.ws.terminate();
    await stack?.stop();
  });

  it('speaks the worker protocol: refusal, greeting, work, liveness without heartbeats, recovery after kill -9, completions', async () => {
    stack = await startLocalStack({ env: { CONVEYOR_DEV_SCHEDULE_SECONDS: '2', CONVEYOR_WATCHDOG_STALE_SECONDS: '6' } });
    const wsBase = stack.url.replace('http', 'ws') + '/api/ws/1.0';
    const api = async (method: string, path: string, token: string, body?: unknown) => {
      const res = await fetch(`${stack!.url}/api/1.0/${path}`, {
        method,
        headers: { Token: token, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      return { status: res.status, json: text ? JSON.parse(text) : undefined };
    };
    const connect = async (path: string, token: string) => {
      const s = new Socket(`${wsBase}${path}`, token);
      open.push(s);
      await s.opened;
      return s;
    };

    // Registration as Debusine's worker does it: a token of its own, disabled until an admin enables it.
    const token = randomBytes(32).toString('hex');
    const registered = await api('POST', 'worker/register/', '', { token, fqdn: 'debusine-ws.lan', worker_type: 'external' });
    expect(registered.status).toBe(201);
    const workerName = registered.json.name as string;

    // Disabled or unknown token: accepted, then refused with TOKEN_DISABLED and closed (the worker retries).
    for (const key of [token, 'f'.repeat(64)]) {
      const refused = await connect('/worker/connect/', key);
      expect(await refused.waitFor((m) => m['type'] === 'connection_rejected', 'a rejection')).toMatchObject({ reason_code: 'TOKEN_DISABLED' });
      await refused.closed;
    }
    // A user token is not a worker's either; a path that is no endpoint is refused at the handshake.
    const asUser = await connect('/worker/connect/', stack.adminToken);
    await asUser.waitFor((m) => m['reason_code'] === 'TOKEN_DISABLED', 'a rejection');
    await expect(new Socket(`${wsBase}/nothing-here/`, token).opened).rejects.toThrow(/404/);

    // Work waits before the worker is enabled; connecting afterwards brings it at once.
    const created = await api('POST', 'work-request/', stack.adminToken, { task_name: 'noop', workspace: 'System', task_data: { result: true }, event_reactions: {} });
    expect(created.status).toBe(200);
    await enableWorker(createAwsDeps({ ...process.env, ...stack.env }), 'test', workerName);
    const listener = await connect('/work-request/on-completed/?workspaces=System', stack.adminToken);
    await listener.waitFor((m) => m['text'] === 'connected', 'connected (listener)');

    let worker = await connect('/worker/connect/', token);
    await worker.waitFor((m) => m['text'] === 'work_request_available', 'work_request_available');
    expect(worker.texts().slice(0, 2)).toEqual(['connected', 'request_dynamic_metadata']);
    expect((await api('PUT', 'worker/dynamic-metadata/', token, { 'system:host_architecture': 'amd64', 'system:architectures': ['amd64'] })).status).toBe(204);
    const started = await api('GET', 'work-request/get-next-for-worker/', token);
    expect(started.status).toBe(200);
    expect(workRequestResponse.parse(started.json)).toMatchObject({ id: created.json.id, status: 'running', worker: expect.any(Number) });

    // No heartbeats (Debusine's worker sends none): the open socket keeps the request running past the limit.
    await sleep(14_000);
    expect((await api('GET', `work-request/${created.json.id}/`, stack.adminToken)).json.status).toBe('running');

    // kill -9: the socket drops; the watchdog reclaims the request and retries it, like any other worker's.
    worker.ws.terminate();
    const deadline = Date.now() + 60_000;
    let lost = (await api('GET', `work-request/${created.json.id}/`, stack.adminToken)).json;
    while (lost.status === 'running' && Date.now() < deadline) {
      await sleep(1000);
      lost = (await api('GET', `work-request/${created.json.id}/`, stack.adminToken)).json;
    }
    expect(lost).toMatchObject({ status: 'aborted', superseded_by: expect.any(Number) });

    // The worker comes back: it is told at once, runs the retry and reports; the listener hears of it.
    worker = await connect('/worker/connect/', token);
    await worker.waitFor((m) => m['text'] === 'work_request_available', 'work_request_available after reconnecting');
    const retry = await api('GET', 'work-request/get-next-for-worker/', token);
    expect(retry.json).toMatchObject({ id: lost.superseded_by, status: 'running' });
    const done = await fetch(`${stack.url}/api/1.0/work-request/${retry.json.id}/completed/`, {
      method: 'PUT',
      headers: { Token: token, 'content-type': 'application/json' },
      body: JSON.stringify({ result: 'success', output_data: { runtime_statistics: { duration: 1 } } }),
    });
    expect(done.status).toBe(200);
    expect(await done.text()).toBe('');
    const completion = await listener.waitFor((m) => m['text'] === 'work_request_completed' && m['work_request_id'] === retry.json.id, 'work_request_completed');
    expect(onWorkRequestCompleted.parse(completion)).toMatchObject({ result: 'success' });

    // A listener that asks for completions since a moment hears those it missed, and only them.
    const since = new Date(Date.parse(String(completion['completed_at'])) - 1).toISOString();
    const late = await connect(`/work-request/on-completed/?workspaces=System&completed_at_since=${encodeURIComponent(since)}`, stack.adminToken);
    await late.waitFor((m) => m['work_request_id'] === retry.json.id, 'the missed completion');
    // An unknown workspace is refused (no TOKEN_DISABLED: that code is the worker's).
    const unknown = await connect('/work-request/on-completed/?workspaces=nope', stack.adminToken);
    expect(await unknown.waitFor((m) => m['type'] === 'connection_rejected', 'a rejection')).toEqual({ type: 'connection_rejected', reason: 'Workspace "nope" not found' });
  });
});
