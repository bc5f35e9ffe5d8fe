/**
 * `conveyor dev` (what `npm start` runs): the whole service on this machine, on loopback.
 *
 * Start-up: emulators (data under the data dir) → tables, bucket, queues → process.env → database
 * bootstrap and admin token → HTTP gateway → queue pollers and schedule timers → local.json.
 * Ctrl-C / SIGTERM undo it in reverse order and exit 0, leaving no child process behind.
 */
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { FUNCTIONS, MAILBOX_FILE_ENV_VAR, QUEUES, WS_MANAGEMENT_ENDPOINT_ENV_VAR, type QueueName } from '../../shared/manifest';
import type { Deps } from '../../shared/ports';
import type { EmulatorPorts } from './emulators';
import { WEB_DIR } from './static-site';
import type { LocalWebSockets } from './websockets';
import { consoleLog, createHandlerLoader, formatError, type Log } from './handlers';
import type { LocalEnv } from './provision';
import { DEFAULT_DATA_DIR, LOCAL_JSON, MAILBOX_FILE } from '../local-stack-files';

type BootstrapModule = typeof import('../../shared/app/bootstrap');
type AwsAdaptersModule = typeof import('../../shared/adapters/aws');

/**
 * The stack's parts (emulators, AWS SDK clients, pollers) load when the stack starts, not with
 * every CLI command: they are most of the CLI's start-up time otherwise.
 */
function stackModules() {
  return {
    ...(require('@aws-sdk/client-sqs') as Pick<typeof import('@aws-sdk/client-sqs'), 'SQSClient'>),
    ...(require('./emulators') as typeof import('./emulators')),
    ...(require('./gateway') as typeof import('./gateway')),
    ...(require('./pollers') as typeof import('./pollers')),
    ...(require('./provision') as typeof import('./provision')),
    ...(require('./websockets') as typeof import('./websockets')),
  };
}

export const DEFAULT_PORT = 8080;

export interface DevOptions {
  port: number;
  dataDir: string;
  /** Fixed emulator ports (default: any free port). */
  emulatorPorts?: EmulatorPorts;
  /** Every schedule fires this often instead of its rate (env CONVEYOR_DEV_SCHEDULE_SECONDS; tests). */
  schedulePeriodSeconds?: number;
  log?: Log;
}

/** What `<dataDir>/local.json` holds: how the admin CLI, workers and tests reach this stack. */
export interface LocalStackInfo {
  url: string;
  adminToken: string;
  env: LocalEnv;
}

export interface RunningLocalStack extends LocalStackInfo {
  stop(): Promise<void>;
  /** Restarts DynamoDB Local or the SQS emulator in place (cli/dev/restarts.ts); also `POST /@local/emulators/NAME/restart`. */
  restartEmulator(name: import('./emulators').RestartableEmulator): Promise<import('./restarts').EmulatorRestart>;
}

export function registerDevCommand(program: Command): void {
  program
    .command('dev')
    .description('Run Conveyor locally: DynamoDB Local, s3rver and local-aws-sqs emulators, the HTTP API, queue consumers and schedules')
    .option('-p, --port <port>', `HTTP port of the API (env CONVEYOR_PORT, default ${DEFAULT_PORT}; 0 = any free port)`)
    .option('-d, --data-dir <dir>', `directory the data persists in (env CONVEYOR_DATA_DIR, default ./${DEFAULT_DATA_DIR})`)
    .action(async (flags: { port?: string; dataDir?: string }) => {
      const exitCode = await runUntilSignalled(resolveDevOptions(flags, process.env));
      process.exit(exitCode);
    });
}

export function resolveDevOptions(flags: { port?: string; dataDir?: string }, env: NodeJS.ProcessEnv, cwd = process.cwd()): DevOptions {
  const portText = flags.port ?? env.CONVEYOR_PORT ?? String(DEFAULT_PORT);
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65_535) throw new Error(`invalid port ${JSON.stringify(portText)}`);
  const schedulePeriodSeconds = stackModules().schedulePeriodFromEnv(env);
  return {
    port,
    dataDir: resolve(cwd, flags.dataDir ?? env.CONVEYOR_DATA_DIR ?? DEFAULT_DATA_DIR),
    ...(schedulePeriodSeconds !== undefined ? { schedulePeriodSeconds } : {}),
  };
}

