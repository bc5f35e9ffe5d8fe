/**
 * The worker process (Debusine's worker lifecycle, reference/debusine.md §2, with Launchpad's
 * heartbeating monitor, reference/launchpad_reana.md §A.7):
 *
 * 1. Token: read from the token file, or generate one and register it (POST worker/register/,
 *    with an activation token in `Token` when one is given).
 * 2. Hello: PUT worker/dynamic-metadata/ until the server accepts the token (401 while the worker
 *    is disabled, with backoff); re-sent every few minutes as a keep-alive.
 * 3. Dispatch: long-poll the worker's own SQS queue (GET worker/queue/). At start and on every
 *    `work_request_available` message, ask GET work-request/get-next-for-worker/ while a slot is
 *    free. `abort` messages kill the task without reporting. The API is never polled for work.
 * 4. Run: each request runs in a task subprocess in a fresh directory; the worker keeps the last
 *    five log lines and POSTs them as a heartbeat every interval (a 409 means the request was
 *    taken away: the task is killed and not reported).
 * 5. Report: PUT work-request/<id>/completed/?next=1 with the result and runtime statistics, retried
 *    on network and server errors; a worker that cannot report exits non-zero (the server retries
 *    the request when the worker comes back and asks for work). The same round trip pulls the next
 *    request (issue 12): it runs at once; with none, the worker waits on its queue; only when the
 *    pull failed (or the answer is not known) does it ask get-next.
 * 6. Stop (SIGTERM/SIGINT): no new work, running tasks get a grace period, then POST
 *    worker/disconnect/ and exit 0.
 */
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiError, ConveyorApi, NetworkError, type FetchFn } from '../client/api';
import type { WireWorkRequest, WorkRequestCompletion } from '../client/wire';
import { LogTail } from './lines';
import { errorMessage, type WorkerLog } from './log';
import { errorOutcome } from './protocol';
import { parseWorkerMessage, type QueueMessage, type WorkerQueue } from './queue';
import type { SpawnTask, TaskExit, TaskHandle } from './task-process';
import { readTokenFile, writeTokenFile } from './token-file';
import { Backoff } from './backoff';
import { settlesWithin } from '../settles-within';

export interface WorkerSettings {
  server: string;
  scope?: string;
  fqdn: string;
  tokenFile: string;
  activationToken?: string;
  /** Tasks run at once. */
  concurrency: number;
  heartbeatIntervalMs: number;
  /** How often the dynamic metadata is sent again (the server counts a worker unseen for 15 minutes as gone). */
  keepAliveIntervalMs: number;
  /** On SIGTERM/SIGINT, how long running tasks may go on before they are killed. */
  graceMs: number;
  /** Between SIGTERM and SIGKILL when a task is stopped. */
  killTimeoutMs: number;
  /** Each request gets a fresh directory under this one. */
  workRoot: string;
  /** `--tasks`: the only tasks this worker runs. */
  onlyTasks?: string[];
  /** `--task-user`: tasks run as this user (their directory is given to it). */
  taskUser?: { uid: number; gid: number };
  /**
   * Attempts at reporting a completion before the worker gives up and exits, once the retry window
   * below has passed or the worker is stopping.
   */
  completionAttempts: number;
  /**
   * How long a completion is retried while the server is unreachable or answers 5xx (a restarted
   * stack: finding 8), the pause doubling up to `backoffMaxMs`. Longer than the watchdog's default
   * staleness limit (300 s): by then the server has reclaimed the request, and answers 409.
   */
  completionRetryWindowMs: number;
  /** First pause between completion attempts (doubling). */
  completionRetryMs: number;
  /** Pauses while waiting to be enabled or for the server or queue to come back (doubling up to the max). */
  backoffInitialMs: number;
  backoffMaxMs: number;
}

export const DEFAULT_WORKER_TIMINGS = {
  concurrency: 1,
  heartbeatIntervalMs: 30_000,
  keepAliveIntervalMs: 5 * 60_000,
  graceMs: 60_000,
  killTimeoutMs: 10_000,
  completionAttempts: 5,
  completionRetryWindowMs: 10 * 60_000,
  completionRetryMs: 2_000,
  backoffInitialMs: 5_000,
  backoffMaxMs: 60_000,
} satisfies Partial<WorkerSettings>;

