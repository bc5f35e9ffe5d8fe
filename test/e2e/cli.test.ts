/**
 * The `conveyor` CLI as a user runs it: a subprocess (what bin/conveyor runs) against the real
 * local stack. Admin commands reach the stack's database through its local.json
 * (CONVEYOR_DATA_DIR); client commands talk HTTP with CONVEYOR_SERVER/CONVEYOR_TOKEN. HOME and
 * the XDG directories are temporary, so the user's config and resume state are not touched.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListPartsCommand } from '@aws-sdk/client-s3';
import { createAwsClients, createAwsDepsFromClients, readAwsConfig, type AwsClients } from '../../shared/adapters/aws';
import type { Deps } from '../../shared/ports';
import { seedUsers, sha256 } from '../support/world';
import { fetchClient, type FetchClient } from './http-client';
import { REPO_ROOT, startLocalStack, type LocalStack } from './stack';

jest.setTimeout(300_000);

const MiB = 1024 * 1024;
const TSX_LOADER = join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs');
const CLI_MAIN = join(REPO_ROOT, 'cli', 'main.ts');

let stack: LocalStack | undefined;
let clients: AwsClients | undefined;
let deps: Deps;
let keys: Record<string, string>;
let http: FetchClient;
let work: string;
let src: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'conveyor-e2e-cli-'));
  src = join(work, 'src');
  for (const dir of ['home', 'cache', 'config', 'src/dir']) mkdirSync(join(work, dir), { recursive: true });
  stack = await startLocalStack();
  clients = createAwsClients(stack.env);
  deps = createAwsDepsFromClients(readAwsConfig(stack.env), clients);
  keys = await seedUsers(deps);
  http = fetchClient(stack.url);
}, 240_000);

afterAll(async () => {
  for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  clients?.dynamo.destroy();
  clients?.s3.destroy();
  clients?.s3Presigner.destroy();
  clients?.sqs.destroy();
  try {
    await stack?.stop();
  } finally {
    if (work) rmSync(work, { recursive: true, force: true });
  }
}, 120_000);

// ------------------------------------------------------------------------------------ running the CLI

interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const running = new Set<ChildProcess>();

/** The test runner's environment minus Conveyor/AWS settings, plus a private HOME and the stack. */
function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('CONVEYOR_') && !name.startsWith('AWS_')) env[name] = value;
  }
  return {
    ...env,
    HOME: join(work, 'home'),
    XDG_CACHE_HOME: join(work, 'cache'),
    XDG_CONFIG_HOME: join(work, 'config'),
    CONVEYOR_SERVER: stack!.url,
    CONVEYOR_TOKEN: keys['contributor']!,
    CONVEYOR_DATA_DIR: stack!.dataDir,
    ...extra,
  };
}

