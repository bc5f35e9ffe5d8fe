/**
 * The setup the e2e suites share: a temporary work dir, the local stack (`conveyor dev`), AWS clients
 * on its emulators with the test users seeded, an HTTP client, real workers enabled by activation
 * tokens, the `conveyor` CLI as a subprocess, and the polling and diagnostics around them.
 *
 *   const h = new E2eHarness({ tmpPrefix: 'conveyor-e2e-x-', dirs: ['home', 'config', 'cache'] });
 *   beforeAll(async () => {
 *     await h.start({ CONVEYOR_DEV_SCHEDULE_SECONDS: '1' });
 *     await h.startWorkers(['a.e2e.test', 'b.e2e.test']);
 *   }, 240_000);
 *   afterAll(() => h.stop({ stopWorkers: 'assert' }), 180_000);
 *
 *   const wr = await h.getJson(`work-request/${id}/`); // as contributor; asserts a 200
 *   await h.waitForFinished(id);
 *
 * Fields are filled in as `start` goes, and `stop` cleans up whatever was started, so a setup that
 * fails half way leaves nothing behind.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAwsClients, createAwsDepsFromClients, readAwsConfig, type AwsClients } from '../../shared/adapters/aws';
import { createActivationToken } from '../../shared/app/workers';
import type { Deps } from '../../shared/ports';
import { seedUsers } from '../support/world';
import { fetchClient, type FetchClient, type FetchClientResponse } from './http-client';
import { REPO_ROOT, startLocalStack, type LocalStack } from './stack';
import { cleanEnv, startWorker, waitFor, type WorkerProcess } from './worker-process';

export const API = '/api/1.0';
export const WORKSPACE = 'priv';
const TSX_LOADER = join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs');
const CLI_MAIN = join(REPO_ROOT, 'cli', 'main.ts');

/** Fails (does not skip) when a tool is missing: CI installs them. `who` says what needs it. */
export function requireTool(command: string, args: string[], who: string): void {
  const probe = spawnSync(command, args, { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(`\`${command} ${args.join(' ')}\` failed (${probe.error?.message ?? `exit ${probe.status}: ${probe.stderr}`}): ${who}`);
  }
}

export const isFinished = (wr: { status: string }) => wr.status === 'completed' || wr.status === 'aborted';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface E2eHarnessOptions {
  /** Prefix of the temporary work dir. */
  tmpPrefix: string;
  /** Directories made under the work dir (the CLI's HOME and XDG dirs are `home`, `config`, `cache`). */
  dirs?: string[];
  /** How much of a refused response's body `expectStatus` shows (default 500 characters). */
  bodyChars?: number;
  /** How much of each worker's log and of the stack's output `diagnostics` shows (default 6000 each). */
  workerLogChars?: number;
  stackLogChars?: number;
}

export class E2eHarness {
  stack: LocalStack | undefined;
  clients: AwsClients | undefined;
  deps!: Deps;
  /** API keys of the seeded users, by name (`owner`, `contributor`, `outsider`, ...). */
  keys!: Record<string, string>;
  http!: FetchClient;
  work = '';
  /** Every worker started (also those killed or stopped since). */
  readonly workers: WorkerProcess[] = [];
  private readonly cliChildren = new Set<ChildProcess>();

  constructor(private readonly options: E2eHarnessOptions) {}

  /** The work dir, the local stack (with `stackEnv`), AWS clients on it, the seeded users and the HTTP client. */
  async start(stackEnv: Record<string, string>): Promise<void> {
    this.work = mkdtempSync(join(tmpdir(), this.options.tmpPrefix));
    for (const dir of this.options.dirs ?? []) mkdirSync(join(this.work, dir), { recursive: true });
    this.stack = await startLocalStack({ env: stackEnv });
    this.clients = createAwsClients(this.stack.env);
    this.deps = createAwsDepsFromClients(readAwsConfig(this.stack.env), this.clients);
    this.keys = await seedUsers(this.deps);
    this.http = fetchClient(this.stack.url);
  }

  /**
   * One worker per FQDN, started together and enabled at once: each gets its own activation token
   * (they are single-use). Throws the first failure once every start has settled.
   */
  async startWorkers(fqdns: string[]): Promise<WorkerProcess[]> {
    const activations: string[] = [];
    for (let i = 0; i < fqdns.length; i++) activations.push((await createActivationToken(this.deps, 'test')).key);
    const started = await Promise.allSettled(
      fqdns.map((fqdn, i) => startWorker({ server: this.stack!.url, fqdn, activationToken: activations[i]!, heartbeatIntervalSeconds: 1 })),
    );
    const workers: WorkerProcess[] = [];
    for (const s of started) if (s.status === 'fulfilled') workers.push(s.value);
    this.workers.push(...workers);
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    return workers;
  }

  /**
   * Kills CLI subprocesses still running, then ends the workers: `stopWorkers` 'assert' stops those
   * still running with SIGTERM and fails (after the cleanup) if one does not stop cleanly, 'log'
   * only logs that; without it they are killed. Then the clients, the stack and the work dir.
   */
  async stop(opts: { stopWorkers?: 'assert' | 'log' } = {}): Promise<void> {
    for (const child of this.cliChildren) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    try {
      let failure: { error: unknown } | undefined;
      for (const w of this.workers) {
        try {
          if (opts.stopWorkers && !w.exitStatus()) await w.stop();
        } catch (err) {
          if (opts.stopWorkers === 'log') console.error(err);
          else failure ??= { error: err };
        } finally {
          await w.dispose();
        }
      }
      if (failure) throw failure.error;
    } finally {
      this.clients?.dynamo.destroy();
      this.clients?.s3.destroy();
      this.clients?.s3Presigner.destroy();
      this.clients?.sqs.destroy();
      try {
        await this.stack?.stop();
      } finally {
        if (this.work) rmSync(this.work, { recursive: true, force: true });
      }
    }
  }

  // ---------------------------------------------------------------------------------- HTTP

  readonly expectStatus = (res: FetchClientResponse, status: number): void => {
    // On a mismatch the received value carries the body, which says why.
    expect(res.status === status ? status : `${res.status} ${res.text.slice(0, this.options.bodyChars ?? 500)}`).toBe(status);
  };

  /** `METHOD /api/1.0/PATH` with the API key of the seeded user `user`. */
  api(method: string, path: string, user: string, body?: unknown): Promise<FetchClientResponse> {
    return this.http(method, `${API}/${path}`, { token: this.keys[user], ...(body !== undefined ? { body } : {}) });
  }

  /** `GET /api/1.0/PATH` as `user`: asserts a 200 and returns the JSON. */
  async getJson(path: string, user = 'contributor'): Promise<any> {
    const res = await this.api('GET', path, user);
    this.expectStatus(res, 200);
    return res.json;
  }

  getWorkRequest(id: number): Promise<any> {
    return this.getJson(`work-request/${id}/`);
  }

  /** Polls the work request until `done`; a timeout says `what` it waited for and adds the diagnostics. */
  waitForWorkRequest(id: number, done: (wr: any) => boolean, what: string, timeoutMs = 120_000): Promise<any> {
    return waitFor(`work request ${id} ${what}`, () => this.getWorkRequest(id), done, { timeoutMs, describe: this.diagnostics });
  }

  waitForFinished(id: number, timeoutMs?: number): Promise<any> {
    return this.waitForWorkRequest(id, isFinished, 'to finish', timeoutMs);
  }

  /** Everything the workers and the stack logged: attached to timeouts, so a failure says what happened. */
  readonly diagnostics = (): string =>
    [
      ...this.workers.map((w) => `--- worker ${w.name} (pid ${w.pid}) ---\n${w.output().slice(-(this.options.workerLogChars ?? 6000))}`),
      `--- conveyor dev ---\n${this.stack?.output().slice(-(this.options.stackLogChars ?? 6000)) ?? ''}`,
    ].join('\n');

  // ---------------------------------------------------------------------------------- CLI

  /**
   * `conveyor ARGS` as a user runs it: a subprocess with the work dir's `home`, `config` and `cache`
   * as HOME and XDG dirs, talking to the stack as `user` (default contributor); SIGKILLed after
   * `timeoutMs` (default 120 s). `env` adds to its environment.
   */
  async cli(args: string[], opts: { user?: string; timeoutMs?: number; cwd?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
    const child = spawn(process.execPath, ['--import', TSX_LOADER, CLI_MAIN, ...args], {
      cwd: opts.cwd ?? this.work,
      env: cleanEnv({
        HOME: join(this.work, 'home'),
        XDG_CACHE_HOME: join(this.work, 'cache'),
        XDG_CONFIG_HOME: join(this.work, 'config'),
        CONVEYOR_SERVER: this.stack!.url,
        CONVEYOR_TOKEN: this.keys[opts.user ?? 'contributor']!,
        ...opts.env,
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.cliChildren.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    try {
      return await new Promise<CliResult>((resolveDone, reject) => {
        child.once('error', reject);
        child.once('close', (code, signal) => resolveDone({ code, signal, stdout, stderr }));
      });
    } finally {
      clearTimeout(timer);
      this.cliChildren.delete(child);
    }
  }
}