/** The machine facts that go into each completion's runtime statistics. */
export interface MachineStats {
  cpuCount(): number;
  availableMemory(): number;
  freeDisk(dir: string): Promise<number>;
}

export interface WorkerDeps {
  fetch: FetchFn;
  log: WorkerLog;
  spawnTask: SpawnTask;
  collectMetadata(): Promise<Record<string, unknown>>;
  machine: MachineStats;
  generateKey(): string;
  /** The worker's queue; by default the SQS queue named by GET worker/queue/. */
  openQueue?(api: ConveyorApi): WorkerQueue;
  /** Whether a task calls the server (and so needs a task token); absent: every task does. */
  taskUsesServer?(taskName: string): boolean;
  /** Warm task processes behind `spawnTask` (cli/worker/spare-tasks.ts): started once the worker is ready, killed when it stops. */
  spareTasks?: { warm(): void; close(): void };
}

interface RunningTask {
  workRequest: WireWorkRequest;
  tail: LogTail;
  handle?: TaskHandle;
  /** Why the task is being stopped; a stopped task is never reported (the server already moved on). */
  cancelled?: string;
  exited: boolean;
  heartbeatTimer?: NodeJS.Timeout;
  heartbeatInFlight: boolean;
  killTimer?: NodeJS.Timeout;
  done: Promise<void>;
  /** What the completion said comes next: the request it pulled, or whether get-next must be asked. */
  after?: AfterCompletion;
}

/** The next request a completion pulled (already running here), or whether the worker must ask get-next. */
export interface AfterCompletion {
  next?: WireWorkRequest;
  askGetNext: boolean;
}

export interface RuntimeFacts {
  durationMs: number;
  cpuCount: number;
  availableMemory: number;
  availableDisk?: number;
}

/**
 * The body of PUT work-request/<id>/completed/: the task's own outcome when it wrote one,
 * else `error` with an `execute-failed` code saying how the task process ended.
 */
export function completionFor(exit: TaskExit, facts: RuntimeFacts, lastLines: string[] = []): WorkRequestCompletion {
  const usage = exit.outcome?.resource_usage;
  const runtime_statistics: Record<string, number> = {
    duration: Math.round(facts.durationMs / 1000),
    ...(usage ? { cpu_time: Math.round(usage.cpu_time), memory: Math.round(usage.memory) } : {}),
    cpu_count: facts.cpuCount,
    available_memory: facts.availableMemory,
    ...(facts.availableDisk !== undefined ? { available_disk: facts.availableDisk } : {}),
  };
  if (exit.outcome) {
    return { result: exit.outcome.result, output_data: { ...(exit.outcome.output_data ?? {}), runtime_statistics } };
  }
  let why: string;
  if (exit.spawnError !== undefined) why = `cannot start the task process: ${exit.spawnError}`;
  else if (exit.signal) why = `the task process was killed by ${exit.signal}`;
  else why = `the task process exited with code ${exit.exitCode} without reporting an outcome`;
  const last = lastLines[lastLines.length - 1];
  return {
    result: 'error',
    output_data: { runtime_statistics, errors: [{ code: 'execute-failed', message: last ? `${why}; last output: ${last}` : why }] },
  };
}