function spawnCli(args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}): { child: ChildProcess; output: () => CliResult; done: Promise<CliResult> } {
  const child = spawn(process.execPath, ['--import', TSX_LOADER, CLI_MAIN, ...args], {
    cwd: opts.cwd ?? src,
    env: cliEnv(opts.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const done = new Promise<CliResult>((resolveDone, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      running.delete(child);
      resolveDone({ code, signal, stdout, stderr });
    });
  });
  return { child, output: () => ({ code: child.exitCode, signal: child.signalCode, stdout, stderr }), done };
}

/** Runs `conveyor ARGS` to the end (killed after `timeoutMs`). */
async function cli(args: string[], opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  const run = spawnCli(args, opts);
  const timer = setTimeout(() => run.child.kill('SIGKILL'), opts.timeoutMs ?? 180_000);
  try {
    return await run.done;
  } finally {
    clearTimeout(timer);
  }
}

/** Runs it and expects exit code 0; the failure message carries what it printed. */
async function cliOk(args: string[], opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  const result = await cli(args, opts);
  if (result.code !== 0) throw new Error(`conveyor ${args.join(' ')} exited with ${result.code ?? result.signal}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result;
}

function parseJson(text: string, what: string): any {
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${what} did not print JSON: ${text.slice(0, 500)}`);
  }
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

const pendingRecords = () => {
  const dir = join(work, 'cache', 'conveyor', 'pending-artifacts');
  return existsSync(dir) ? readdirSync(dir).filter((name) => name.endsWith('.json')) : [];
};

// ------------------------------------------------------------------------------------ admin

describe('conveyor admin', () => {
  it('creates a workspace, a user, a token and a role; a disabled token stops working; the audit log shows it all', async () => {
    expect((await cliOk(['admin', 'workspace', 'create', 'cliws'])).stdout).toContain('Created private workspace debusine/cliws');
    expect((await cliOk(['admin', 'user', 'create', 'alice', '--email', 'alice@example.org'])).stdout).toContain('Created user alice');

    const tokenOut = (await cliOk(['admin', 'token', 'create', 'alice', '--comment', 'e2e laptop'])).stdout;
    const key = /^Key: ([0-9a-f]{64})$/m.exec(tokenOut)?.[1];
    const tokenId = /^Created token (\S+) for alice \(enabled/m.exec(tokenOut)?.[1];
    expect(key).toBeDefined();
    expect(tokenId).toBeDefined();

    expect((await cliOk(['admin', 'role', 'grant', 'cliws', 'alice', 'contributor'])).stdout).toContain('alice is now contributor of debusine/cliws');
    // The seeded contributor (CONVEYOR_TOKEN of the artifact tests below) works in cliws too.
    await cliOk(['admin', 'role', 'grant', 'cliws', 'contributor', 'contributor']);

    const whoami = await cliOk(['whoami', '--json'], { env: { CONVEYOR_TOKEN: key! } });
    expect(parseJson(whoami.stdout, 'whoami --json')).toMatchObject({ user: 'alice', auth: true, server: stack!.url });
    // alice sees the workspace with her role.
    const workspaces = await http('GET', '/api/1.0/workspace/', { token: key! });
    expect(workspaces.status).toBe(200);
    expect(workspaces.json.results).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'cliws', public: false, role: 'contributor' })]));

    expect((await cliOk(['admin', 'token', 'disable', tokenId!])).stdout).toContain(`Disabled token ${tokenId}`);
    const refused = await cli(['whoami'], { env: { CONVEYOR_TOKEN: key! } });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/403/);
    expect(refused.stdout).not.toContain('alice');

    const audit = parseJson((await cliOk(['admin', 'audit', 'list', '--json', '--limit', '500'])).stdout, 'admin audit list --json');
    const ours = (audit.results as { actor: string; action: string; details: Record<string, unknown> }[]).filter((e) => e.actor.startsWith('admin-cli:'));
    const find = (action: string, details: Record<string, unknown>) => ours.find((e) => e.action === action && Object.entries(details).every(([k, v]) => e.details[k] === v));
    expect(find('workspace.create', { workspace: 'cliws', public: false })).toBeDefined();
    expect(find('user.create', { username: 'alice' })).toBeDefined();
    expect(find('token.create', { username: 'alice' })).toBeDefined();
    expect(find('role.grant', { workspace: 'cliws', username: 'alice', role: 'contributor' })).toBeDefined();
    expect(find('token.disable', { token: tokenId, username: 'alice' })).toBeDefined();
    // The key itself is never in the audit log.
    expect(JSON.stringify(audit)).not.toContain(key);
  });
});

// ------------------------------------------------------------------------------------ artifacts

