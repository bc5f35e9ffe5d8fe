/**
 * Debusine 0.12.1's own client and worker, replayed: test/fixtures/debusine-0.12.1/recorded.json
 * holds the exact requests (bodies and the headers they set) that the real programs sent to the
 * local stack (see the fixture's README). Each is sent again to a fresh local stack, ids rewritten
 * to the ones this stack hands out, and each answer must have the recorded status and satisfy
 * the pydantic model the client parses it with (test/e2e/debusine-models.ts).
 */
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createAwsDeps } from '../../shared/adapters/aws';
import { enableWorker } from '../../shared/app/workers';
import { modelFor } from './debusine-models';
import { REPO_ROOT, startLocalStack, type LocalStack } from './stack';

// The 60 MiB upload adds a minute or two on a busy machine.
jest.setTimeout(480_000);

interface RecordedExchange {
  step: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: { json: unknown } | { text: string } | { base64: string } | { pattern251: { offset: number; length: number } };
  status?: number;
  responseEmpty?: boolean;
  response?: unknown;
  /** Headers of the answer the client reads (`Range` of a ranged upload). */
  responseHeaders?: Record<string, string>;
  websocket?: true;
}

const FIXTURE = join(REPO_ROOT, 'test/fixtures/debusine-0.12.1/recorded.json');
const recorded = JSON.parse(readFileSync(FIXTURE, 'utf8')) as RecordedExchange[];
/** The kill -9 part depends on timing (a held request, the watchdog): test/e2e/debusine-websocket.test.ts covers it. */
const replayed = recorded.filter((e) => !e.websocket && !/^(kill9|worker-restart)/.test(e.step));

/**
 * The recording's blob.bin and large.bin: byte i is i mod 251. Built once, before any request: building
 * 50 MiB between two requests let the server close the idle keep-alive connection that fetch then reused (EPIPE).
 */
const PATTERN_251 = (() => {
  const length = Math.max(...recorded.map((e) => (e.body && 'pattern251' in e.body ? e.body.pattern251.offset + e.body.pattern251.length : 0)));
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = i % 251;
  return out;
})();
const pattern251 = (offset: number, length: number): Buffer => PATTERN_251.subarray(offset, offset + length);

function bodyOf(e: RecordedExchange, rewrite: (text: string) => string): Buffer | string | undefined {
  const b = e.body;
  if (!b) return undefined;
  if ('json' in b) return rewrite(JSON.stringify(b.json));
  if ('text' in b) return b.text;
  if ('base64' in b) return Buffer.from(b.base64, 'base64');
  return pattern251(b.pattern251.offset, b.pattern251.length);
}