/** Rejects when the promise takes longer than `ms`. */
async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${Math.round(ms / 1000)}s`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const plainSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
/** How many started request ids a worker remembers (for queue messages that arrive after the request was handed over). */
const STARTED_REMEMBERED = 256;

/** Errors worth retrying: no answer at all, a server error or throttling. */
function transient(err: unknown): boolean {
  if (err instanceof NetworkError) return true;
  return err instanceof ApiError && (err.status >= 500 || err.status === 429);
}

export class ConveyorWorker {
  private api: ConveyorApi | undefined;
  private queue: WorkerQueue | undefined;
  private readonly running = new Map<number, RunningTask>();
  private readonly stopController = new AbortController();
  private stopping = false;
  private announced = false;
  private exitCode = 0;
  private filling: Promise<boolean> | undefined;
  private refillRequested = false;
  /** A get-next failed: the next freed slot asks it again even if the completion handed over nothing. */
  private offerWhileFull = false;
  /**
   * Requests announced by work_request_available messages consumed while every slot was busy: assigned
   * here but not fetched, and a completion's pull may have run before that assignment, so the next freed
   * slot asks get-next even if the completion handed over nothing. One a completion does hand over (a
   * create's offer filled the slot while the completion was pulling) is fetched: no get-next for it.
   */
  private readonly announcedWhileFull = new Set<number>();
  /**
   * Requests started here lately (oldest first, at most STARTED_REMEMBERED): a work_request_available
   * message for one of them announces what a completion's pull already handed over (the create's offer
   * assigned it to this worker's freed slot while the completion was pulling), so it asks no get-next.
   */
  private readonly startedHere = new Set<number>();
  private keepAliveTimer: NodeJS.Timeout | undefined;
  private readonly allowedTasks: Set<string> | undefined;

  constructor(
    private readonly settings: WorkerSettings,
    private readonly deps: WorkerDeps,
  ) {
    if (!Number.isInteger(settings.concurrency) || settings.concurrency < 1) throw new Error('concurrency must be a positive whole number');
    this.allowedTasks = settings.onlyTasks ? new Set(settings.onlyTasks) : undefined;
  }

  /** Ids of the requests this worker holds (running, or finished and not yet reported). */
  runningIds(): number[] {
    return [...this.running.keys()];
  }

  /** First SIGTERM/SIGINT: take no new work, let running tasks finish within the grace period. */
  requestStop(): void {
    if (this.stopping) return;
    this.stopping = true;
    const n = this.running.size;
    this.deps.log(`stopping: no new work${n ? `; ${n} task(s) may run for up to ${Math.round(this.settings.graceMs / 1000)}s more` : ''}`);
    this.stopController.abort();
  }

  /** Second signal: kill every task at once (the caller exits the process). */
  forceStop(): void {
    this.requestStop();
    for (const entry of this.running.values()) {
      entry.cancelled ??= 'killed: the worker was told to stop at once';
      entry.handle?.kill('SIGKILL');
    }
  }

  /** Runs until stopped; resolves to the process exit code. */
  async run(): Promise<number> {
    const { log } = this.deps;
    await mkdir(this.settings.workRoot, { recursive: true });
    if (this.settings.taskUser) {
      // The task user must reach its own directory, and list no other.
      await chmod(this.settings.workRoot, 0o711);
    } else if (process.getuid?.() === 0) {
      log('warning: running as root without --task-user: tasks run as root too');
    }
    const key = await this.obtainToken();
    if (key === undefined) return this.shutdown();
    const api = new ConveyorApi({ server: this.settings.server, token: key, scope: this.settings.scope }, this.deps.fetch);
    this.api = api;
    if (!(await this.announce(api))) return this.shutdown();
    this.queue = await this.openQueue(api);
    if (!this.queue) return this.shutdown();
    this.keepAliveTimer = setInterval(() => void this.keepAlive(api), this.settings.keepAliveIntervalMs);
    log(`ready on ${this.settings.server}: up to ${this.settings.concurrency} task(s) at once, waiting for work`);
    this.deps.spareTasks?.warm();
    // Requests may have been assigned while the worker was away: their messages may be gone.
    await this.fillSlots();
    await this.pollQueue(this.queue);
    return this.shutdown();
  }

  // ---- Startup ----

  private async obtainToken(): Promise<string | undefined> {
    const { log } = this.deps;
    const existing = await readTokenFile(this.settings.tokenFile);
    if (existing) {
      log(`using the worker token in ${this.settings.tokenFile}`);
      return existing;
    }
    const key = this.deps.generateKey();
    const registrar = new ConveyorApi({ server: this.settings.server, token: this.settings.activationToken, scope: this.settings.scope }, this.deps.fetch);
    const backoff = this.backoff();
    while (!this.stopping) {
      try {
        const registered = await registrar.registerWorker({
          token: key,
          fqdn: this.settings.fqdn,
          worker_type: 'external',
          concurrency: this.settings.concurrency,
        });
        await writeTokenFile(this.settings.tokenFile, key);
        log(
          registered.enabled
            ? `registered as ${registered.name} (enabled); token saved in ${this.settings.tokenFile}`
            : `registered as ${registered.name}; waiting to be enabled (an administrator runs: conveyor admin worker enable ${registered.name} --fingerprint ${createHash('sha256').update(key).digest('hex').slice(0, 16)})`,
        );
        return key;
      } catch (err) {
        if (!transient(err)) throw new Error(`The server refused to register this worker: ${errorMessage(err)}`);
        log(`cannot register yet (${errorMessage(err)}); retrying in ${backoff.nextSeconds}s`);
        await backoff.wait();
      }
    }
    return undefined;
  }

  /** PUTs the dynamic metadata until the server accepts the token (403, or 401 from older servers, while disabled). */
  private async announce(api: ConveyorApi): Promise<boolean> {
    const { log } = this.deps;
    const backoff = this.backoff();
    let toldDisabled = false;
    while (!this.stopping) {
      try {
        await api.putDynamicMetadata(await this.deps.collectMetadata());
        if (toldDisabled) log('enabled: the server accepts the worker token now');
        this.announced = true;
        return true;
      } catch (err) {
        if (err instanceof ApiError && tokenRefused(err.status)) {
          if (!toldDisabled) log(`the server does not accept this worker's token yet (${err.message}); waiting to be enabled`);
          toldDisabled = true;
        } else if (transient(err)) {
          log(`cannot reach the server (${errorMessage(err)}); retrying in ${backoff.nextSeconds}s`);
        } else {
          throw err;
        }
        await backoff.wait();
      }
    }
    return false;
  }

  private async openQueue(api: ConveyorApi): Promise<WorkerQueue | undefined> {
    if (this.deps.openQueue) return this.deps.openQueue(api);
    const { SqsWorkerQueue } = await import('./sqs-queue');
    return new SqsWorkerQueue(() => api.workerQueue());
  }

  private async keepAlive(api: ConveyorApi): Promise<void> {
    try {
      await api.putDynamicMetadata(await this.deps.collectMetadata());
    } catch (err) {
      const disabled = err instanceof ApiError && tokenRefused(err.status);
      this.deps.log(`keep-alive failed: ${errorMessage(err)}${disabled ? ' (has the worker been disabled?)' : ''}`);
    }
  }

  private backoff(): Backoff {
    return new Backoff(this.settings.backoffInitialMs, this.settings.backoffMaxMs, (ms) => this.pause(ms));
  }

  /** Waits, but wakes up when the worker is told to stop. */
  private pause(ms: number): Promise<void> {
    const signal = this.stopController.signal;
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  // ---- Dispatch ----

  private async pollQueue(queue: WorkerQueue): Promise<void> {
    const backoff = this.backoff();
    let lostContact = false;
    while (!this.stopping) {
      let messages: QueueMessage[];
      try {
        messages = await queue.receive(this.stopController.signal);
        backoff.reset();
      } catch (err) {
        if (this.stopping) break;
        lostContact = true;
        this.deps.log(`cannot read the work queue (${errorMessage(err)}); retrying in ${backoff.nextSeconds}s`);
        await backoff.wait();
        continue;
      }
      if (lostContact) {
        // Messages sent while the queue was unreachable (or before it was re-created) are lost:
        // ask the server for what is assigned to this worker (finding 8).
        lostContact = false;
        this.deps.log('the work queue is reachable again; asking the server for assigned work');
        await this.fillSlots();
      }
      for (const message of messages) await this.handleMessage(queue, message);
    }
  }

  private async handleMessage(queue: WorkerQueue, message: QueueMessage): Promise<void> {
    const parsed = parseWorkerMessage(message.body);
    let handled = true;
    if (!parsed) {
      this.deps.log(`ignoring a queue message this worker does not understand: ${message.body.slice(0, 200)}`);
    } else if (parsed.type === 'abort') {
      this.abortTask(parsed.workRequestId);
    } else if (this.stopping) {
      handled = false; // left in the queue; the next start fetches the work anyway
    } else if (this.startedHere.has(parsed.workRequestId)) {
      // Already started here: nothing is left to fetch.
    } else {
      if (this.running.size >= this.settings.concurrency) this.announcedWhileFull.add(parsed.workRequestId);
      // Kept in the queue when get-next failed: it comes back after the visibility timeout.
      handled = await this.fillSlots();
    }
    if (handled) {
      await queue.delete(message).catch((err: unknown) => this.deps.log(`cannot delete a queue message: ${errorMessage(err)}`));
    }
  }

  /** Asks for assigned work while a slot is free. Resolves false when the server could not be asked. */
  fillSlots(): Promise<boolean> {
    if (this.filling) {
      this.refillRequested = true;
      return this.filling;
    }
    this.filling = (async () => {
      let ok: boolean;
      do {
        this.refillRequested = false;
        ok = await this.fillOnce();
      } while (ok && this.refillRequested && !this.stopping);
      return ok;
    })().finally(() => {
      this.filling = undefined;
    });
    return this.filling;
  }

  private async fillOnce(): Promise<boolean> {
    const api = this.api;
    if (!api) return false;
    while (!this.stopping) {
      // Full: the next get-next goes out when a task ends.
      if (this.running.size >= this.settings.concurrency) return true;
      let next: WireWorkRequest | undefined;
      this.offerWhileFull = false;
      this.announcedWhileFull.clear(); // get-next fetches whatever is assigned here
      try {
        next = await api.getNextWorkRequest(this.runningIds());
      } catch (err) {
        this.deps.log(`cannot fetch assigned work: ${errorMessage(err)}`);
        this.offerWhileFull = true; // still not fetched: ask again when a slot next frees
        return false;
      }
      if (!next) return true;
      if (this.running.has(next.id)) {
        this.deps.log(`the server handed out work request ${next.id} again while it is running here; ignoring it`);
        return true;
      }
      this.startTask(next);
    }
    return true;
  }

  private abortTask(id: number): void {
    const entry = this.running.get(id);
    if (!entry) {
      this.deps.log(`abort for work request ${id}, which is not running here`);
      return;
    }
    this.cancel(entry, 'aborted on the server');
  }

  // ---- Running a task ----

  private startTask(workRequest: WireWorkRequest): void {
    const entry: RunningTask = { workRequest, tail: new LogTail(5), exited: false, heartbeatInFlight: false, done: Promise.resolve() };
    this.running.set(workRequest.id, entry);
    this.startedHere.add(workRequest.id);
    this.announcedWhileFull.delete(workRequest.id);
    if (this.startedHere.size > STARTED_REMEMBERED) this.startedHere.delete(this.startedHere.values().next().value!);
    this.deps.log(`work request ${workRequest.id}: starting ${workRequest.task_name}`);
    entry.done = this.runTask(entry)
      .catch((err: unknown) => this.deps.log(`work request ${workRequest.id}: ${errorMessage(err)}`))
      .finally(() => {
        this.running.delete(workRequest.id);
        // The completion pulled the next request in its own round trip (the server sends no
        // scheduling pass for a worker's completion): it runs now, without a get-next. A request
        // pulled while the worker began to stop runs too (within the grace period): it is running
        // on the server already. Without an answer to rely on, the freed slot is refilled by get-next.
        const after = entry.after ?? { askGetNext: true };
        if (after.next && !this.running.has(after.next.id)) this.startTask(after.next);
        if ((after.askGetNext || this.offerWhileFull || this.announcedWhileFull.size > 0) && !this.stopping) void this.fillSlots();
      });
  }

  private async runTask(entry: RunningTask): Promise<void> {
    const { workRequest } = entry;
    const id = workRequest.id;
    const started = Date.now();
    let dir: string;
    try {
      dir = await mkdtemp(join(this.settings.workRoot, `wr-${id}-`));
    } catch (err) {
      const exit: TaskExit = { outcome: errorOutcome('setup-failed', `cannot create a working directory: ${errorMessage(err)}`), exitCode: null, signal: null };
      entry.after = await this.report(id, completionFor(exit, { durationMs: 0, cpuCount: this.deps.machine.cpuCount(), availableMemory: this.deps.machine.availableMemory() }));
      return;
    }
    try {
      const availableMemory = this.deps.machine.availableMemory();
      const availableDisk = await this.deps.machine.freeDisk(dir).catch(() => undefined);
      let exit: TaskExit;
      if (this.allowedTasks && !this.allowedTasks.has(workRequest.task_name)) {
        exit = { outcome: errorOutcome('configure-failed', `this worker only runs ${[...this.allowedTasks].join(', ')}`), exitCode: 0, signal: null };
      } else {
        try {
          // The task gets a token for this request only, never the worker's own (finding 4); asked
          // again through a server outage, so that a restarting stack does not fail the request.
          // A task that never calls the server (noop, sleep) gets none: one API request less per task.
          let taskToken = '';
          if (this.deps.taskUsesServer?.(workRequest.task_name) ?? true) {
            const issued = await this.throughOutage(() => this.api!.taskToken(id), `work request ${id}: cannot get its task token`, () => Boolean(entry.cancelled));
            if (!issued.ok) throw issued.error;
            taskToken = issued.value.token;
          }
          const handle = await this.deps.spawnTask(
            {
              workRequest,
              dir,
              server: this.settings.server,
              token: taskToken,
              scope: this.settings.scope,
              ...(this.settings.taskUser ? { runAs: this.settings.taskUser } : {}),
            },
            (line) => {
              entry.tail.push(line);
              this.deps.log(`[${id}] ${line}`);
            },
          );
          entry.handle = handle;
          if (entry.cancelled) this.terminate(entry);
          this.startHeartbeat(entry);
          exit = await handle.done;
        } catch (err) {
          exit = { outcome: errorOutcome('setup-failed', `cannot start the task: ${errorMessage(err)}`), exitCode: null, signal: null };
        }
      }
      entry.exited = true;
      this.stopTimers(entry);
      if (entry.cancelled) {
        this.deps.log(`work request ${id}: stopped (${entry.cancelled}); not reporting it`);
        return;
      }
      const completion = completionFor(
        exit,
        { durationMs: Date.now() - started, cpuCount: this.deps.machine.cpuCount(), availableMemory, availableDisk },
        entry.tail.lines(),
      );
      entry.after = await this.report(id, completion);
    } finally {
      entry.exited = true;
      this.stopTimers(entry);
      await rm(dir, { recursive: true, force: true }).catch((err: unknown) => this.deps.log(`cannot remove ${dir}: ${errorMessage(err)}`));
    }
  }

  private startHeartbeat(entry: RunningTask): void {
    const beat = async (): Promise<void> => {
      if (entry.cancelled || entry.exited || entry.heartbeatInFlight || !this.api) return;
      entry.heartbeatInFlight = true;
      try {
        await this.api.heartbeat(entry.workRequest.id, entry.tail.lines());
      } catch (err) {
        if (err instanceof ApiError && (err.status === 409 || tokenRefused(err.status))) {
          // 409: reclaimed or aborted; 403 (401 before): the worker was disabled (which takes its work away).
          this.cancel(entry, `the server no longer has it running on this worker (${err.status} on heartbeat)`);
        } else {
          this.deps.log(`work request ${entry.workRequest.id}: heartbeat failed: ${errorMessage(err)}`);
        }
      } finally {
        entry.heartbeatInFlight = false;
      }
    };
    // get-next recorded the start as the first heartbeat: a task that ends within one interval
    // sends none at all.
    entry.heartbeatTimer = setInterval(() => void beat(), this.settings.heartbeatIntervalMs);
  }

  private stopTimers(entry: RunningTask): void {
    if (entry.heartbeatTimer) clearInterval(entry.heartbeatTimer);
    if (entry.killTimer) clearTimeout(entry.killTimer);
    entry.heartbeatTimer = undefined;
    entry.killTimer = undefined;
  }

  /** Stops a task for good: it will not be reported. */
  private cancel(entry: RunningTask, reason: string): void {
    if (entry.cancelled) return;
    entry.cancelled = reason;
    this.deps.log(`work request ${entry.workRequest.id}: ${reason}; stopping the task`);
    this.terminate(entry);
  }

  /** SIGTERM now, SIGKILL if the task is still there after the kill timeout. */
  private terminate(entry: RunningTask): void {
    if (!entry.handle || entry.exited) return;
    entry.handle.kill('SIGTERM');
    entry.killTimer ??= setTimeout(() => {
      if (!entry.exited) entry.handle?.kill('SIGKILL');
    }, this.settings.killTimeoutMs);
  }

  /**
   * Reports a result; unless the worker is stopping, the same round trip pulls the next request
   * (`?next=1`, issue 12: no second get-next). Says what comes next.
   */
  private async report(id: number, completion: WorkRequestCompletion): Promise<AfterCompletion> {
    const api = this.api!;
    const pull = !this.stopping;
    // Not cut short by a stop: the result is reported before the worker exits.
    const outcome = await this.throughOutage(
      async (): Promise<AfterCompletion> => (pull ? api.completeAndPullNext(id, completion) : api.completeWorkRequest(id, completion).then(() => ({ askGetNext: false }))),
      `work request ${id}: cannot report the result`,
    );
    if (outcome.ok) {
      const { next } = outcome.value;
      this.deps.log(`work request ${id}: completed, ${completion.result}${next ? `; the completion handed over work request ${next.id}` : ''}`);
      return outcome.value;
    }
    if (!transient(outcome.error)) {
      // 409: no longer running (reclaimed, aborted); 401: assigned to another worker now.
      this.deps.log(`work request ${id}: the server did not take the result (${errorMessage(outcome.error)}); moving on`);
      return { askGetNext: true };
    }
    this.fatal(`cannot report work request ${id} after ${outcome.attempts} attempts (${errorMessage(outcome.error)})`);
    return { askGetNext: false };
  }

  /**
   * Calls the server until it answers, through an outage (unreachable, 5xx, 429: a restarted stack,
   * finding 8): for `completionRetryWindowMs`, the pause doubling up to `backoffMaxMs`; then, or once
   * the worker is stopping or `abandon()` says so, it gives up after `completionAttempts`. A refusal
   * that is not transient ends it at once.
   */
  private async throughOutage<T>(
    call: () => Promise<T>,
    failing: string,
    abandon: () => boolean = () => false,
  ): Promise<{ ok: true; value: T } | { ok: false; error: unknown; attempts: number }> {
    const backoff = new Backoff(this.settings.completionRetryMs, this.settings.backoffMaxMs, plainSleep);
    const giveUpAfter = Date.now() + this.settings.completionRetryWindowMs;
    for (let attempt = 1; ; attempt += 1) {
      try {
        return { ok: true, value: await call() };
      } catch (error) {
        const exhausted = attempt >= this.settings.completionAttempts && (this.stopping || abandon() || Date.now() >= giveUpAfter);
        if (!transient(error) || exhausted) return { ok: false, error, attempts: attempt };
        this.deps.log(`${failing} (${errorMessage(error)}); retrying in ${backoff.nextSeconds}s`);
        await backoff.wait();
      }
    }
  }

  /** The worker cannot go on (Debusine: a worker that cannot report exits; the server retries the work). */
  private fatal(message: string): void {
    this.deps.log(`${message}: stopping the worker`);
    this.exitCode = 1;
    this.requestStop();
    for (const entry of this.running.values()) this.cancel(entry, 'the worker is exiting after a fatal error');
  }

  // ---- Shutdown ----

  private async shutdown(): Promise<number> {
    const { log } = this.deps;
    if (this.keepAliveTimer) clearInterval(this.keepAliveTimer);
    // No new task takes a spare from now on (a request handed over while stopping gets a fresh process).
    this.deps.spareTasks?.close();
    // A get-next in flight may still hand this worker a request: it runs (within the grace period).
    if (this.filling) await this.filling;
    // Again while tasks remain: a completion in flight may still hand over a request that runs too.
    const graceEnds = Date.now() + (this.exitCode === 0 ? this.settings.graceMs : 0);
    for (let waiting = [...this.running.values()]; waiting.length; waiting = [...this.running.values()]) {
      const all = Promise.allSettled(waiting.map((e) => e.done));
      if (!(await settlesWithin(all, Math.max(0, graceEnds - Date.now())))) {
        for (const entry of this.running.values()) this.cancel(entry, 'still running at the end of the grace period; the server will hand it out again');
        await all;
      }
    }
    this.queue?.close?.();
    if (this.announced && this.api) {
      try {
        await withTimeout(this.api.disconnectWorker(), 10_000);
        log('disconnected');
      } catch (err) {
        log(`cannot say goodbye to the server: ${errorMessage(err)}`);
      }
    }
    log(`worker stopped${this.exitCode ? ` (exit code ${this.exitCode})` : ''}`);
    return this.exitCode;
  }
}

/** How the server refuses a disabled worker token: 403 as Debusine does (401 from older Conveyor servers). */
function tokenRefused(status: number): boolean {
  return status === 403 || status === 401;
}
