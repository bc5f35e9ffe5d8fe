/**
 * Work-request dispatch through the whole local stack with real `conveyor worker` processes:
 *
 * - latency: idle workers wait on their SQS queues; `noop` requests are created one at a time
 *   through the HTTP API (the next only once the previous completed and the scheduler is idle
 *   again); latency = `started_at − created_at` as the server stamped them. The path measured is
 *   the idle path: create (its offer assigns the request to an idle worker and sends to the
 *   worker's queue; no scheduler event) → worker queue → get-next.
 * - throughput: a burst of N `noop` requests, timed from the first create until all completed,
 *   with 1, 2 and 4 worker processes (concurrency 1 each).
 *
 * Completion is watched in-process with consistent reads of the items (no HTTP polling load);
 * the Lambda invocations the stack makes are counted by the InvocationRecorder.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ConveyorApi } from '../cli/client/api';
import { taskProcessSpawner } from '../cli/worker/task-process';
import type { WireWorkRequest } from '../cli/client/wire';
import { createActivationToken, disableWorker } from '../shared/app/workers';
import type { WorkRequest } from '../shared/domain/work-requests';
import { FUNCTIONS } from '../shared/manifest';
import type { Deps } from '../shared/ports';
import type { FunctionCalls, InvocationRecorder } from './invocations';
import { fmt, fmtMs } from './stats';
import { killWorkers, startWorker, stopWorker, type WorkerProcess } from './worker-pool';

export interface DispatchOptions {
  repoRoot: string;
  /** The API URL (the gateway itself, no proxy). */
  server: string;
  /** Token key of a user with the contributor role in `workspace`. */
  userToken: string;
  workspace: string;
  /** Deps of the stack itself (activation tokens, reads of the items, disabling workers at the end). */
  deps: Deps;
  actor: string;
  recorder: InvocationRecorder;
  latencyIterations: number;
  warmup: number;
  burst: number;
  /** Worker counts of the throughput runs, e.g. [1, 2, 4]. */
  workerCounts: number[];
  progress: (message: string) => void;
  /** Lets the caller kill the worker processes on Ctrl-C. */
  track: (workers: Set<WorkerProcess>) => void;
}

export interface LatencySample {
  id: number;
  /** `started_at − created_at` (server timestamps). */
  dispatchMs: number;
  /** `assigned_at − created_at`: the create's offer writes the assignment (else scheduler event → pass). */
  createdToAssignedMs: number;
  /** `started_at − assigned_at`: worker notified through its queue → get-next marks it running. */
  assignedToStartedMs: number;
  /** `completed_at − created_at` (server). */
  serverEndToEndMs: number;
  /** From the client sending POST work-request/ to it seeing the request completed. */
  clientEndToEndMs: number;
  /** The POST work-request/ round trip alone. */
  createCallMs: number;
}

export interface LatencyResult {
  workers: number;
  samples: LatencySample[];
  /** Requests left out because the scheduler's timer tick ran while they were in flight. */
  tickSamples: number;
  calls: Record<string, FunctionCalls>;
  wallMs: number;
}

export interface ThroughputResult {
  workers: number;
  requests: number;
  wallMs: number;
  perSecond: number;
  /** From the first create to the last create's answer (the 4 submitting clients share the cores with the workers). */
  submitMs: number;
  /**
   * Completions per second once every request of the burst exists: those completed after the last
   * create's answer, over the time from it to the last completion. The workers' own rate, without
   * the submission (which `perSecond` includes); NaN when nothing was left to complete by then.
   */
  afterSubmitPerSecond: number;
  /** started_at − created_at of each request of the burst (queueing included). */
  dispatchMs: number[];
  calls: Record<string, FunctionCalls>;
}

export interface DispatchResults {
  latency: LatencyResult;
  throughput: ThroughputResult[];
  /** Names of the worker processes (all disabled at the end, so that later in-process runs are alone). */
  workerNames: string[];
  workerStartMs: number[];
  /** Reference: one noop task subprocess on its own (spawn → outcome), as the worker starts it. */
  taskProcessMs: number[];
}

const POLL_MS = 20;
const MAX_TICK_SAMPLES = 10;
const BURST_POLL_MS = 100;
const COMPLETION_TIMEOUT_MS = 60_000;
/** The longest wait for a scheduling pass in flight to end. */
const SETTLE_TIMEOUT_MS = 4_000;
const HEARTBEAT_SETTLE_MS = ((FUNCTIONS.find((f) => f.name === 'heartbeat-applier')?.queue?.maxBatchingWindowSeconds ?? 5) + 0.5) * 1000;