describe('conveyor artifact', () => {
  const aTxt = Buffer.from('a text file for the CLI\n');
  const bBin = randomBytes(300_000);
  const createArgs = ['artifact', 'create', '--workspace', 'cliws', '--category', 'testing', '--data', '{"k":1}', 'a.txt', 'dir/b.bin'];
  let first = 0;
  let second = 0;

  beforeAll(() => {
    writeFileSync(join(src, 'a.txt'), aTxt);
    writeFileSync(join(src, 'dir', 'b.bin'), bBin);
  });

  it('create uploads the files and prints the id', async () => {
    const created = await cliOk(createArgs);
    const match = /^Artifact (\d+) complete: 2 file\(s\), 2 uploaded, 0 already on the server$/m.exec(created.stdout);
    expect(match).not.toBeNull();
    first = Number(match![1]);
    expect(created.stderr).toContain(`Created artifact ${first}`);
    expect(pendingRecords()).toEqual([]);

    const onServer = await http('GET', `/api/1.0/artifact/${first}/`, { token: keys['contributor'] });
    expect(onServer.status).toBe(200);
    expect(onServer.json).toMatchObject({
      workspace: 'cliws',
      category: 'testing',
      data: { k: 1 },
      complete: true,
      files_to_upload: [],
      created_by: 'user:contributor',
      files: {
        'a.txt': { size: aTxt.length, checksums: { sha256: sha256(aTxt) }, complete: true },
        'dir/b.bin': { size: bBin.length, checksums: { sha256: sha256(bBin) }, complete: true },
      },
    });
  });

  it('show --json prints the artifact; show prints a summary', async () => {
    const shown = parseJson((await cliOk(['artifact', 'show', String(first), '--json'])).stdout, 'artifact show --json');
    expect(shown).toMatchObject({ id: first, workspace: 'cliws', data: { k: 1 }, complete: true });
    expect(Object.keys(shown.files).sort()).toEqual(['a.txt', 'dir/b.bin']);
    expect(shown.files['dir/b.bin'].checksums.sha256).toBe(sha256(bBin));
    const human = (await cliOk(['artifact', 'show', String(first)])).stdout;
    expect(human).toContain(`Artifact ${first}  testing`);
    expect(human).toMatch(/dir\/b\.bin\s.*complete/);
  });

  it('download writes identical bytes; --tar writes the whole artifact', async () => {
    const out = join(work, 'download');
    const downloaded = await cliOk(['artifact', 'download', String(first), '--target-dir', out]);
    expect(downloaded.stdout).toContain(`Downloaded 2 file(s) of artifact ${first}`);
    expect(readFileSync(join(out, 'a.txt')).equals(aTxt)).toBe(true);
    expect(readFileSync(join(out, 'dir', 'b.bin')).equals(bBin)).toBe(true);

    const tarDir = join(work, 'download-tar');
    await cliOk(['artifact', 'download', String(first), '--tar', '--target-dir', tarDir]);
    const tarPath = join(tarDir, `artifact-${first}.tar.gz`);
    expect(existsSync(tarPath)).toBe(true);
    const extracted = join(work, 'extracted');
    mkdirSync(extracted);
    expect(spawnSync('tar', ['-xzf', tarPath, '-C', extracted]).status).toBe(0);
    expect(readFileSync(join(extracted, 'a.txt')).equals(aTxt)).toBe(true);
    expect(readFileSync(join(extracted, 'dir', 'b.bin')).equals(bBin)).toBe(true);
  });

  it('the same create again makes a new artifact whose files are already stored (nothing uploaded)', async () => {
    const again = await cliOk(createArgs);
    const match = /^Artifact (\d+) complete: 2 file\(s\), 0 uploaded, 2 already on the server$/m.exec(again.stdout);
    expect(match).not.toBeNull();
    second = Number(match![1]);
    expect(second).not.toBe(first);
    expect(again.stderr).toContain(`Created artifact ${second}`);
    expect(again.stderr).not.toMatch(/^uploaded /m);
    const onServer = await http('GET', `/api/1.0/artifact/${second}/`, { token: keys['contributor'] });
    expect(onServer.json).toMatchObject({ id: second, complete: true, files_to_upload: [], data: { k: 1 } });
  });

  it('relate creates a relation once; relations lists it', async () => {
    const related = await cliOk(['artifact', 'relate', String(second), String(first), '--type', 'extends']);
    const match = new RegExp(`^Created relation (\\d+): ${second} extends ${first}$`, 'm').exec(related.stdout);
    expect(match).not.toBeNull();
    const relationId = Number(match![1]);
    expect((await cliOk(['artifact', 'relate', String(second), String(first), '--type', 'extends'])).stdout).toContain(`Existing relation ${relationId}`);

    const listed = parseJson((await cliOk(['artifact', 'relations', String(second), '--json'])).stdout, 'artifact relations --json');
    expect(listed).toEqual([{ id: relationId, artifact: second, target: first, type: 'extends' }]);
    const reverse = parseJson((await cliOk(['artifact', 'relations', String(first), '--reverse', '--json'])).stdout, 'artifact relations --reverse --json');
    expect(reverse).toEqual([{ id: relationId, artifact: second, target: first, type: 'extends' }]);
    const onServer = await http('GET', `/api/1.0/artifact-relation/?artifact=${second}`, { token: keys['contributor'] });
    expect(onServer.json).toEqual([{ id: relationId, artifact: second, target: first, type: 'extends' }]);
  });

  it('list --json shows the workspace artifacts, newest first', async () => {
    const listed = parseJson((await cliOk(['artifact', 'list', '--workspace', 'cliws', '--json'])).stdout, 'artifact list --json');
    expect(listed.map((a: { id: number }) => a.id)).toEqual([second, first]);
    expect(listed[0]).toMatchObject({ id: second, workspace: 'cliws', category: 'testing', complete: true, created_by: 'user:contributor' });
  });

  it('a failing command exits 1 with the server problem on stderr', async () => {
    const refused = await cli(['artifact', 'show', String(first)], { env: { CONVEYOR_TOKEN: keys['outsider']! } });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/404/);
    expect(refused.stdout).toBe('');
  });
});

