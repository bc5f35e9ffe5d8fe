/**
 * The task subprocess protocol: task-runner.ts in-process (noop, bad input, failing tasks), the
 * task context's artifact download and upload against a fake API, and real subprocesses
 * started the way the worker starts them.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FetchFn } from '../../cli/client/api';
import { DEFAULT_UPLOAD_TUNING } from '../../cli/client/upload';
import type { ChildRequest } from '../../cli/worker/protocol';
import { createTaskContext } from '../../cli/worker/task-context';
import { spawnTaskProcess } from '../../cli/worker/task-process';
import { executeChildRequest, lineWriter } from '../../cli/worker/task-runner';
import { completionFor } from '../../cli/worker/worker';
import { ConveyorApi } from '../../cli/client/api';

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

const request = (task_name: string, task_data: Record<string, unknown>, server = 'http://127.0.0.1:9'): ChildRequest => ({
  server,
  token: 'b'.repeat(64),
  work_request: { id: 42, task_name, task_data },
  work_dir: tmpdir(),
});

describe('task runner (in process)', () => {
  it('runs noop and returns its result, logging through the context', async () => {
    const lines: string[] = [];
    await expect(executeChildRequest(request('noop', { result: true }), { log: (l) => lines.push(l) })).resolves.toEqual({ result: 'success' });
    await expect(executeChildRequest(request('noop', { result: false }), { log: (l) => lines.push(l) })).resolves.toEqual({ result: 'failure' });
    expect(lines).toEqual(['noop: result success', 'noop: result failure']);
  });

  it('reports configure-failed for unknown tasks, non-worker tasks and bad task data', async () => {
    const log = (): void => {};
    await expect(executeChildRequest(request('sbuild', {}), { log })).resolves.toEqual({
      result: 'error',
      output_data: { errors: [{ code: 'configure-failed', message: 'sbuild is not a Worker task this worker can run' }] },
    });
    expect((await executeChildRequest(request('servernoop', {}), { log })).output_data?.errors?.[0]?.code).toBe('configure-failed');
    const bad = await executeChildRequest(request('noop', { result: 'yes', bogus: 1 }), { log });
    expect(bad.result).toBe('error');
    expect(bad.output_data?.errors?.[0]?.code).toBe('configure-failed');
    expect(bad.output_data?.errors?.[0]?.message).toMatch(/Invalid task_data/);
    expect(bad.output_data?.errors?.[0]?.message).toMatch(/bogus/);
  });

  it('runs a task that never calls the server without a task token, and refuses the others without one', async () => {
    const log = (): void => {};
    const tokenless = (name: string, data: Record<string, unknown>): ChildRequest => ({ ...request(name, data), token: '' });
    await expect(executeChildRequest(tokenless('noop', {}), { log })).resolves.toEqual({ result: 'success' });
    const refused = await executeChildRequest(tokenless('lintian', { input: { binary_artifacts: [3] } }), { log });
    expect(refused.output_data?.errors).toEqual([{ code: 'configure-failed', message: 'lintian calls the server, but the worker started it without a task token' }]);
  });

  it('reports execute-failed when the task throws (here: its input artifact cannot be fetched)', async () => {
    const fakeFetch: FetchFn = async () =>
      new Response(JSON.stringify({ title: 'Not found', detail: 'no artifact 3' }), { status: 404, headers: { 'content-type': 'application/problem+json' } });
    const lines: string[] = [];
    const outcome = await executeChildRequest(request('lintian', { input: { binary_artifacts: [3] } }), { log: (l) => lines.push(l), fetch: fakeFetch });
    expect(outcome).toEqual({ result: 'error', output_data: { errors: [{ code: 'execute-failed', message: '404 Not found: no artifact 3' }] } });
    expect(lines).toContain('lintian failed: 404 Not found: no artifact 3');
  });
});

describe('task context', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'conveyor-ctx-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Just enough of the API and of S3 for one download and one upload. */
  function fakeConveyor() {
    const deb = Buffer.from('a debian package');
    const calls: { method: string; url: string; headers: Record<string, string>; body?: unknown }[] = [];
    const s3: Record<string, Buffer> = {};
    const json = (status: number, body: unknown): Response => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
    const fakeFetch: FetchFn = async (input, init) => {
      const url = String(input);
      const method = init?.method ?? 'GET';
      let body: unknown;
      if (url.startsWith('https://s3.example/') && method === 'PUT') {
        const chunks: Buffer[] = [];
        for await (const c of init!.body as unknown as AsyncIterable<Uint8Array>) chunks.push(Buffer.from(c));
        s3[url] = Buffer.concat(chunks);
        return new Response(null, { status: 200, headers: { etag: '"e"' } });
      }
      if (typeof init?.body === 'string') body = JSON.parse(init.body);
      calls.push({ method, url: url.replace('http://api.example/api/1.0/', ''), headers: (init?.headers ?? {}) as Record<string, string>, body });
      const path = url.replace('http://api.example/api/1.0/', '');
      if (url === 'https://s3.example/get/hello.deb') return new Response(deb);
      if (method === 'GET' && path === 'artifact/3/') {
        return json(200, {
          id: 3,
          category: 'debian:binary-package',
          data: { srcpkg_name: 'hello' },
          files: { 'hello_1_amd64.deb': { type: 'file', size: deb.length, checksums: { sha256: sha256(deb) }, complete: true } },
          files_to_upload: [],
          complete: true,
        });
      }
      if (method === 'GET' && path === 'artifact/3/files/hello_1_amd64.deb/') return new Response(null, { status: 302, headers: { location: 'https://s3.example/get/hello.deb' } });
      if (method === 'POST' && path === 'artifact/') {
        const req = body as { files: Record<string, unknown>; category: string };
        return json(201, { id: 50, category: req.category, data: {}, files: {}, files_to_upload: Object.keys(req.files), complete: false });
      }
      if (method === 'POST' && path === 'artifact/50/upload/report.txt/') return json(200, { complete: false, method: 'single', url: 'https://s3.example/put/report', headers: {} });
      if (method === 'POST' && path === 'artifact/50/upload-complete/report.txt/') return json(201, { complete: true });
      if (method === 'POST' && path === 'artifact-relation/') return json(201, { id: 1, ...(body as object) });
      return json(404, { title: 'Not found', detail: `${method} ${path}` });
    };
    return { fakeFetch, calls, s3, deb };
  }

  it('downloads inputs (checked against their SHA-256) and uploads outputs with the work request and built-using relations', async () => {
    const { fakeFetch, calls, s3, deb } = fakeConveyor();
    const api = new ConveyorApi({ server: 'http://api.example', token: 'w'.repeat(64) }, fakeFetch);
    const lines: string[] = [];
    const ctx = createTaskContext({
      api,
      workRequestId: 42,
      inputArtifacts: [3, 3],
      workDir: dir,
      log: (l) => lines.push(l),
      signal: new AbortController().signal,
      uploadTuning: { ...DEFAULT_UPLOAD_TUNING, sleep: async () => {} },
    });
    const got = await ctx.downloadArtifact(3, 'in');
    expect(got).toEqual({ category: 'debian:binary-package', data: { srcpkg_name: 'hello' }, files: [{ path: 'hello_1_amd64.deb', localPath: join(dir, 'in', 'hello_1_amd64.deb') }] });
    expect(readFileSync(got.files[0]!.localPath)).toEqual(deb);

    writeFileSync(join(dir, 'report.txt'), 'E: hello: some-tag\n');
    const id = await ctx.uploadArtifact({ category: 'debian:lintian', data: { tags: [] }, files: [{ path: 'report.txt', localPath: 'report.txt' }] });
    expect(id).toBe(50);
    const create = calls.find((c) => c.method === 'POST' && c.url === 'artifact/');
    expect(create?.body).toEqual({
      category: 'debian:lintian',
      data: { tags: [] },
      files: { 'report.txt': { type: 'file', size: 19, checksums: { sha256: sha256('E: hello: some-tag\n') } } },
      work_request: 42,
    });
    expect(create?.headers.Token).toBe('w'.repeat(64));
    expect(s3['https://s3.example/put/report']?.toString()).toBe('E: hello: some-tag\n');
    // One relation per distinct input.
    expect(calls.filter((c) => c.url === 'artifact-relation/').map((c) => c.body)).toEqual([{ artifact: 50, target: 3, type: 'built-using' }]);
    expect(lines).toEqual(['downloaded artifact 3 (debian:binary-package, 1 file(s))', 'uploaded artifact 50 (debian:lintian, 1 file(s))']);
  });

  it('refuses a download whose bytes do not match', async () => {
    const { fakeFetch } = fakeConveyor();
    const lying: FetchFn = async (input, init) => (String(input) === 'https://s3.example/get/hello.deb' ? new Response('tampered') : fakeFetch(input, init));
    const ctx = createTaskContext({ api: new ConveyorApi({ server: 'http://api.example' }, lying), workRequestId: 1, inputArtifacts: [], workDir: dir, log: () => {}, signal: new AbortController().signal });
    await expect(ctx.downloadArtifact(3, 'in')).rejects.toThrow(/do not match/);
  });

  it('runs programs, sending their output to the log and returning stdout and the exit code', async () => {
    const lines: string[] = [];
    const ctx = createTaskContext({ api: new ConveyorApi({ server: 'http://api.example' }), workRequestId: 1, inputArtifacts: [], workDir: dir, log: (l) => lines.push(l), signal: new AbortController().signal });
    const result = await ctx.run('sh', ['-c', 'echo out1; echo err1 >&2; echo "$X"; pwd; exit 3'], { env: { X: 'from-env' } });
    expect(result.exitCode).toBe(3);
    expect(result.stdout).toBe(`out1\nfrom-env\n${dir}\n`);
    expect(lines).toEqual(expect.arrayContaining(['out1', 'err1', 'from-env', dir]));
    await expect(ctx.run('no-such-program-here', [])).rejects.toThrow(/cannot run no-such-program-here/);
  });
});

