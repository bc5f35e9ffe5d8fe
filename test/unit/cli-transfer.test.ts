/**
 * The client commands against a tiny fake Conveyor on 127.0.0.1: just enough of
 * docs/api.md (artifacts, presigned single and multipart uploads with a fake "S3",
 * downloads by redirect, relations) to check exactly which bytes travel.
 */
import { Command } from 'commander';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerClientCommands } from '../../cli/client/commands';
import type { ClientContext } from '../../cli/client/context';
import { DEFAULT_UPLOAD_TUNING } from '../../cli/client/upload';

const sha256 = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex');
const md5 = (bytes: Buffer): string => createHash('md5').update(bytes).digest('hex');

interface FakeFile {
  size: number;
  sha256: string;
  complete: boolean;
}

interface FakeArtifact {
  id: number;
  category: string;
  workspace: string;
  data: Record<string, unknown>;
  immutable: boolean;
  expirationDelay: unknown;
  files: Map<string, FakeFile>;
}

interface StorePut {
  path: string;
  part?: number;
  body: Buffer;
  headers: IncomingMessage['headers'];
}

/** What a fake multipart upload holds: part number → bytes. */
type MultipartSession = { uploadId: string; parts: Map<number, Buffer> };

class FakeConveyor {
  server!: Server;
  base = '';
  nextId = 1;
  artifacts = new Map<number, FakeArtifact>();
  /** Bytes of single uploads waiting for upload-complete, and of complete files. */
  singles = new Map<string, Buffer>();
  stored = new Map<string, Buffer>();
  multipart = new Map<string, MultipartSession>();
  storePuts: StorePut[] = [];
  apiCalls: string[] = [];
  apiHeaders: IncomingMessage['headers'][] = [];
  storeGetHeaders: IncomingMessage['headers'][] = [];
  completeAttempts = new Map<string, number>();
  verifyingPolls = new Map<string, number>();