/** Runs the stack until SIGINT/SIGTERM/SIGHUP; resolves to the process exit code. */
async function runUntilSignalled(options: DevOptions): Promise<number> {
  const log = options.log ?? consoleLog;
  const shutdownRequested = new AbortController();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals > 1) {
      // Impatient second Ctrl-C: the emulators' exit hook still kills java on the way out.
      log('warn', `${signal} again: exiting now`);
      process.exit(130);
    }
    log('info', `${signal}: stopping (Ctrl-C again to force)`);
    shutdownRequested.abort();
    // Never hang on shutdown: the exit hook kills java whatever state we are in.
    setTimeout(() => {
      log('error', 'shutdown took too long; exiting');
      process.exit(1);
    }, 30_000).unref();
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);

  let stack: RunningLocalStack | undefined;
  try {
    stack = await startLocalStack(options, shutdownRequested.signal);
  } catch (err) {
    if (shutdownRequested.signal.aborted) return 0; // interrupted during start-up, already cleaned up
    log('error', `could not start the local stack: ${formatError(err)}`);
    return 1;
  }
  process.stdout.write(
    [
      '',
      'Conveyor local stack is running.',
      `  API:          ${stack.url}`,
      `  Admin token:  ${stack.adminToken}`,
      `  Data:         ${options.dataDir}`,
      `  Environment:  ${join(options.dataDir, LOCAL_JSON)} (used by \`conveyor\` admin commands and workers)`,
      'Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
  if (!shutdownRequested.signal.aborted) {
    await new Promise<void>((resolveShutdown) => shutdownRequested.signal.addEventListener('abort', () => resolveShutdown(), { once: true }));
  }
  await stack.stop();
  log('info', 'stopped');
  return 0;
}

/**
 * Starts everything and returns once the API answers. Used by `conveyor dev`; `abortSignal` lets a
 * signal received half-way through undo what was started so far.
 */
export async function startLocalStack(options: DevOptions, abortSignal?: AbortSignal): Promise<RunningLocalStack> {
  const log = options.log ?? consoleLog;
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const cleanups: (() => Promise<void> | void)[] = [];
  const stopAll = async (): Promise<void> => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch (err) {
        log('warn', `error while stopping: ${formatError(err)}`);
      }
    }
  };
  const checkpoint = (): void => {
    if (abortSignal?.aborted) throw new Error('interrupted');
  };

  try {
    const releaseLock = lockDataDir(dataDir);
    cleanups.push(releaseLock);

    const started = Date.now();
    const { SQSClient, LOCAL_CREDENTIALS, LOCAL_REGION, startEmulators, startGateway, schedulePeriodFromEnv, startQueuePollers, startScheduleTimers, provision, attachWebSockets } = stackModules();
    const previous = readPreviousLocalJson(dataDir);
    const emulators = await startEmulators({
      dataDir,
      ...(options.emulatorPorts && { ports: options.emulatorPorts }),
      preferredPorts: previousEmulatorPorts(previous),
    });
    cleanups.push(() => emulators.stop());
    checkpoint();

    const env: LocalEnv = {
      ...(await provision(emulators.endpoints)),
      [MAILBOX_FILE_ENV_VAR]: join(dataDir, MAILBOX_FILE),
      // DynamoDB Local writes its indexes with the item: the candidate markers need no lag margin
      // (INDEX_LAG_ENV_VAR of shared/adapters/aws-config.ts).
      CONVEYOR_INDEX_LAG_MS: '0',
    };
    checkpoint();
    // Handlers, like Lambda, read their configuration when first loaded: set it before any load.
    for (const inherited of ['AWS_PROFILE', 'AWS_SESSION_TOKEN', 'AWS_ENDPOINT_URL']) delete process.env[inherited];
    Object.assign(process.env, env);
    // Powertools' Logger indents each JSON entry here, so the local stack's log is readable (LOG_LEVEL sets the level).
    process.env['POWERTOOLS_DEV'] ??= 'true';

    const bootstrap = require('../../shared/app/bootstrap') as BootstrapModule;
    const { createAwsDeps } = require('../../shared/adapters/aws') as AwsAdaptersModule;
    const deps = createAwsDeps();
    await bootstrap.initDatabase(deps);
    const previousKey = typeof previous?.adminToken === 'string' && previous.adminToken !== '' ? previous.adminToken : undefined;
    const adminToken = await bootstrap.ensureAdminToken(deps, previousKey);
    await restoreWorkerQueues(deps, log);
    checkpoint();

    const { restartEmulatorInPlace } = require('./restarts') as typeof import('./restarts');
    const restartEmulator = (name: import('./emulators').RestartableEmulator) => restartEmulatorInPlace(emulators, name, () => restoreWorkerQueues(deps, log), log);

    // Stopped in reverse order: the gateway first (no new requests), then timers, pollers, emulators.
    const loadHandler = createHandlerLoader();
    const sqs = new SQSClient({ region: LOCAL_REGION, endpoint: emulators.endpoints.sqs, credentials: LOCAL_CREDENTIALS });
    cleanups.push(() => sqs.destroy());
    const queueUrls: Partial<Record<QueueName, string>> = {};
    for (const queue of Object.values(QUEUES)) queueUrls[queue.name] = env[queue.envVar];
    const pollers = startQueuePollers({ functions: FUNCTIONS, sqs, queueUrls, loadHandler, log });
    cleanups.push(() => pollers.stop());
    const periodSeconds = options.schedulePeriodSeconds ?? schedulePeriodFromEnv(process.env);
    if (periodSeconds !== undefined) log('info', `schedules fire every ${periodSeconds} s (CONVEYOR_DEV_SCHEDULE_SECONDS)`);
    const timers = startScheduleTimers({ functions: FUNCTIONS, loadHandler, log, ...(periodSeconds !== undefined ? { periodSeconds } : {}) });
    cleanups.push(() => timers.stop());
    let webSockets: LocalWebSockets | undefined;
    const gateway = await startGateway({
      functions: FUNCTIONS,
      loadHandler,
      port: options.port,
      log,
      accessLog: true,
      staticDir: WEB_DIR,
      intercept: (req, res, body) => webSockets?.handleManagementRequest(req, res, body) ?? false,
      edge: withEmulatorControl(adminToken, restartEmulator, localRangeEdge(deps, sqs, queueUrls['debusine-ranges'])),
    });
    cleanups.push(() => gateway.close());
    // Debusine's WebSockets on the same port; functions reach them through the management API there.
    webSockets = attachWebSockets(gateway.server, { functions: FUNCTIONS, loadHandler, log });
    cleanups.push(() => webSockets?.close());
    process.env[WS_MANAGEMENT_ENDPOINT_ENV_VAR] = gateway.url;
    env[WS_MANAGEMENT_ENDPOINT_ENV_VAR] = gateway.url;

    const info: LocalStackInfo = { url: gateway.url, adminToken, env };
    writeLocalJson(dataDir, info);
    log('info', `started in ${Date.now() - started} ms`);
    checkpoint();

    let stopping: Promise<void> | undefined;
    return {
      ...info,
      restartEmulator,
      stop() {
        stopping ??= stopAll();
        return stopping;
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/**
 * local-aws-sqs keeps nothing across restarts, while the workers registered before are still in
 * DynamoDB: their queues are created again (same names, so the URLs workers hold stay valid: the
 * SDK sends to the configured endpoint and local-aws-sqs finds queues by name).
 */
export async function restoreWorkerQueues(deps: Pick<Deps, 'workers' | 'workerChannels'>, log: Log): Promise<number> {
  let restored = 0;
  for (const worker of await deps.workers.list()) {
    if (worker.queueUrl === null) continue;
    await deps.workerChannels.createQueue(worker.name);
    restored++;
  }
  if (restored > 0) log('info', `re-created the queues of ${restored} registered worker(s)`);
  return restored;
}

function readPreviousLocalJson(dataDir: string): Partial<LocalStackInfo> | undefined {
  try {
    return JSON.parse(readFileSync(join(dataDir, LOCAL_JSON), 'utf8')) as Partial<LocalStackInfo>;
  } catch {
    return undefined; // first start, or an unreadable file: start afresh
  }
}

/** The emulator ports of the previous run, so that workers holding its endpoints reconnect. */
function previousEmulatorPorts(previous: Partial<LocalStackInfo> | undefined): EmulatorPorts {
  const portOf = (name: string): number | undefined => {
    const endpoint = previous?.env?.[name];
    if (typeof endpoint !== 'string') return undefined;
    try {
      const port = Number(new URL(endpoint).port);
      return port > 0 ? port : undefined;
    } catch {
      return undefined;
    }
  };
  return { dynamodb: portOf('AWS_ENDPOINT_URL_DYNAMODB'), s3: portOf('AWS_ENDPOINT_URL_S3'), sqs: portOf('AWS_ENDPOINT_URL_SQS') };
}

/** Written atomically (readers poll for it) and private to the user (it holds the admin token). */
function writeLocalJson(dataDir: string, info: LocalStackInfo): void {
  const target = join(dataDir, LOCAL_JSON);
  const temporary = `${target}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
  renameSync(temporary, target);
}

/**
 * Two stacks on one data dir would run two DynamoDB Local processes on one SQLite file. The lock
 * is a pid file; a stale one (its process is gone) is taken over.
 */
function lockDataDir(dataDir: string): () => void {
  const lockFile = join(dataDir, 'dev.pid');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockFile, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      // Also on a forced exit (second Ctrl-C), so the next start does not trip over it.
      const release = (): void => {
        process.off('exit', release);
        rmSync(lockFile, { force: true });
      };
      process.on('exit', release);
      return release;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(readFileSync(lockFile, 'utf8').trim());
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
        throw new Error(`another \`conveyor dev\` (pid ${owner}) is using ${dataDir}`);
      }
      rmSync(lockFile, { force: true });
    }
  }
  throw new Error(`could not lock ${dataDir}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The local-only emulator control (`/@local/emulators/...`) answers first; everything else goes on to `edge`. */
function withEmulatorControl(
  adminToken: string,
  restart: RunningLocalStack['restartEmulator'],
  edge: (req: import('node:http').IncomingMessage, method: string, url: string) => Promise<import('./http-response').HttpResponse | undefined>,
) {
  const { emulatorControl } = require('./restarts') as typeof import('./restarts');
  const control = emulatorControl(adminToken, restart);
  return async (req: import('node:http').IncomingMessage, method: string, url: string) => (await control(req, method, url)) ?? edge(req, method, url);
}

/**
 * CloudFront's behaviour for Debusine's ranged uploads (cli/dev/debusine-range-edge.ts): ranges go to
 * the S3 emulator, and S3's notification (which s3rver does not send) to the `debusine-ranges` queue.
 */
function localRangeEdge(deps: Deps, sqs: import('@aws-sdk/client-sqs').SQSClient, queueUrl: string | undefined) {
  const { createRangeEdge } = require('./debusine-range-edge') as typeof import('./debusine-range-edge');
  const { SendMessageCommand } = require('@aws-sdk/client-sqs') as typeof import('@aws-sdk/client-sqs');
  const edge = createRangeEdge({
    putObject: (key, body, metadata) => deps.files.put(key, body, undefined, metadata),
    async notify(key) {
      if (!queueUrl) throw new Error('the debusine-ranges queue is not provisioned');
      const notification = { Records: [{ eventSource: 'aws:s3', eventName: 'ObjectCreated:Put', s3: { object: { key: encodeURIComponent(key).replace(/%2F/g, '/') } } }] };
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(notification) }));
    },
  });
  return (req: import('node:http').IncomingMessage, method: string, url: string) => edge.handle(req, method, url);
}