describe('log lines of the task process (lineWriter)', () => {
  const collecting = () => {
    const chunks: string[] = [];
    let callbacks = 0;
    const stream = {
      write: (chunk: Buffer | string, done?: () => void) => {
        chunks.push(String(chunk));
        if (done) setImmediate(() => (callbacks++, done()));
        return true;
      },
    } as unknown as NodeJS.WritableStream;
    return { chunks, stream, callbacks: () => callbacks };
  };

  it('writes each line whole with synchronous writes, however little each write takes; the stream is never touched', async () => {
    const written: string[] = [];
    const fallback = jest.fn();
    const writer = lineWriter(7, fallback, ((fd: number, buffer: Buffer) => {
      expect(fd).toBe(7);
      const taken = Math.min(3, buffer.length); // a pipe taking 3 bytes at a time
      written.push(buffer.subarray(0, taken).toString());
      return taken;
    }) as never);
    writer.log('noop: result success');
    writer.log('second');
    expect(written.join('')).toBe('noop: result success\nsecond\n');
    await writer.flush();
    expect(fallback).not.toHaveBeenCalled();
  });

  it('a descriptor that refuses a synchronous write (EAGAIN) hands the rest, and every later line, to the stream in order; flush waits for it', async () => {
    const sync: string[] = [];
    const sink = collecting();
    let calls = 0;
    const writer = lineWriter(1, () => sink.stream, ((_fd: number, buffer: Buffer) => {
      if (++calls === 2) throw Object.assign(new Error('EAGAIN: resource temporarily unavailable, write'), { code: 'EAGAIN' });
      sync.push(buffer.subarray(0, 2).toString());
      return 2;
    }) as never);
    writer.log('abcdef');
    writer.log('next');
    expect(sync).toEqual(['ab']);
    expect(sink.chunks).toEqual(['cdef\n', 'next\n']);
    expect(calls).toBe(2); // no synchronous write after the fallback
    await writer.flush();
    expect(sink.callbacks()).toBe(1);
  });

  it('a write that takes nothing falls back instead of spinning; other write errors are thrown', () => {
    const sink = collecting();
    const zero = lineWriter(1, () => sink.stream, (() => 0) as never);
    zero.log('x');
    expect(sink.chunks).toEqual(['x\n']);
    const broken = lineWriter(1, () => sink.stream, (() => {
      throw Object.assign(new Error('EPIPE'), { code: 'EPIPE' });
    }) as never);
    expect(() => broken.log('y')).toThrow('EPIPE');
  });
});

