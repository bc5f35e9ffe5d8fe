/**
 * Runs the real local stack (`node --import tsx cli/main.ts dev`, what `npm start` runs) as a
 * subprocess for end-to-end tests: fresh temporary data dir, free port, stopped with SIGTERM like
 * Ctrl-C would, and checked to leave no process behind.
 *
 *   const stack = await startLocalStack();
 *   await fetch(`${stack.url}/api/1.0/whoami/`, { headers: { Token: stack.adminToken } });
 *   const again = await stack.restart(); // same data dir and port: same data, same admin token
 *   await again.stop();                  // also removes the temporary data dir
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO_ROOT = resolve(__dirname, '../..');

export interface LocalStack {
  /** API base URL, e.g. `http://127.0.0.1:40123`. */
  url: string;
  adminToken: string;
  /** The environment from local.json: tables, bucket, queue URLs, emulator endpoints. */
  env: Record<string, string>;
  dataDir: string;
  /** Process id of `conveyor dev` (also its process group id). */
  pid: number;
  /** Everything the process printed so far, for debugging failed tests. */
  output(): string;
  /** SIGTERM, then asserts a clean exit (code 0) and no stray process; removes a temporary data dir. */
  stop(): Promise<void>;
  /** Stops (keeping the data) and starts again on the same data dir and port; `signal`: Ctrl-C is SIGINT. */
  restart(signal?: NodeJS.Signals): Promise<LocalStack>;
}

export interface StartLocalStackOptions {
  /** Reuse this data dir (kept on stop); default: a fresh temporary one (removed on stop). */
  dataDir?: string;
  /** Default: a free port. */
  port?: number;
  /** Extra environment for the process. */
  env?: Record<string, string>;
  startTimeoutMs?: number;
  stopTimeoutMs?: number;
}

export async function startLocalStack(options: StartLocalStackOptions = {}): Promise<LocalStack> {
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'conveyor-e2e-'));
  const settings = { ...options, dataDir, port: options.port ?? (await freePort()) };
  try {
    return await launch(settings, ownsDataDir);
  } catch (err) {
    if (ownsDataDir) rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}

type LaunchSettings = StartLocalStackOptions & { dataDir: string; port: number };

async function launch(settings: LaunchSettings, ownsDataDir: boolean): Promise<LocalStack> {
  const spawnedAt = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'dev'], {
    cwd: REPO_ROOT,
    // Own process group: a signal to the test runner's group does not reach it, and we can
    // kill the whole group if it misbehaves.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...inheritedEnv(),
      ...settings.env,
      CONVEYOR_DATA_DIR: settings.dataDir,
      CONVEYOR_PORT: String(settings.port),
    },
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) =>
    child.once('exit', (code, signal) => resolveExit({ code, signal })),
  );
  let exitStatus: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  void exited.then((status) => (exitStatus = status));
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not spawn `conveyor dev`');

  const localJsonPath = join(settings.dataDir, 'local.json');
  let info: { url: string; adminToken: string; env: Record<string, string> } | undefined;
  const deadline = Date.now() + (settings.startTimeoutMs ?? 120_000);
  try {
    for (;;) {
      if (exitStatus) throw new Error(`conveyor dev exited during start-up (${describeExit(exitStatus)}):\n${output}`);
      if (Date.now() > deadline) throw new Error(`conveyor dev did not become ready in time:\n${output}`);
      // A local.json from an earlier run may be there already: only a fresh one counts.
      info ??= readFreshLocalJson(localJsonPath, spawnedAt);
      if (info && (await answers(info.url))) break;
      await sleep(100);
    }
  } catch (err) {
    await forceKill(child, pid, settings.dataDir, exited);
    throw err;
  }
  const ready = info;

  let stopping: Promise<void> | undefined;
  const stopProcess = (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    stopping ??= (async () => {
      if (!exitStatus) process.kill(pid, signal);
      const status = await Promise.race([exited, sleep(settings.stopTimeoutMs ?? 45_000).then(() => undefined)]);
      if (status === undefined) {
        await forceKill(child, pid, settings.dataDir, exited);
        throw new Error(`conveyor dev did not exit after ${signal}:\n${output}`);
      }
      const strays = processesMentioning(settings.dataDir);
      if (strays.length > 0) {
        for (const stray of strays) killQuietly(stray.pid, 'SIGKILL');
        throw new Error(`processes left behind after ${signal}:\n${strays.map((s) => `${s.pid} ${s.commandLine}`).join('\n')}`);
      }
      if (status.code !== 0) throw new Error(`conveyor dev exited with ${describeExit(status)} after ${signal}:\n${output}`);
    })();
    return stopping;
  };

  return {
    ...ready,
    dataDir: settings.dataDir,
    pid,
    output: () => output,
    async stop() {
      try {
        await stopProcess();
      } finally {
        if (ownsDataDir) rmSync(settings.dataDir, { recursive: true, force: true });
      }
    },
    async restart(signal?: NodeJS.Signals) {
      await stopProcess(signal);
      return launch(settings, ownsDataDir);
    },
  };
}

/** The test runner's environment minus anything pointing at other emulators (e.g. the integration tier's). */
function inheritedEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('CONVEYOR_') && !name.startsWith('AWS_')) env[name] = value;
  }
  return env;
}

function readFreshLocalJson(path: string, notBefore: number): { url: string; adminToken: string; env: Record<string, string> } | undefined {
  try {
    if (statSync(path).mtimeMs < notBefore) return undefined;
    return JSON.parse(readFileSync(path, 'utf8')) as { url: string; adminToken: string; env: Record<string, string> };
  } catch {
    return undefined; // not written yet
  }
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await response.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

/** Linux: processes whose command line mentions `text` (e.g. DynamoDB Local's `-dbPath <dataDir>/dynamodb`). */
export function processesMentioning(text: string): { pid: number; commandLine: string }[] {
  const found: { pid: number; commandLine: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const commandLine = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim();
      if (commandLine.includes(text)) found.push({ pid: Number(entry), commandLine });
    } catch {
      // exited while we looked
    }
  }
  return found;
}

async function forceKill(child: ChildProcess, pid: number, dataDir: string, exited: Promise<unknown>): Promise<void> {
  killQuietly(-pid, 'SIGKILL');
  if (child.exitCode === null && child.signalCode === null) await Promise.race([exited, sleep(5_000)]);
  // DynamoDB Local runs in a process group of its own; its watchdog kills it, but do not rely on it here.
  for (const stray of processesMentioning(dataDir)) killQuietly(stray.pid, 'SIGKILL');
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

function describeExit(status: { code: number | null; signal: NodeJS.Signals | null }): string {
  return status.signal ? `signal ${status.signal}` : `code ${status.code}`;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolveListen());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolveClose) => server.close(() => resolveClose()));
  return port;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolveSleep) => setTimeout(resolveSleep, ms).unref());
}