  // Knobs.
  multipartAbove = 10;
  partSize = 4;
  /** Status of upload-complete for a file, by attempt (1-based); default 201 when the bytes match. */
  completeAnswer: (path: string, attempt: number) => 201 | 202 | 409 | undefined = () => undefined;
  /** A PUT to the store answers this status instead of storing (e.g. an expired URL). */
  failStorePut: (path: string, part: number | undefined) => number | undefined = () => undefined;
  corruptDownloads = false;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(err));
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  key(id: number, path: string): string {
    return `${id}/${path}`;
  }

  /** Puts an artifact in place, as if uploaded earlier. */
  seed(files: Record<string, Buffer>, opts: { complete?: boolean } = {}): FakeArtifact {
    const artifact: FakeArtifact = {
      id: this.nextId++,
      category: 'testing',
      workspace: 'System',
      data: {},
      immutable: false,
      expirationDelay: null,
      files: new Map(),
    };
    for (const [path, bytes] of Object.entries(files)) {
      artifact.files.set(path, { size: bytes.length, sha256: sha256(bytes), complete: opts.complete ?? true });
      if (opts.complete ?? true) this.stored.set(this.key(artifact.id, path), bytes);
    }
    this.artifacts.set(artifact.id, artifact);
    return artifact;
  }

  /** Pretends some parts of a multipart upload reached the store in an earlier run. */
  seedParts(id: number, path: string, bytes: Buffer, partNumbers: number[]): void {
    const session: MultipartSession = { uploadId: `upload-${id}-${path}`, parts: new Map() };
    for (const n of partNumbers) session.parts.set(n, bytes.subarray((n - 1) * this.partSize, n * this.partSize));
    this.multipart.set(this.key(id, path), session);
  }

  json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  problem(res: ServerResponse, status: number, title: string, detail: string): void {
    res.writeHead(status, { 'content-type': 'application/problem+json' });
    res.end(JSON.stringify({ type: 'about:blank', title, status, detail }));
  }

  wire(a: FakeArtifact): unknown {
    const files: Record<string, unknown> = {};
    for (const [path, f] of a.files) {
      files[path] = { type: 'file', size: f.size, checksums: { sha256: f.sha256 }, content_type: null, complete: f.complete, url: '' };
    }
    const incomplete = [...a.files].filter(([, f]) => !f.complete).map(([p]) => p);
    return {
      id: a.id,
      url: `${this.base}/api/1.0/artifact/${a.id}/`,
      scope: 'debusine',
      workspace: a.workspace,
      category: a.category,
      data: a.data,
      created_at: '2026-01-01T00:00:00Z',
      updated_at: '2026-01-01T00:00:00Z',
      created_by: 'user:alice',
      expire_at: null,
      immutable: a.immutable,
      complete: incomplete.length === 0,
      download_tar_gz_url: '',
      files_to_upload: incomplete,
      files,
    };
  }

  async body(req: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  /** Splits `/prefix/<id>/<encoded path segments>/` into the id and the decoded path. */
  idAndPath(segments: string[]): [number, string] {
    return [Number(segments[0]), segments.slice(1).filter((s) => s !== '').map(decodeURIComponent).join('/')];
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.base);
    const method = req.method ?? 'GET';
    if (url.pathname.startsWith('/s3/')) return this.handleStore(req, res, url, method);

    this.apiCalls.push(`${method} ${url.pathname}${url.search}`);
    this.apiHeaders.push(req.headers);
    const rest = url.pathname.replace(/^\/api\/1\.0\//, '').split('/');
    const [resource, idText, action] = rest;

    if (resource === 'whoami' && method === 'GET') {
      return this.json(res, 200, { user: req.headers.token ? 'alice' : null, auth: Boolean(req.headers.token), worker_token: false, is_admin: false });
    }
    if (resource === 'artifact' && !idText && method === 'POST') {
      const request = JSON.parse((await this.body(req)).toString()) as {
        category: string;
        workspace?: string;
        data?: Record<string, unknown>;
        immutable?: boolean;
        expiration_delay?: unknown;
        files: Record<string, { size: number; checksums: { sha256: string } }>;
      };
      const artifact: FakeArtifact = {
        id: this.nextId++,
        category: request.category,
        workspace: request.workspace ?? 'System',
        data: request.data ?? {},
        immutable: Boolean(request.immutable),
        expirationDelay: request.expiration_delay ?? null,
        files: new Map(),
      };
      for (const [path, f] of Object.entries(request.files)) {
        artifact.files.set(path, { size: f.size, sha256: f.checksums.sha256, complete: f.size === 0 });
      }
      this.artifacts.set(artifact.id, artifact);
      return this.json(res, 201, this.wire(artifact));
    }
    if (resource === 'artifact' && !idText && method === 'GET') {
      const all = [...this.artifacts.values()].sort((a, b) => b.id - a.id);
      const start = Number(url.searchParams.get('cursor') ?? 0);
      const limit = Number(url.searchParams.get('limit') ?? 50);
      const page = all.slice(start, start + limit);
      const more = start + limit < all.length;
      return this.json(res, 200, { results: page.map((a) => this.wire(a)), next: null, cursor: more ? String(start + limit) : null });
    }
    if (resource === 'artifact-relation') {
      if (method === 'POST') {
        const body = JSON.parse((await this.body(req)).toString()) as { artifact: number; target: number; type: string };
        return this.json(res, 201, { id: 77, ...body });
      }
      if (method === 'GET') {
        const artifact = url.searchParams.get('artifact');
        return this.json(res, 200, [{ id: 77, artifact: Number(artifact ?? 9), target: Number(url.searchParams.get('target_artifact') ?? 2), type: 'relates-to' }]);
      }
    }

    const artifact = this.artifacts.get(Number(idText));
    if (resource !== 'artifact' || !artifact) return this.problem(res, 404, 'Not found', `no artifact ${idText}`);

    if (!action && method === 'GET') {
      // A file answered 202 becomes complete after two polls (the background check).
      for (const [path, polls] of this.verifyingPolls) {
        if (polls <= 1) {
          const [id, filePath] = [Number(path.split('/')[0]), path.split('/').slice(1).join('/')];
          this.artifacts.get(id)!.files.get(filePath)!.complete = true;
          this.verifyingPolls.delete(path);
        } else this.verifyingPolls.set(path, polls - 1);
      }
      return this.json(res, 200, this.wire(artifact));
    }
    const [, path] = this.idAndPath(rest.slice(1).filter((_, i) => i !== 1));
    const file = artifact.files.get(path);
    if (action === 'upload' && method === 'POST') {
      if (!file) return this.problem(res, 404, 'Not found', `no file ${path}`);
      if (file.complete) return this.json(res, 200, { complete: true });
      const encoded = path.split('/').map(encodeURIComponent).join('/');
      if (file.size <= this.multipartAbove) {
        return this.json(res, 200, {
          complete: false,
          method: 'single',
          url: `${this.base}/s3/single/${artifact.id}/${encoded}`,
          headers: { 'x-amz-checksum-sha256': Buffer.from(file.sha256, 'hex').toString('base64') },
        });
      }
      const key = this.key(artifact.id, path);
      const session = this.multipart.get(key) ?? { uploadId: `upload-${key}`, parts: new Map<number, Buffer>() };
      this.multipart.set(key, session);
      const count = Math.ceil(file.size / this.partSize);
      return this.json(res, 200, {
        complete: false,
        method: 'multipart',
        upload_id: session.uploadId,
        part_size: this.partSize,
        parts: Array.from({ length: count }, (_, i) => {
          const n = i + 1;
          const held = session.parts.get(n);
          return {
            part_number: n,
            size: Math.min(this.partSize, file.size - i * this.partSize),
            url: `${this.base}/s3/part/${artifact.id}/${encoded}?partNumber=${n}&uploadId=${session.uploadId}`,
            uploaded: held !== undefined,
            etag: held ? `"${md5(held)}"` : null,
          };
        }),
      });
    }
    if (action === 'upload-complete' && method === 'POST') {
      if (!file) return this.problem(res, 404, 'Not found', `no file ${path}`);
      const key = this.key(artifact.id, path);
      const attempt = (this.completeAttempts.get(key) ?? 0) + 1;
      this.completeAttempts.set(key, attempt);
      const request = JSON.parse((await this.body(req)).toString()) as { parts?: { part_number: number; etag: string }[] };
      let bytes: Buffer | undefined;
      if (request.parts) {
        const session = this.multipart.get(key);
        if (!session) return this.problem(res, 400, 'Invalid request', 'no multipart upload');
        for (const p of request.parts) {
          const held = session.parts.get(p.part_number);
          if (!held || `"${md5(held)}"` !== p.etag) return this.problem(res, 400, 'Invalid request', `bad part ${p.part_number}`);
        }
        bytes = Buffer.concat(request.parts.sort((a, b) => a.part_number - b.part_number).map((p) => session.parts.get(p.part_number)!));
      } else {
        bytes = this.singles.get(key);
      }
      const forced = this.completeAnswer(path, attempt);
      if (forced === 409 || !bytes || sha256(bytes) !== file.sha256 || bytes.length !== file.size) {
        this.multipart.delete(key);
        this.singles.delete(key);
        return this.problem(res, 409, 'Conflict', 'the uploaded bytes do not match the declared SHA-256');
      }
      this.stored.set(key, bytes);
      this.multipart.delete(key);
      if (forced === 202) {
        this.verifyingPolls.set(key, 2);
        return this.json(res, 202, { complete: false, verifying: true });
      }
      file.complete = true;
      return this.json(res, 201, { complete: true });
    }
    if (action === 'files' && method === 'GET') {
      if (!file?.complete) return this.problem(res, 404, 'Not found', 'incomplete');
      res.writeHead(302, { location: `/s3/get/${artifact.id}/${path.split('/').map(encodeURIComponent).join('/')}` });
      return void res.end();
    }
    if (action === 'download' && method === 'GET') {
      res.writeHead(302, { location: `${this.base}/s3/tar/${artifact.id}` });
      return void res.end();
    }
    return this.problem(res, 405, 'Method not allowed', `${method} ${url.pathname}`);
  }

  async handleStore(req: IncomingMessage, res: ServerResponse, url: URL, method: string): Promise<void> {
    const [kind, ...segments] = url.pathname.replace(/^\/s3\//, '').split('/');
    const [id, path] = this.idAndPath(segments);
    const key = this.key(id, path);
    if (method === 'GET') {
      this.storeGetHeaders.push(req.headers);
      if (kind === 'tar') {
        res.writeHead(200, { 'content-type': 'application/gzip' });
        return void res.end(`tarball of ${id}`);
      }
      const bytes = this.stored.get(key);
      if (!bytes) return void res.writeHead(404).end();
      res.writeHead(200);
      return void res.end(this.corruptDownloads ? Buffer.concat([bytes, Buffer.from('!')]) : bytes);
    }
    const body = await this.body(req);
    const part = url.searchParams.has('partNumber') ? Number(url.searchParams.get('partNumber')) : undefined;
    this.storePuts.push({ path, part, body, headers: req.headers });
    const failure = this.failStorePut(path, part);
    if (failure) {
      res.writeHead(failure, { 'content-type': 'application/xml' });
      return void res.end('<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>');
    }
    // Like S3: a presigned PUT needs a length, and a single PUT is checked against its declared SHA-256.
    if (req.headers['content-length'] === undefined || req.headers['transfer-encoding'] !== undefined) {
      return void res.writeHead(411).end('<Error><Code>MissingContentLength</Code></Error>');
    }
    if (kind === 'single') {
      const declared = req.headers['x-amz-checksum-sha256'];
      if (declared !== createHash('sha256').update(body).digest('base64')) {
        return void res.writeHead(400).end('<Error><Code>BadDigest</Code></Error>');
      }
      this.singles.set(key, body);
    } else {
      const session = this.multipart.get(key);
      if (!session || session.uploadId !== url.searchParams.get('uploadId')) return void res.writeHead(404).end('<Error><Code>NoSuchUpload</Code></Error>');
      session.parts.set(part!, body);
    }
    res.writeHead(200, { etag: `"${md5(body)}"` });
    res.end();
  }
}

describe('conveyor artifact commands against a fake server', () => {
  let fake: FakeConveyor;
  let root: string;
  let work: string;
  let stdout: string;
  let stderr: string;
  let env: NodeJS.ProcessEnv;
  let partConcurrency: number;

  beforeEach(async () => {
    fake = new FakeConveyor();
    await fake.start();
    root = mkdtempSync(join(tmpdir(), 'conveyor-cli-transfer-'));
    work = join(root, 'work');
    mkdirSync(work);
    stdout = '';
    stderr = '';
    partConcurrency = 1;
    env = { CONVEYOR_SERVER: fake.base, CONVEYOR_TOKEN: 't'.repeat(64), XDG_CACHE_HOME: join(root, 'cache'), CONVEYOR_DATA_DIR: join(root, 'no-local-stack') };
  });
  afterEach(async () => {
    await fake.stop();
    rmSync(root, { recursive: true, force: true });
  });

  const run = async (...args: string[]): Promise<void> => {
    const ctx: ClientContext = {
      env,
      cwd: () => work,
      homeDir: join(root, 'home'),
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s), isTTY: false },
      fetch: (input, init) => fetch(input, init),
      uploadTuning: { ...DEFAULT_UPLOAD_TUNING, partConcurrency, pollInitialMs: 1, pollMaxMs: 2, sleep: () => Promise.resolve() },
    };
    const program = new Command().exitOverride().configureOutput({ writeErr: () => {} });
    registerClientCommands(program, ctx);
    await program.parseAsync(args, { from: 'user' });
  };
  const writeWork = (path: string, content: Buffer | string): Buffer => {
    const bytes = Buffer.from(content);
    mkdirSync(join(work, path, '..'), { recursive: true });
    writeFileSync(join(work, path), bytes);
    return bytes;
  };
  const pendingStates = (): string[] => {
    const dir = join(root, 'cache', 'conveyor', 'pending-artifacts');
    return existsSync(dir) ? readdirSync(dir) : [];
  };

  it('creates an artifact and sends exactly the bytes of each file, single and multipart', async () => {
    const small = writeWork('src/small.txt', 'hello');
    const big = writeWork('big.bin', 'abcdefghijklmnopqr'); // 18 bytes: parts of 4, 4, 4, 4, 2
    writeWork('empty', '');

    await run('artifact', 'create', '--category', 'testing', '--workspace', 'W', '--data', '{"k": 1}', '--json', 'src/small.txt', 'big.bin', 'empty');

    const artifact = fake.artifacts.get(1)!;
    expect(artifact.data).toEqual({ k: 1 });
    expect([...artifact.files.keys()].sort()).toEqual(['big.bin', 'empty', 'src/small.txt']);
    expect([...artifact.files.values()].every((f) => f.complete)).toBe(true);
    // The empty file needs no upload; the others arrive byte for byte.
    expect(fake.storePuts.map((p) => [p.path, p.part, p.body.toString()])).toEqual([
      ['src/small.txt', undefined, 'hello'],
      ['big.bin', 1, 'abcd'],
      ['big.bin', 2, 'efgh'],
      ['big.bin', 3, 'ijkl'],
      ['big.bin', 4, 'mnop'],
      ['big.bin', 5, 'qr'],
    ]);
    expect(fake.stored.get('1/src/small.txt')).toEqual(small);
    expect(fake.stored.get('1/big.bin')).toEqual(big);
    expect(fake.apiCalls).toContain('POST /api/1.0/artifact/1/upload/src/small.txt/');
    expect(fake.apiCalls).toContain('POST /api/1.0/artifact/1/upload-complete/big.bin/');
    expect(JSON.parse(stdout)).toMatchObject({ id: 1, complete: true });
    expect(fake.apiHeaders.every((h) => h.token === 't'.repeat(64))).toBe(true);
    // The presigned store never sees the API token.
    expect(fake.storePuts.every((p) => p.headers.token === undefined)).toBe(true);
    expect(pendingStates()).toEqual([]);
  });

  it('sends parts in parallel and still assembles exactly the file', async () => {
    partConcurrency = 3;
    const big = writeWork('big.bin', Buffer.from(Array.from({ length: 41 }, (_, i) => i)));
    await run('artifact', 'create', '--category', 'testing', 'big.bin');
    const parts = fake.storePuts.map((p) => p.part!).sort((a, b) => a - b);
    expect(parts).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(Buffer.concat([...fake.storePuts].sort((a, b) => a.part! - b.part!).map((p) => p.body))).toEqual(big);
    expect(fake.stored.get('1/big.bin')).toEqual(big);
  });

  it('resumes a multipart upload: only the parts the store lacks are sent', async () => {
    const big = writeWork('big.bin', 'ABCDEFGHIJKLMNOPQR');
    const artifact = fake.seed({ 'big.bin': big }, { complete: false });
    fake.seedParts(artifact.id, 'big.bin', big, [1, 3]);

    await run('artifact', 'upload', String(artifact.id), 'big.bin');

    expect(fake.storePuts.map((p) => [p.part, p.body.toString()])).toEqual([
      [2, 'EFGH'],
      [4, 'MNOP'],
      [5, 'QR'],
    ]);
    expect(fake.stored.get(`${artifact.id}/big.bin`)).toEqual(big);
    expect(stdout).toBe(`Artifact ${artifact.id} complete: 1 file(s) uploaded\n`);
  });

  it('re-running an interrupted create finishes the same artifact instead of creating another', async () => {
    writeWork('a.txt', 'first file');
    writeWork('b.bin', '0123456789abcdefXY');
    fake.failStorePut = (path, part) => (path === 'b.bin' && part === 3 ? 403 : undefined);

    await expect(run('artifact', 'create', '--category', 'testing', 'a.txt', 'b.bin')).rejects.toThrow(
      'PUT b.bin part 3: the file store answered 403 AccessDenied: Request has expired',
    );
    expect(pendingStates()).toHaveLength(1);
    expect(fake.artifacts.size).toBe(1);

    fake.failStorePut = () => undefined;
    fake.storePuts = [];
    await run('artifact', 'create', '--category', 'testing', 'a.txt', 'b.bin');

    expect(fake.artifacts.size).toBe(1);
    expect(fake.apiCalls.filter((c) => c === 'POST /api/1.0/artifact/')).toHaveLength(1);
    // a.txt and parts 1-2 of b.bin arrived the first time; only the rest is sent again.
    expect(fake.storePuts.map((p) => [p.path, p.part, p.body.toString()])).toEqual([
      ['b.bin', 3, '89ab'],
      ['b.bin', 4, 'cdef'],
      ['b.bin', 5, 'XY'],
    ]);
    expect(fake.artifacts.get(1)!.files.get('b.bin')!.complete).toBe(true);
    expect(stderr).toContain('Resuming artifact 1');
    expect(pendingStates()).toEqual([]);

    // Once complete, the same command makes a new artifact.
    await run('artifact', 'create', '--category', 'testing', 'a.txt', 'b.bin');
    expect(fake.artifacts.size).toBe(2);
  });

  it('a different create command does not resume someone else\'s artifact', async () => {
    writeWork('a.txt', 'content');
    fake.failStorePut = () => 403;
    await expect(run('artifact', 'create', '--category', 'testing', 'a.txt')).rejects.toThrow(/403/);
    fake.failStorePut = () => undefined;
    await run('artifact', 'create', '--category', 'testing', '--data', '{"other": true}', 'a.txt');
    expect(fake.artifacts.size).toBe(2);
  });

  it('sends the whole file again when the server reports a mismatch, then gives up after 3 tries', async () => {
    writeWork('a.txt', 'retry me');
    fake.completeAnswer = (_path, attempt) => (attempt === 1 ? 409 : undefined);
    await run('artifact', 'create', '--category', 'testing', 'a.txt');
    expect(fake.storePuts.map((p) => p.body.toString())).toEqual(['retry me', 'retry me']);
    expect(fake.artifacts.get(1)!.files.get('a.txt')!.complete).toBe(true);

    fake.completeAnswer = () => 409;
    writeWork('b.txt', 'never matches');
    await expect(run('artifact', 'create', '--category', 'testing', 'b.txt')).rejects.toThrow(
      /b\.txt: the server rejected the uploaded bytes 3 times \(last answer: 409 Conflict: the uploaded bytes do not match/,
    );
  });

  it('waits for background verification (202) by polling the artifact', async () => {
    writeWork('a.txt', 'checked later');
    fake.completeAnswer = () => 202;
    await run('artifact', 'create', '--category', 'testing', 'a.txt');
    expect(fake.artifacts.get(1)!.files.get('a.txt')!.complete).toBe(true);
    expect(fake.apiCalls.filter((c) => c === 'GET /api/1.0/artifact/1/').length).toBeGreaterThanOrEqual(2);
    expect(stdout).toContain('Artifact 1 complete');
  });

  it('refuses local files that do not match the artifact before sending anything', async () => {
    const artifact = fake.seed({ 'a.txt': Buffer.from('original') }, { complete: false });
    writeWork('a.txt', 'modified');
    await expect(run('artifact', 'upload', String(artifact.id), 'a.txt')).rejects.toThrow(/does not match "a.txt" of artifact 1/);
    writeWork('zzz', 'x');
    await expect(run('artifact', 'upload', String(artifact.id), 'zzz')).rejects.toThrow(/not a file of artifact 1/);
    expect(fake.storePuts).toEqual([]);
  });

  it('refuses absolute and ".." paths on the command line', async () => {
    await expect(run('artifact', 'create', '--category', 'testing', join(work, 'x'))).rejects.toThrow(/absolute path/);
    await expect(run('artifact', 'create', '--category', 'testing', '../x')).rejects.toThrow(/contains "\.\."/);
    expect(fake.apiCalls).toEqual([]);
  });

  it('stores the files of a directory relative to --base-dir', async () => {
    writeWork('build/out/a.deb', 'deb');
    writeWork('build/out/logs/build.log', 'log');
    await run('artifact', 'create', '--category', 'testing', '--base-dir', 'build/out', 'build/out');
    expect([...fake.artifacts.get(1)!.files.keys()].sort()).toEqual(['a.deb', 'logs/build.log']);
    expect(fake.stored.get('1/logs/build.log')?.toString()).toBe('log');
  });

  it('downloads every file through the redirect, verified, without sending the token to the store', async () => {
    const artifact = fake.seed({ 'a.txt': Buffer.from('alpha'), 'dir/b c.txt': Buffer.from('beta') });
    await run('artifact', 'download', String(artifact.id), '--target-dir', 'out');
    expect(readFileSync(join(work, 'out', 'a.txt'), 'utf8')).toBe('alpha');
    expect(readFileSync(join(work, 'out', 'dir', 'b c.txt'), 'utf8')).toBe('beta');
    expect(fake.apiCalls).toContain('GET /api/1.0/artifact/1/files/dir/b%20c.txt/');
    expect(fake.storeGetHeaders).toHaveLength(2);
    expect(fake.storeGetHeaders.every((h) => h.token === undefined)).toBe(true);
  });

  it('deletes a downloaded file whose SHA-256 does not match and fails', async () => {
    const artifact = fake.seed({ 'a.txt': Buffer.from('alpha') });
    fake.corruptDownloads = true;
    await expect(run('artifact', 'download', String(artifact.id), '--target-dir', 'out')).rejects.toThrow(
      /a\.txt: the downloaded bytes do not match the artifact .* the file was deleted/,
    );
    expect(readdirSync(join(work, 'out'))).toEqual([]);
  });

  it('refuses to download a path that escapes the target directory', async () => {
    const artifact = fake.seed({ 'ok.txt': Buffer.from('fine'), '../escape.txt': Buffer.from('evil') });
    await expect(run('artifact', 'download', String(artifact.id), '--target-dir', 'out')).rejects.toThrow(/Refusing to download "\.\.\/escape\.txt"/);
    expect(existsSync(join(work, 'escape.txt'))).toBe(false);
    expect(existsSync(join(work, 'out', 'ok.txt'))).toBe(false);
  });

  it('downloads the tar.gz when asked', async () => {
    const artifact = fake.seed({ 'a.txt': Buffer.from('alpha') });
    await run('artifact', 'download', String(artifact.id), '--tar', '--target-dir', 'out');
    expect(readFileSync(join(work, 'out', `artifact-${artifact.id}.tar.gz`), 'utf8')).toBe(`tarball of ${artifact.id}`);
    expect(fake.apiCalls).toContain(`GET /api/1.0/artifact/${artifact.id}/download/?archive=tar.gz`);
  });

  it('reports problem+json errors as "<status> <title>: <detail>"', async () => {
    await expect(run('artifact', 'show', '999')).rejects.toThrow('404 Not found: no artifact 999');
  });

  it('shows, lists (following the cursor) and relates artifacts', async () => {
    for (let i = 0; i < 3; i += 1) fake.seed({ [`f${i}`]: Buffer.from(`x${i}`) });
    await run('artifact', 'show', '2');
    expect(stdout).toMatch(/^Artifact 2  testing\n/);
    expect(stdout).toMatch(/f1\s+2 B\s+[0-9a-f]{64}\s+complete/);

    stdout = '';
    await run('artifact', 'list', '--limit', '2', '--json');
    expect((JSON.parse(stdout) as { id: number }[]).map((a) => a.id)).toEqual([3, 2]);
    stdout = '';
    await run('artifact', 'list', '--all', '--json');
    expect((JSON.parse(stdout) as { id: number }[]).map((a) => a.id)).toEqual([3, 2, 1]);

    stdout = '';
    await run('artifact', 'relate', '1', '2', '--type', 'built-using');
    expect(stdout).toBe('Created relation 77: 1 built-using 2\n');
    await expect(run('artifact', 'relate', '1', '2', '--type', 'bogus')).rejects.toThrow(/Allowed choices are built-using, extends, relates-to/);
  });

  it('takes --server, --token and --scope after the subcommand and sends them', async () => {
    env = { XDG_CACHE_HOME: join(root, 'cache'), CONVEYOR_DATA_DIR: join(root, 'none') };
    await run('whoami', '--server', fake.base, '--token', 'f'.repeat(64), '--scope', 'debian');
    expect(stdout).toBe(`alice on ${fake.base} (token from flag)\n`);
    expect(fake.apiHeaders[0]).toMatchObject({ token: 'f'.repeat(64), 'x-debusine-scope': 'debian' });

    fake.seed({ a: Buffer.from('a') });
    stdout = '';
    await run('artifact', 'show', '1', '--server', fake.base, '--json');
    expect(JSON.parse(stdout)).toMatchObject({ id: 1 });
  });
});
