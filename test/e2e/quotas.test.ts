/**
 * Quotas end to end on the local stack: usage arrives through the accounting queue's consumer
 * (asynchronously), limits refuse new artifacts and work requests with a 403 that names the
 * resource, the usage and the limit, and a disabled user's token and pending work stop.
 */
import { createWorkRequest } from '../../shared/app/work-requests';
import { sha256 } from '../support/world';
import { E2eHarness, WORKSPACE } from './harness';
import { waitFor } from './worker-process';

jest.setTimeout(300_000);

const KiB = 1024;
const h = new E2eHarness({ tmpPrefix: 'conveyor-e2e-quotas-' });

beforeAll(async () => {
  await h.start({ CONVEYOR_DEV_SCHEDULE_SECONDS: '1' });
  await h.startWorkers(['quota.e2e.test']);
}, 240_000);
afterAll(() => h.stop({ stopWorkers: 'log' }), 180_000);

const fileDecl = (bytes: Buffer) => ({ type: 'file', size: bytes.length, checksums: { sha256: sha256(bytes) } });

async function upload(user: string, name: string, bytes: Buffer) {
  return h.api('POST', 'artifact/', user, { category: 'testing', workspace: WORKSPACE, data: {}, files: { [name]: fileDecl(bytes) } });
}

async function quotaOf(user: string): Promise<any> {
  return (await h.getJson('user/quota/', user)).quota;
}

function waitForQuota(user: string, done: (q: any) => boolean, what: string): Promise<any> {
  return waitFor(`${user}'s quota ${what}`, () => quotaOf(user), done, { timeoutMs: 60_000, describe: h.diagnostics });
}

it('a 1 MiB disk quota: 900 KiB is a warning, 200 KiB more is refused naming disk, usage and limit; deleting frees it', async () => {
  h.expectStatus(await h.api('PUT', 'admin/quota/', 'admin', { user: 'uploader', resource: 'disk', limit: 1024 * KiB }), 200);
  const big = Buffer.alloc(900 * KiB, 7);
  const created = await upload('uploader', 'big.bin', big);
  h.expectStatus(created, 201);
  const put = await h.http('PUT', `/api/1.0/artifact/${created.json.id}/files/big.bin`, { token: h.keys['uploader'], rawBody: big });
  expect([200, 201]).toContain(put.status);
  const after = await waitForQuota('uploader', (q) => q.disk.usage.raw === 900 * KiB, 'to count 900 KiB');
  expect(after.disk).toEqual({ usage: { raw: 921600, human_readable: '900 KiB' }, limit: { raw: 1048576, human_readable: '1 MiB' }, health: 'warning' });

  const small = Buffer.alloc(200 * KiB, 8);
  const refused = await upload('uploader', 'small.bin', small);
  h.expectStatus(refused, 403);
  expect(refused.headers['content-type']).toBe('application/problem+json');
  expect(refused.json).toMatchObject({ resource: 'disk', usage: { human_readable: '900 KiB' }, limit: { human_readable: '1 MiB' } });
  expect(refused.json.detail).toMatch(/900 KiB of its 1 MiB disk quota.*delete artifacts/);

  h.expectStatus(await h.api('DELETE', `artifact/${created.json.id}/`, 'uploader'), 204);
  await waitForQuota('uploader', (q) => q.disk.usage.raw === 0, 'to drop to 0 after the delete');
  h.expectStatus(await upload('uploader', 'small.bin', small), 201);
});

it('a cpu limit stops new work requests once a sleep task has used it up', async () => {
  h.expectStatus(await h.api('PUT', 'admin/quota/', 'admin', { user: 'contributor', resource: 'cpu', limit: 1000 }), 200);
  const created = await h.api('POST', 'work-request/', 'contributor', { task_name: 'sleep', workspace: WORKSPACE, task_data: { seconds: 2 } });
  h.expectStatus(created, 200);
  await h.waitForFinished(created.json.id);
  const q = await waitForQuota('contributor', (x) => x.cpu.usage.raw >= 1000, 'to count the sleep');
  expect(q.cpu.health).toBe('critical');
  const refused = await h.api('POST', 'work-request/', 'contributor', { task_name: 'noop', workspace: WORKSPACE, task_data: {} });
  h.expectStatus(refused, 403);
  expect(refused.json).toMatchObject({ resource: 'cpu', limit: { raw: 1000, human_readable: '1s' } });
  h.expectStatus(await h.api('PUT', 'admin/quota/', 'admin', { user: 'contributor', resource: 'cpu', limit: 0 }), 200);
});

it("a disabled user's token answers 403 and their pending work is not started until re-enabled", async () => {
  const owner = await h.deps.identity.getUser('owner');
  const token = (await h.deps.identity.listTokens('owner'))[0]!;
  h.expectStatus(await h.api('POST', 'admin/user/owner/disable/', 'admin'), 200);
  const whoami = await h.api('GET', 'whoami/', 'owner');
  h.expectStatus(whoami, 403);
  // Work the user queued before being disabled (written as the user, behind the API's back).
  const wr = await createWorkRequest(h.deps, { kind: 'user', user: { ...owner!, disabled: false }, token }, { scope: 'debusine', workspace: WORKSPACE, taskName: 'noop', taskData: {} });
  await new Promise((r) => setTimeout(r, 5000)); // several scheduler ticks (1 s each)
  const waiting = await h.getWorkRequest(wr.id);
  expect({ status: waiting.status, worker: waiting.worker }).toEqual({ status: 'pending', worker: null });
  h.expectStatus(await h.api('POST', 'admin/user/owner/enable/', 'admin'), 200);
  expect((await h.waitForFinished(wr.id)).result).toBe('success');
});