describe('task subprocess', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'conveyor-child-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const spec = (id: number, task_name: string, task_data: Record<string, unknown>) => ({
    workRequest: { id, task_name, task_data },
    dir: join(dir, `wr-${id}`),
    server: 'http://127.0.0.1:9',
    token: 'c'.repeat(64),
  });

  it('runs noop in a child process: log lines on stdout, outcome file with resource usage, request file 0600', async () => {
    const lines: string[] = [];
    const [ok, failed] = await Promise.all([
      spawnTaskProcess(spec(1, 'noop', { result: true }), (l) => lines.push(l)),
      spawnTaskProcess(spec(2, 'noop', { result: false }), () => {}),
    ]);
    expect(statSync(join(dir, 'wr-1', 'request.json')).mode & 0o777).toBe(0o600);
    const [okExit, failedExit] = await Promise.all([ok.done, failed.done]);
    expect(okExit).toMatchObject({ exitCode: 0, signal: null, outcome: { result: 'success', resource_usage: { cpu_time: expect.any(Number), memory: expect.any(Number) } } });
    expect(okExit.outcome!.resource_usage!.memory).toBeGreaterThan(1024 * 1024);
    expect(okExit.outcome!.resource_usage!.cpu_time).toBeGreaterThan(0);
    expect(failedExit.outcome?.result).toBe('failure');
    expect(lines).toEqual(['noop: result success']);
    const completion = completionFor(okExit, { durationMs: 1000, cpuCount: 1, availableMemory: 1 });
    expect(completion.output_data?.runtime_statistics).toMatchObject({ memory: okExit.outcome!.resource_usage!.memory });
  }, 60_000);

  it('reports a killed child as execute-failed (no outcome)', async () => {
    const handle = await spawnTaskProcess(spec(3, 'noop', { result: true }), () => {});
    handle.kill('SIGKILL');
    const exit = await handle.done;
    expect(exit.outcome).toBeUndefined();
    expect(exit.signal).toBe('SIGKILL');
    expect(completionFor(exit, { durationMs: 0, cpuCount: 1, availableMemory: 1 })).toMatchObject({
      result: 'error',
      output_data: { errors: [{ code: 'execute-failed', message: 'the task process was killed by SIGKILL' }] },
    });
  }, 60_000);
});