// ------------------------------------------------------------------------------------ resume

describe('conveyor artifact create, interrupted', () => {
  // PRODUCT BUG (local stack), see the report and the deterministic HTTP-level reproduction in
  // artifacts.test.ts ("a part PUT interrupted mid-way"): the CLI is killed while parts are still
  // arriving, s3rver keeps those part files without their .md5, and the ListParts shim
  // (shared/adapters/s3/s3rver-shims.ts) then reports IsTruncated=true with an unchanged
  // NextPartNumberMarker, so S3FileStore.listUploadedParts throws and the re-run gets
  // "500 Internal Server Error" from POST upload/big.bin/. This test fails whenever a cut-off part
  // has a higher number than the last complete one (nearly always), and passes once that is fixed.
  it('resumes a multipart upload killed with SIGKILL: same artifact, completed, identical bytes', async () => {
    const size = 100 * MiB + 1;
    const bigPath = join(src, 'big.bin');
    writeFileSync(bigPath, randomBytes(size));
    const bigSha = await sha256OfFile(bigPath);
    const args = ['artifact', 'create', '--workspace', 'priv', '--category', 'testing', '--data', '{"resume":true}', 'big.bin'];

    const run = spawnCli(args);
    const id = await waitFor('the CLI to create the artifact', async () => {
      const state = run.output();
      if (state.code !== null || state.signal !== null) throw new Error(`the CLI ended before the test could interrupt it: ${JSON.stringify(state)}`);
      const match = /Created artifact (\d+)/.exec(state.stderr);
      return match ? Number(match[1]) : undefined;
    });
    expect(pendingRecords().length).toBe(1);

    // Kill it as soon as the store holds a first part: the upload state names the multipart upload,
    // then one ListParts page, read directly, lists every part fully stored so far.
    const ended = () => {
      const state = run.output();
      if (state.code !== null || state.signal !== null) throw new Error(`the CLI ended before the test could interrupt it: ${JSON.stringify(state)}`);
    };
    const upload = await waitFor('the CLI to start the multipart upload', async () => {
      ended();
      const state = (await deps.artifacts.get(id))?.files.find((f) => f.path === 'big.bin')?.upload;
      return state?.key && state.multipartUploadId ? { key: state.key, uploadId: state.multipartUploadId } : undefined;
    });
    const partsAtKill = await waitFor(
      'a first uploaded part',
      async () => {
        ended();
        const page = await clients!.s3.send(new ListPartsCommand({ Bucket: stack!.env.CONVEYOR_BUCKET, Key: upload.key, UploadId: upload.uploadId }));
        const stored = page.Parts?.length ?? 0;
        if (stored === 0) return undefined;
        run.child.kill('SIGKILL');
        return stored;
      },
      120_000,
      20,
    );
    const killed = await run.done;
    expect(killed.signal).toBe('SIGKILL');
    expect(partsAtKill).toBeGreaterThanOrEqual(1);

    const interrupted = await http('GET', `/api/1.0/artifact/${id}/`, { token: keys['contributor'] });
    expect(interrupted.json).toMatchObject({ complete: false, files_to_upload: ['big.bin'] });
    expect(pendingRecords().length).toBe(1);

    const resumed = await cliOk(args, { timeoutMs: 240_000 });
    expect(resumed.stderr).toContain(`Resuming artifact ${id}`);
    expect(resumed.stdout).toMatch(new RegExp(`^Artifact ${id} complete: 1 file\\(s\\), 1 uploaded, 0 already on the server$`, 'm'));
    expect(pendingRecords()).toEqual([]);

    const done = await http('GET', `/api/1.0/artifact/${id}/`, { token: keys['contributor'] });
    expect(done.json).toMatchObject({ complete: true, files_to_upload: [], data: { resume: true }, files: { 'big.bin': { size, checksums: { sha256: bigSha }, complete: true } } });
    // No second artifact: the newest in the workspace is the resumed one.
    const newest = await http('GET', '/api/1.0/artifact/?workspace=priv&limit=1', { token: keys['contributor'] });
    expect(newest.json.results[0].id).toBe(id);

    const target = join(work, 'download-big');
    await cliOk(['artifact', 'download', String(id), '--target-dir', target], { timeoutMs: 240_000 });
    expect(await sha256OfFile(join(target, 'big.bin'))).toBe(bigSha);
  });
});