describe("Debusine 0.12.1's client and worker, replayed from the recording", () => {
  let stack: LocalStack | undefined;
  afterAll(async () => {
    await stack?.stop();
  });

  it('the recording covers every client command and the worker protocol', () => {
    const steps = new Set(recorded.map((e) => e.step));
    for (const step of [
      'create-artifact',
      'show-artifact',
      'download-artifact',
      'import-debian-artifact',
      'show-artifact-relations',
      'create-work-request',
      'list-work-requests',
      'show-work-request',
      'retry-work-request',
      'abort-work-request',
      'create-workflow-template',
      'create-workflow',
      'worker-runs-noop',
      'kill9',
      'create-artifact-large',
      'download-artifact-large',
    ]) {
      expect(steps).toContain(step);
    }
    const requests = recorded.map((e) => `${e.method} ${e.url.split('?')[0]!.replace(/\d+/g, 'N')}`);
    for (const r of ['POST /api/N.N/worker/register/', 'GET /api/ws/N.N/worker/connect/', 'PUT /api/N.N/worker/dynamic-metadata/', 'GET /api/N.N/work-request/get-next-for-worker/', 'PUT /api/N.N/work-request/N/completed/']) {
      expect(requests).toContain(r);
    }
  });

  it('answers every recorded request with its recorded status, in the shape Debusine models require', async () => {
    stack = await startLocalStack({ env: { CONVEYOR_DEV_SCHEDULE_SECONDS: '2' } });
    const ids = new Map<string, number>(); // "<kind>:<recorded id>" → id on this stack
    const map = (kind: string, id: string) => String(ids.get(`${kind}:${id}`) ?? id);
    const rewriteUrl = (url: string) =>
      url
        .replace(/\/artifact\/(\d+)/, (_, id: string) => `/artifact/${map('artifact', id)}`)
        .replace(/\/work-request\/(\d+)/, (_, id: string) => `/work-request/${map('work-request', id)}`)
        .replace(/artifact=(\d+)/, (_, id: string) => `artifact=${map('artifact', id)}`);
    const rewriteJson = (text: string) => {
      const value = JSON.parse(text.replaceAll('<worker-token>', workerToken)) as Record<string, unknown>;
      if (typeof value['work_request'] === 'number') value['work_request'] = Number(map('work-request', String(value['work_request'])));
      if (typeof value['artifact'] === 'number') value['artifact'] = Number(map('artifact', String(value['artifact'])));
      if (typeof value['target'] === 'number') value['target'] = Number(map('artifact', String(value['target'])));
      return JSON.stringify(value);
    };
    // The worker's token (generated by it at registration) was replaced by a placeholder in the fixture.
    const workerToken = randomBytes(32).toString('hex');
    const problems: string[] = [];
    let enabled = false;
    let workerName: string | undefined;

    for (const e of replayed) {
      const path = rewriteUrl(e.url);
      if (e.step === 'worker-runs-noop' && !enabled) {
        // The admin's `conveyor admin worker enable localhost`, between registration and the worker's work.
        if (!workerName) throw new Error(`the worker did not register: ${problems.join('\n')}`);
        await enableWorker(createAwsDeps({ ...process.env, ...stack.env }), 'test', workerName);
        enabled = true;
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(e.headers)) {
        if (k === 'token') headers['token'] = v === '<user-token>' ? stack.adminToken : v === '<worker-token>' ? workerToken : v;
        else if (k !== 'user-agent') headers[k] = v;
      }
      const body = bodyOf(e, rewriteJson);
      // A get-next may find the work already started by the real worker's earlier get-next (none here): retry briefly.
      let res: Response;
      try {
        res =
          Buffer.isBuffer(body) && body.length > FRESH_CONNECTION_BYTES
            ? await onFreshConnection(`${stack.url}${path}`, e.method, headers, body)
            : await fetch(`${stack.url}${path}`, { method: e.method, headers, ...(body !== undefined ? { body } : {}), redirect: 'manual' });
      } catch (err) {
        problems.push(`${e.step}: ${e.method} ${path}: ${String(err)} (${String((err as { cause?: unknown }).cause)})\n${stack.output().slice(-3000)}`);
        continue;
      }
      for (let i = 0; i < 20 && path.includes('get-next-for-worker') && res.status === 204 && e.status === 200; i++) {
        await new Promise((r) => setTimeout(r, 500));
        res = await fetch(`${stack.url}${path}`, { method: e.method, headers });
      }
      const text = await res.text();
      if (path.endsWith('/worker/register/') && res.status === 201) workerName = (JSON.parse(text) as { name: string }).name;
      const where = `${e.step}: ${e.method} ${path}`;
      if (res.status !== e.status) {
        problems.push(`${where}: status ${res.status}, recorded ${e.status} (${text.slice(0, 300)})`);
        continue;
      }
      // Debusine's client continues a ranged upload from the Range answered (file_uploader.py).
      for (const [name, value] of Object.entries(e.responseHeaders ?? {})) {
        if (res.headers.get(name) !== value) problems.push(`${where}: header ${name} is ${res.headers.get(name)}, recorded ${value}`);
      }
      if (e.step === 'download-artifact-large') problems.push(...(await largeFileArrived(text, headers)));
      const model = res.status === 200 || res.status === 201 ? modelFor(e.method, path) : undefined;
      if (model === 'empty') {
        if (text !== '') problems.push(`${where}: Debusine's client requires an empty body, got ${text.slice(0, 100)}`);
      } else if (model) {
        const parsed = model.safeParse(JSON.parse(text));
        if (!parsed.success) problems.push(`${where}: does not satisfy Debusine's model: ${parsed.error.message.slice(0, 500)}`);
      }
      if (e.method === 'GET' && /\/artifact\/\d+\/download\//.test(path)) {
        // The client follows the redirect to the archive.
        const archive = await fetch(res.headers.get('location')!);
        if (archive.status !== 200) problems.push(`${where}: the archive redirect answered ${archive.status}`);
      }
      // Learn the ids this stack gave for the ones recorded.
      const recordedId = (e.response as { id?: unknown } | undefined)?.id;
      if (typeof recordedId === 'number' && text.startsWith('{')) {
        const replayedId = (JSON.parse(text) as { id: number }).id;
        const kind = /\/artifact\/?$/.test(path.split('?')[0]!) || /\/artifact\/\d+/.test(path) ? 'artifact' : /work-request|workflow\//.test(path) ? 'work-request' : undefined;
        if (kind && !/artifact-relation|workflow-template/.test(path)) ids.set(`${kind}:${recordedId}`, replayedId);
      }
    }
    expect(problems).toEqual([]);
    expect(enabled).toBe(true);
  });
});

/**
 * The 60 MiB file went up in two ranges through the CloudFront behaviour (the local gateway runs its
 * functions): once the recorder has assembled it, its bytes must be the ones sent.
 */
async function largeFileArrived(artifactJson: string, headers: Record<string, string>): Promise<string[]> {
  const artifact = JSON.parse(artifactJson) as { url: string; files: Record<string, { size: number; url: string }> };
  const file = artifact.files['large.bin'];
  if (!file) return ['download-artifact-large: the artifact has no large.bin'];
  let complete = false;
  for (let i = 0; i < 120 && !complete; i++) {
    const current = (await (await fetch(artifact.url, { headers })).json()) as { files: Record<string, { complete?: boolean }> };
    complete = current.files['large.bin']?.complete === true;
    if (!complete) await new Promise((r) => setTimeout(r, 500));
  }
  if (!complete) return ['download-artifact-large: large.bin was not assembled within 60 s'];
  const bytes = Buffer.from(await (await fetch(file.url, { headers })).arrayBuffer());
  return bytes.equals(pattern251(0, file.size)) ? [] : [`download-artifact-large: ${bytes.length} bytes downloaded differ from the ${file.size} uploaded`];
}

/**
 * Big ranges go on a connection of their own, as Debusine's client sends them (`requests.put`, no session):
 * Node's fetch reusing the probe's keep-alive connection for a 50 MiB body met EPIPE on the local gateway.
 */
const FRESH_CONNECTION_BYTES = 10 * 1024 * 1024;
function onFreshConnection(url: string, method: string, headers: Record<string, string>, body: Buffer): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: { ...headers, 'content-length': String(body.length) }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const out = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') out.set(k, v);
        resolve(new Response(chunks.length ? Buffer.concat(chunks) : null, { status: res.statusCode ?? 0, headers: out }));
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