describe('lintian in a task subprocess, with a fake lintian on PATH and a fake API', () => {
  let dir: string;
  let server: import('node:http').Server;
  let base: string;
  let calls: { method: string; path: string; token?: string; body?: unknown }[];
  let stored: Record<string, Buffer>;
  const deb = Buffer.from('not really a deb');
  const savedPath = process.env.PATH;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'conveyor-lintian-child-'));
    calls = [];
    stored = {};
    const { createServer } = await import('node:http');
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        const path = (req.url ?? '').replace('/api/1.0/', '');
        const json = (status: number, body: unknown): void => {
          res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
        };
        if (path.startsWith('/store/')) {
          if (req.method === 'PUT') {
            stored[path] = raw;
            res.writeHead(200, { etag: '"x"' }).end();
          } else {
            res.writeHead(200).end(deb);
          }
          return;
        }
        const body = raw.length ? (JSON.parse(raw.toString('utf8')) as unknown) : undefined;
        calls.push({ method: req.method ?? '', path, token: req.headers.token as string | undefined, body });
        if (req.method === 'GET' && path === 'artifact/3/') {
          return json(200, {
            id: 3,
            category: 'debian:binary-package',
            data: {},
            complete: true,
            files_to_upload: [],
            files: { 'hello_1_amd64.deb': { type: 'file', size: deb.length, checksums: { sha256: sha256(deb) }, complete: true } },
          });
        }
        if (path === 'artifact/3/files/hello_1_amd64.deb/') {
          res.writeHead(302, { location: `${base}/store/hello.deb` }).end();
          return;
        }
        if (req.method === 'POST' && path === 'artifact/') {
          return json(201, { id: 60, category: 'debian:lintian', data: {}, complete: false, files: {}, files_to_upload: Object.keys((body as { files: object }).files) });
        }
        if (path === 'artifact/60/upload/lintian.txt/') return json(200, { complete: false, method: 'single', url: `${base}/store/lintian.txt`, headers: {} });
        if (path === 'artifact/60/upload-complete/lintian.txt/') return json(201, { complete: true });
        if (path === 'artifact-relation/') return json(201, { id: 1, ...(body as object) });
        json(404, { title: 'Not found' });
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`;
    const bin = join(dir, 'bin');
    require('node:fs').mkdirSync(bin);
    process.env.PATH = `${bin}:${savedPath}`;
  });

  afterEach(async () => {
    process.env.PATH = savedPath;
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  const fakeLintian = (script: string): void => {
    writeFileSync(join(dir, 'bin', 'lintian'), `#!/bin/sh\n${script}\n`, { mode: 0o755 });
  };

  const spec = (id: number) => ({
    workRequest: { id, task_name: 'lintian', task_data: { input: { binary_artifacts: [3] } } },
    dir: join(dir, `wr-${id}`),
    server: base,
    token: 'e'.repeat(64),
  });

  it('downloads the input, runs lintian, uploads the report as an output of the work request', async () => {
    fakeLintian('echo "E: hello: binary-without-manpage usr/bin/hello"; echo "W: hello: some-warning"; exit 0');
    const lines: string[] = [];
    const handle = await spawnTaskProcess(spec(31), (l) => lines.push(l));
    const exit = await handle.done;
    expect(exit.outcome?.result).toBe('failure');
    expect(lines).toEqual(expect.arrayContaining(['E: hello: binary-without-manpage usr/bin/hello', 'lintian: 2 tag(s), result failure, artifact 60']));
    const create = calls.find((c) => c.method === 'POST' && c.path === 'artifact/')!;
    expect(create.token).toBe('e'.repeat(64));
    expect(create.body).toMatchObject({ category: 'debian:lintian', work_request: 31, data: { summary: { tags_count_by_severity: { error: 1, warning: 1 } } } });
    expect(stored['/store/lintian.txt']?.toString()).toContain('binary-without-manpage');
    expect(calls.find((c) => c.path === 'artifact-relation/')?.body).toEqual({ artifact: 60, target: 3, type: 'built-using' });
  }, 60_000);

  it('killing the task also stops the programs it started', async () => {
    const pidFile = join(dir, 'lintian.pid');
    fakeLintian(`echo $$ > ${pidFile}; echo started; sleep 60`);
    const lines: string[] = [];
    const handle = await spawnTaskProcess(spec(32), (l) => lines.push(l));
    const deadline = Date.now() + 30_000;
    while (!lines.includes('started') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const pid = Number(readFileSync(pidFile, 'utf8'));
    handle.kill('SIGTERM');
    const exit = await handle.done;
    expect(exit.outcome).toBeUndefined();
    expect(exit.signal).toBe('SIGTERM');
    // Gone, or a zombie waiting for whoever adopted it to reap it.
    const alive = (): boolean => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
      } catch {
        return false;
      }
    };
    const until = Date.now() + 5000;
    while (alive() && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(alive()).toBe(false);
  }, 60_000);
});