/** The task process as the compiled worker (bin/conveyor → dist/cli.js) starts it. */
const spawnCompiledTask = taskProcessSpawner({ command: process.execPath, args: [join(__dirname, '..', 'dist', 'task-runner.js')] });

const sleep = (ms: number): Promise<void> => new Promise((resolveSleep) => setTimeout(resolveSleep, ms));
const ms = (iso: string | null | undefined): number => (iso ? Date.parse(iso) : Number.NaN);

function finished(wr: WorkRequest | undefined): boolean {
  return wr !== undefined && (wr.status === 'completed' || wr.status === 'aborted');
}

function checkSuccess(wr: WorkRequest): void {
  if (wr.status !== 'completed' || wr.result !== 'success') {
    throw new Error(`work request ${wr.id} ended ${wr.status}/${wr.result || '-'}: ${JSON.stringify(wr.outputData)}`);
  }
}

/** Completions per second after `since` (epoch ms), up to the last completion (server timestamps). */
export function completionRateAfter(done: WorkRequest[], since: number): number {
  const after = done.map((wr) => ms(wr.completedAt)).filter((t) => t > since);
  if (after.length === 0) return Number.NaN;
  return after.length / ((Math.max(...after) - since) / 1000);
}

async function waitCompleted(deps: Deps, id: number): Promise<WorkRequest> {
  const started = performance.now();
  for (;;) {
    const wr = await deps.workRequests.get(id);
    if (finished(wr)) return wr!;
    if (performance.now() - started > COMPLETION_TIMEOUT_MS) throw new Error(`work request ${id} not completed within ${COMPLETION_TIMEOUT_MS / 1000} s (${wr?.status})`);
    await sleep(POLL_MS);
  }
}

/**
 * Waits until no queue-triggered scheduling pass is running, so the next request finds an idle
 * system (a worker's completion sends no scheduler event: the worker pulls its next request).
 */
async function settle(recorder: InvocationRecorder): Promise<void> {
  const deadline = performance.now() + SETTLE_TIMEOUT_MS;
  while (recorder.started('scheduler:sqs') > recorder.finished('scheduler:sqs') && performance.now() < deadline) await sleep(10);
  await sleep(50);
}

export async function runDispatch(options: DispatchOptions): Promise<DispatchResults> {
  const { deps, recorder, progress } = options;
  const api = new ConveyorApi({ server: options.server, token: options.userToken });
  const tmp = mkdtempSync(join(tmpdir(), 'conveyor-bench-workers-'));
  const running = new Set<WorkerProcess>();
  const everyName: string[] = [];
  const workerStartMs: number[] = [];
  options.track(running);
  let seq = 0;

  const addWorker = async (): Promise<void> => {
    const { key } = await createActivationToken(deps, options.actor);
    const t = performance.now();
    const worker = await startWorker({
      repoRoot: options.repoRoot,
      server: options.server,
      fqdn: `bench-worker-${++seq}.bench.local`,
      activationToken: key,
      dir: tmp,
      concurrency: 1,
    });
    workerStartMs.push(performance.now() - t);
    running.add(worker);
    everyName.push(worker.name);
  };
  const setWorkers = async (n: number): Promise<void> => {
    while (running.size < n) await addWorker();
    while (running.size > n) {
      const last = [...running].pop()!;
      running.delete(last);
      const code = await stopWorker(last);
      if (code !== 0) progress(`worker ${last.name} exited with ${code}; last output:\n${last.tail.slice(-5).join('\n')}`);
    }
    await sleep(200);
  };
  const create = async (): Promise<WireWorkRequest> => api.createWorkRequest({ task_name: 'noop', task_data: {}, workspace: options.workspace });

  try {
    const taskProcessMs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const dir = join(tmp, `task-${i}`);
      mkdirSync(dir, { recursive: true });
      const t = performance.now();
      const handle = await spawnCompiledTask(
        { workRequest: { id: 0, task_name: 'noop', task_data: {} }, dir, server: options.server, token: 'unused' },
        () => undefined,
      );
      const exit = await handle.done;
      if (exit.outcome?.result !== 'success') throw new Error(`the noop task subprocess failed: ${JSON.stringify(exit)}`);
      taskProcessMs.push(performance.now() - t);
    }

    // ------------------------------------------------------------ latency, 2 idle workers
    await setWorkers(2);
    progress(`2 worker processes ready (${workerStartMs.map((t) => fmtMs(t)).join(', ')} from spawn to "ready")`);
    for (let i = 0; i < options.warmup; i++) {
      const wr = await create();
      checkSuccess(await waitCompleted(deps, wr.id));
      await settle(recorder);
    }
    recorder.reset();
    const samples: LatencySample[] = [];
    let tickSamples = 0;
    const latencyStarted = performance.now();
    while (samples.length < options.latencyIterations) {
      const ticks = recorder.started('scheduler:schedule');
      const t0 = performance.now();
      const created = await create();
      const tCreated = performance.now();
      const done = await waitCompleted(deps, created.id);
      const tDone = performance.now();
      checkSuccess(done);
      await settle(recorder);
      if (recorder.started('scheduler:schedule') !== ticks && tickSamples < MAX_TICK_SAMPLES) {
        // The 1-minute timer pass ran meanwhile and may have made the assignment: not the event path.
        tickSamples += 1;
        continue;
      }
      samples.push({
        id: created.id,
        dispatchMs: ms(done.startedAt) - ms(done.createdAt),
        createdToAssignedMs: ms(done.assignedAt) - ms(done.createdAt),
        assignedToStartedMs: ms(done.startedAt) - ms(done.assignedAt),
        serverEndToEndMs: ms(done.completedAt) - ms(done.createdAt),
        clientEndToEndMs: tDone - t0,
        createCallMs: tCreated - t0,
      });
      const i = samples.length;
      if (options.latencyIterations >= 10 && i % Math.ceil(options.latencyIterations / 4) === 0) {
        progress(`dispatch latency: ${i}/${options.latencyIterations}`);
      }
    }
    const latencyWallMs = performance.now() - latencyStarted;
    // The heartbeat-applier's event source holds its batch open for 5 s: let the last heartbeats be applied.
    await sleep(HEARTBEAT_SETTLE_MS);
    const latency: LatencyResult = { workers: 2, samples, calls: recorder.take(), wallMs: latencyWallMs, tickSamples };
    // The API's own view of the last request (server timestamps as clients see them).
    const last = samples[samples.length - 1];
    if (last) {
      const wire = await api.getWorkRequest(last.id);
      const apiDispatch = ms(wire.started_at) - ms(wire.created_at);
      if (Math.abs(apiDispatch - last.dispatchMs) > 1) throw new Error(`API timestamps disagree with the item: ${apiDispatch} vs ${last.dispatchMs} ms`);
    }

    // ------------------------------------------------------------ throughput
    const throughput: ThroughputResult[] = [];
    const order = [...options.workerCounts].sort((a, b) => a - b);
    // 2 are running: go up first, then down to 1, to start as few processes as possible.
    const runOrder = [...order.filter((n) => n >= running.size), ...order.filter((n) => n < running.size).reverse()];
    for (const n of runOrder) {
      await setWorkers(n);
      await settle(recorder);
      recorder.reset();
      const started = performance.now();
      const ids: number[] = [];
      let next = 0;
      const submitter = async (): Promise<void> => {
        while (next < options.burst) {
          next++;
          ids.push((await create()).id);
        }
      };
      await Promise.all(Array.from({ length: Math.min(4, options.burst) }, submitter));
      const submitMs = performance.now() - started;
      const submittedAt = Date.now();
      let open = [...ids];
      const done: WorkRequest[] = [];
      while (open.length > 0) {
        await sleep(BURST_POLL_MS);
        const current = await deps.workRequests.getMany(open);
        for (const wr of current) if (finished(wr)) done.push(wr);
        open = current.filter((wr) => !finished(wr)).map((wr) => wr.id);
        if (performance.now() - started > COMPLETION_TIMEOUT_MS * 4) throw new Error(`burst with ${n} workers: ${open.length} requests still open`);
      }
      const wallMs = performance.now() - started;
      done.forEach(checkSuccess);
      await settle(recorder);
      const result: ThroughputResult = {
        workers: n,
        requests: ids.length,
        wallMs,
        perSecond: ids.length / (wallMs / 1000),
        submitMs,
        afterSubmitPerSecond: completionRateAfter(done, submittedAt),
        dispatchMs: done.map((wr) => ms(wr.startedAt) - ms(wr.createdAt)),
        calls: recorder.take(),
      };
      throughput.push(result);
      progress(`${n} worker(s): ${ids.length} noop requests in ${fmtMs(wallMs)} = ${fmt(result.perSecond, 2)} requests/s`);
    }
    throughput.sort((a, b) => a.workers - b.workers);
    await setWorkers(0);
    // In-process measurements come next: no worker of this phase may take their requests.
    for (const name of everyName) await disableWorker(deps, options.actor, name);
    return { latency, throughput, workerNames: everyName, workerStartMs, taskProcessMs };
  } finally {
    killWorkers(running);
    rmSync(tmp, { recursive: true, force: true });
  }
}
