/**
 * Section 8: workflows. The orchestrator is driven directly, in-process, against the local stack's
 * DynamoDB Local: the deps' `queues` are wrapped so that orchestration messages and scheduler events
 * are captured in memory instead of sent, and the benchmark calls `orchestrate(deps, message)` on the
 * orchestration messages itself, in FIFO order (one root workflow = one message group). The local
 * stack's own orchestrator and scheduler queue therefore never see these workflows; only its
 * 1-minute timer tick could touch them (it may start a pending root workflow or assign a pending
 * child): a run it started is discarded and started again, an assignment it made is simply found by
 * get-next.
 *
 * A bench workflow, `bench-fanout`, makes `children` noop children: a chain (child i depends on
 * child i−1) or flat (no dependencies). Three kinds of run:
 *
 *   1. populate cost: start (`startWorkflow`), the scheduling pass that starts the root, then ONLY
 *      `orchestrate(populate)` is counted (counting DynamoDB client). Flat runs are aborted afterwards.
 *   2. redelivery: a whole chain run, every child started and completed by a worker loop (scheduling
 *      pass → get-next → completeWorkRequest), every orchestration message processed twice in a
 *      row, and every few messages a window of earlier ones again in shuffled order. Counted by step.
 *   3. latency: a whole chain run with the uncounted client (the counting one reads every written item
 *      back), timing completion → dependent pending and the child-finished orchestration step.
 */
import { performance } from 'node:perf_hooks';
import * as z from 'zod';
import { createToken, createUser, grantRole } from '../shared/app/admin';
import { authenticate, type Caller } from '../shared/app/auth';
import { schedule } from '../shared/app/scheduler';
import { abortWorkRequest } from '../shared/app/work-requests';
import { completeWorkRequest, getNextForWorker } from '../shared/app/workers';
import { createTemplate } from '../shared/app/workflow-templates';
import { startWorkflow } from '../shared/app/workflow-runs';
import { orchestrate } from '../shared/app/workflow-orchestration';
import { DEFAULT_SCOPE } from '../shared/domain/tenancy';
import { isFinished, type WorkRequest } from '../shared/domain/work-requests';
import type { Deps, JobQueues, OrchestrationMessage, SchedulerEvent, WorkRequestChanges, WorkRequestRepository } from '../shared/ports';
import { registerWorkflow } from '../shared/workflows';
import { emptySnapshot, sum, type TallySnapshot } from './counters';
import { drainAll, freeSlot, type InProcessBench } from './inprocess';
import { fmtMs } from './stats';
import { prng } from './prng';
import { sequentialSteps, tracedDeps } from './completion-trace';
import type { Call } from './dispatch-trace';

export const BENCH_WORKFLOW = 'bench-fanout';
const OWNER = 'bench-owner';
const TEMPLATES = { chain: 'bench-chain', flat: 'bench-flat' } as const;
/** Redelivery run: after every REPLAY_EVERY-th message, the REPLAY_WINDOW messages before it come again, shuffled. */
export const REPLAY_EVERY = 7;
export const REPLAY_WINDOW = 7;

type Shape = keyof typeof TEMPLATES;

export function registerBenchWorkflow(): void {
  registerWorkflow({
    name: BENCH_WORKFLOW,
    schema: z.strictObject({ children: z.number().int().min(1).max(1000), chain: z.boolean() }),
    async populate(ctx, data: { children: number; chain: boolean }) {
      let previous: WorkRequest | undefined;
      for (let i = 0; i < data.children; i++) {
        let child = await ctx.ensureChild({
          taskName: 'noop',
          taskData: { result: true },
          workflowData: { step: `child-${i}`, display_name: `child ${i}` },
        });
        if (data.chain && previous) child = await ctx.addDependency(child, previous);
        previous = child;
      }
    },
  });
}

/** JobQueues whose orchestration messages and scheduler events stay in memory (the rest is sent). */
export class CapturedQueues implements JobQueues {
  readonly orchestration: OrchestrationMessage[] = [];
  sent = { orchestration: 0, scheduler: 0 };

  constructor(private readonly inner: JobQueues) {}

  async enqueueOrchestration(message: OrchestrationMessage): Promise<void> {
    this.sent.orchestration += 1;
    this.orchestration.push(message);
  }

  async enqueueSchedulerEvent(_event: SchedulerEvent): Promise<void> {
    this.sent.scheduler += 1;
  }

  enqueueFileVerification(job: Parameters<JobQueues['enqueueFileVerification']>[0]): Promise<void> {
    return this.inner.enqueueFileVerification(job);
  }

  enqueueHeartbeat(heartbeat: Parameters<JobQueues['enqueueHeartbeat']>[0]): Promise<void> {
    return this.inner.enqueueHeartbeat(heartbeat);
  }

  enqueueServerTask(job: { workRequestId: number }): Promise<void> {
    return this.inner.enqueueServerTask(job);
  }

  counts(): { orchestration: number; scheduler: number } {
    return { ...this.sent };
  }
}

/** Messages sent between two `counts()`. */
function sentSince(queues: CapturedQueues, before: { orchestration: number; scheduler: number }): { orchestration: number; scheduler: number } {
  return { orchestration: queues.sent.orchestration - before.orchestration, scheduler: queues.sent.scheduler - before.scheduler };
}

/** The repository, with the time each request was first committed as pending (blocked → pending). */
function timingPending(repo: WorkRequestRepository, pendingAt: Map<number, number>): WorkRequestRepository {
  return new Proxy(repo, {
    get(target, prop, receiver) {
      if (prop === 'commit') {
        return async (changes: WorkRequestChanges): Promise<void> => {
          await target.commit(changes);
          const t = performance.now();
          for (const { workRequest } of changes.update ?? []) {
            if (workRequest.status === 'pending' && !pendingAt.has(workRequest.id)) pendingAt.set(workRequest.id, t);
          }
        };
      }
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}


function shuffle<T>(list: T[], random: () => number): T[] {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export interface PopulateCost {
  shape: Shape;
  children: number;
  dynamo: TallySnapshot;
  /** Messages the populate step sent (captured): orchestration and scheduler events. */
  sent: { orchestration: number; scheduler: number };
  /** Wall time of the counted call (the counting client reads written items back: slower than real). */
  countedMs: number;
  /** Wall time of the same populate with the uncounted client. */
  plainMs: number;
  /** Children pending and blocked right after populate. */
  pending: number;
  blocked: number;
}

export interface StepCost {
  label: string;
  calls: number;
  dynamo: TallySnapshot;
}

export interface RedeliveryRun {
  children: number;
  /** Children of the root at the end (every one, superseded included), and how many distinct steps they cover. */
  childrenAtEnd: number;
  distinctSteps: number;
  duplicates: number;
  /** Children that did not end completed/success, or that were superseded. */
  notSucceeded: number;
  rootStatus: string;
  /** Orchestration messages sent by the run itself (populate, child-finished), each processed once as a first delivery. */
  firstDeliveries: number;
  /** Deliveries beyond the first: immediate duplicates and late, shuffled ones. */
  replays: { immediate: number; late: number };
  /** Messages the replays sent themselves (would have gone to SQS). */
  sentByReplays: { orchestration: number; scheduler: number };
  /** DynamoDB of the whole run by step; `replays` is the extra caused by redelivery. */
  steps: StepCost[];
  firstDeliveryTotal: TallySnapshot;
  replayTotal: TallySnapshot;
  /** Counted per kind of message for the replays. */
  replayByKind: Record<string, { calls: number; dynamo: TallySnapshot }>;
}

export interface LatencySample {
  /** completeWorkRequest (finish, release the slot, unblock dependents, enqueue), start to return. */
  completionMs: number;
  /** Completion start → the dependent's blocked → pending commit acknowledged. */
  toPendingMs: number;
  /** orchestrate(child-finished) of the completed child, first delivery. */
  childFinishedMs: number;
  /** The scheduling pass that then assigned the dependent (the next hop; not part of the latency). */
  nextPassMs: number;
  /** Whether the dependent was already pending when completeWorkRequest returned. */
  pendingBeforeReturn: boolean;
  /** The AWS requests from completion start to the dependent's pending write, in sequential steps (bench/completion-trace.ts). */
  stepsToPending: string[][];
}

export interface LatencyRun {
  children: number;
  populateMs: number;
  samples: LatencySample[];
  childrenAtEnd: number;
}

export interface WorkflowResults {
  children: number;
  populate: PopulateCost[];
  redelivery: RedeliveryRun;
  latency: LatencyRun;
  replayEvery: number;
  replayWindow: number;
  /** Runs started again because the stack's own timer tick started the root first. */
  restarts: number;
  /** Wall time of the whole section. */
  ms: number;
}

interface Context {
  bench: InProcessBench;
  workspace: string;
  user: Caller;
  progress: (message: string) => void;
  restarts: number;
}

function depsWith(base: Deps, queues: CapturedQueues, workRequests?: WorkRequestRepository): Deps {
  return { ...base, queues, ...(workRequests ? { workRequests } : {}) };
}

/**
 * Starts a run and makes the scheduling pass that starts it: returns the root and its populate
 * message (captured). If the stack's timer tick started the root first, that run is aborted and
 * another started.
 */
async function startRun(ctx: Context, deps: Deps, queues: CapturedQueues, shape: Shape, children: number): Promise<{ root: WorkRequest; populate: OrchestrationMessage }> {
  for (let attempt = 0; ; attempt++) {
    queues.orchestration.length = 0;
    const root = await startWorkflow(deps, ctx.user, { scope: DEFAULT_SCOPE, workspace: ctx.workspace, templateName: TEMPLATES[shape], taskData: { children } });
    const summary = await schedule(deps);
    const populate = queues.orchestration.find((m) => m.kind === 'populate' && m.workRequestId === root.id);
    queues.orchestration.length = 0;
    if (summary.started.includes(root.id) && populate) return { root: (await deps.workRequests.get(root.id))!, populate };
    if (attempt >= 2) throw new Error(`workflow ${root.id} was not started by the benchmark's scheduling pass (${attempt + 1} attempts)`);
    ctx.restarts += 1;
    await abortWorkRequest(deps, ctx.user, root.id).catch(() => undefined);
  }
}

function childIdsByStep(children: WorkRequest[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const c of children) {
    const m = /^child-(\d+)$/.exec(String(c.workflowData.step ?? ''));
    if (m && c.supersededBy === null) out.set(Number(m[1]), c.id);
  }
  return out;
}

/** Aborts a run and drops what that sends (uncounted). */
async function abortRun(ctx: Context, root: WorkRequest): Promise<void> {
  const queues = new CapturedQueues(ctx.bench.plain.queues);
  const deps = depsWith(ctx.bench.plain, queues);
  await abortWorkRequest(deps, ctx.user, root.id);
  const left = (await deps.workRequests.children(root.id)).filter((c) => !isFinished(c));
  if (left.length > 0) throw new Error(`aborting workflow ${root.id} left ${left.length} children unfinished`);
}

/** 1: DynamoDB of one orchestrate(populate), counted; then the same populate uncounted, for its time. */
async function measurePopulate(ctx: Context, shape: Shape, children: number): Promise<PopulateCost> {
  const { counting, plain } = ctx.bench;
  const queues = new CapturedQueues(counting.deps.queues);
  const deps = depsWith(counting.deps, queues);
  const { root, populate } = await startRun(ctx, deps, queues, shape, children);
  const before = counting.dynamo.snapshot();
  const sentBefore = queues.counts();
  const t = performance.now();
  await orchestrate(deps, populate);
  const countedMs = performance.now() - t;
  const dynamo = counting.dynamo.since(before);
  const sent = sentSince(queues, sentBefore);
  const made = await plain.workRequests.children(root.id);
  if (made.length !== children) throw new Error(`populate of ${shape} workflow ${root.id} made ${made.length} children, expected ${children}`);
  const pending = made.filter((c) => c.status === 'pending').length;
  const blocked = made.filter((c) => c.status === 'blocked').length;

  let plainMs = Number.NaN;
  if (shape === 'flat') {
    await abortRun(ctx, root);
    // The same populate with the uncounted client: its wall time without the counting client's read-backs.
    const plainQueues = new CapturedQueues(plain.queues);
    const plainDeps = depsWith(plain, plainQueues);
    const again = await startRun(ctx, plainDeps, plainQueues, shape, children);
    const t2 = performance.now();
    await orchestrate(plainDeps, again.populate);
    plainMs = performance.now() - t2;
    await abortRun(ctx, again.root);
  } else {
    await abortRun(ctx, root);
  }
  await freeSlot(ctx.bench);
  ctx.progress(
    `${shape} populate of ${children} children: ${Object.values(dynamo.requests).reduce((a, b) => a + b, 0)} DynamoDB requests, ` +
      `${dynamo.rcu} RCU, ${dynamo.wcu} WCU (${fmtMs(countedMs)} counted${Number.isNaN(plainMs) ? '' : `, ${fmtMs(plainMs)} uncounted`})`,
  );
  return { shape, children, dynamo, sent, countedMs, plainMs, pending, blocked };
}

/**
 * Runs a started chain workflow with the worker loop (drain the orchestration messages, scheduling
 * pass, get-next, complete) until `completions` children are completed, then drains once more.
 */
async function workerLoop(
  ctx: Context,
  deps: Deps,
  root: WorkRequest,
  completions: number,
  hooks: {
    drain: () => Promise<void>;
    pass?: () => Promise<void>;
    getNext?: (run: () => Promise<WorkRequest | undefined>) => Promise<WorkRequest | undefined>;
    complete: (wr: WorkRequest, run: () => Promise<WorkRequest>) => Promise<void>;
  },
): Promise<void> {
  const { bench } = ctx;
  let completed = 0;
  let idle = 0;
  while (completed < completions) {
    await hooks.drain();
    if (hooks.pass) await hooks.pass();
    else await schedule(deps);
    const caller = await bench.workerCaller();
    const next = () => getNextForWorker(deps, caller, []);
    const wr = hooks.getNext ? await hooks.getNext(next) : await next();
    if (!wr) {
      if (++idle > 5) throw new Error(`workflow ${root.id}: nothing to run after ${completed} of ${completions} completions`);
      continue;
    }
    idle = 0;
    if (wr.parent !== root.id) throw new Error(`the in-process worker was handed request ${wr.id}, not a child of workflow ${root.id}`);
    await hooks.complete(wr, async () => completeWorkRequest(deps, await bench.workerCaller(), wr.id, { result: 'success' }));
    completed += 1;
  }
  await hooks.drain();
}

/** 3 (section numbering of the brief: duplicates): a whole chain run with every message delivered twice and some again later. */
async function measureRedelivery(ctx: Context, children: number): Promise<RedeliveryRun> {
  const { counting } = ctx.bench;
  const queues = new CapturedQueues(counting.deps.queues);
  const deps = depsWith(counting.deps, queues);
  const { root, populate } = await startRun(ctx, deps, queues, 'chain', children);

  const steps = new Map<string, StepCost>();
  const replayByKind: Record<string, { calls: number; dynamo: TallySnapshot }> = {};
  const counted = async <T>(label: string, run: () => Promise<T>, kind?: string): Promise<T> => {
    const before = counting.dynamo.snapshot();
    try {
      return await run();
    } finally {
      const d = counting.dynamo.since(before);
      const entry = steps.get(label) ?? { label, calls: 0, dynamo: emptySnapshot() };
      entry.calls += 1;
      entry.dynamo = sum(entry.dynamo, d);
      steps.set(label, entry);
      if (kind !== undefined) {
        const k = (replayByKind[kind] ??= { calls: 0, dynamo: emptySnapshot() });
        k.calls += 1;
        k.dynamo = sum(k.dynamo, d);
      }
    }
  };

  const random = prng(20261122);
  const processed: OrchestrationMessage[] = [];
  const replays = { immediate: 0, late: 0 };
  const sentByReplays = { orchestration: 0, scheduler: 0 };
  let firstDeliveries = 0;
  const replay = async (message: OrchestrationMessage): Promise<void> => {
    const before = queues.counts();
    await counted('replays', () => orchestrate(deps, message), message.kind);
    const sent = sentSince(queues, before);
    sentByReplays.orchestration += sent.orchestration;
    sentByReplays.scheduler += sent.scheduler;
  };
  const deliver = async (message: OrchestrationMessage, first: () => Promise<void>): Promise<void> => {
    await first();
    firstDeliveries += 1;
    // Processed, but not deleted before the visibility timeout: the same message again at once.
    await replay(message);
    replays.immediate += 1;
    processed.push(message);
    if (processed.length % REPLAY_EVERY === 0) {
      // Earlier messages of the group again, after later ones, in shuffled order.
      for (const old of shuffle(processed.slice(-REPLAY_WINDOW - 1, -1), random)) {
        await replay(old);
        replays.late += 1;
      }
    }
  };
  const drain = async (): Promise<void> => {
    while (queues.orchestration.length > 0) {
      const message = queues.orchestration.shift()!;
      await deliver(message, () => counted(`orchestrate(${message.kind}), first delivery`, () => orchestrate(deps, message)));
    }
  };

  await deliver(populate, () => counted('orchestrate(populate), first delivery', () => orchestrate(deps, populate)));
  await workerLoop(ctx, deps, root, children, {
    drain,
    pass: () => counted('scheduling pass (assigns the next child)', () => schedule(deps)).then(() => undefined),
    getNext: (run) => counted('get-next-for-worker (starts it)', run),
    complete: async (_wr, run) => void (await counted('completeWorkRequest (finish, unblock the dependent)', run)),
  });

  const all = await ctx.bench.plain.workRequests.children(root.id);
  const distinct = new Set(all.map((c) => String(c.workflowData.step ?? ''))).size;
  const finalRoot = (await ctx.bench.plain.workRequests.get(root.id))!;
  const firstLabels = [...steps.keys()].filter((l) => l.includes('first delivery'));
  const firstDeliveryTotal = firstLabels.map((l) => steps.get(l)!.dynamo).reduce(sum, emptySnapshot());
  const order = [
    'orchestrate(populate), first delivery',
    'scheduling pass (assigns the next child)',
    'get-next-for-worker (starts it)',
    'completeWorkRequest (finish, unblock the dependent)',
    'orchestrate(child-finished), first delivery',
  ];
  const sorted = [...steps.values()].sort((a, b) => {
    const ia = order.indexOf(a.label);
    const ib = order.indexOf(b.label);
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
  });
  const result: RedeliveryRun = {
    children,
    childrenAtEnd: all.length,
    distinctSteps: distinct,
    duplicates: all.length - distinct,
    notSucceeded: all.filter((c) => c.status !== 'completed' || c.result !== 'success' || c.supersededBy !== null).length,
    rootStatus: `${finalRoot.status}${finalRoot.result ? `/${finalRoot.result}` : ''}`,
    firstDeliveries,
    replays,
    sentByReplays,
    steps: sorted,
    firstDeliveryTotal,
    replayTotal: steps.get('replays')?.dynamo ?? emptySnapshot(),
    replayByKind,
  };
  ctx.progress(
    `redelivery run (${children} chained children): ${result.childrenAtEnd} children at the end (${result.duplicates} duplicates), root ${result.rootStatus}; ` +
      `${firstDeliveries} messages, ${replays.immediate + replays.late} replays costing ${Object.values(result.replayTotal.requests).reduce((a, b) => a + b, 0)} DynamoDB requests`,
  );
  await freeSlot(ctx.bench);
  return result;
}

/**
 * 2: completion → dependent pending, uncounted client, over the first `completions` completions of
 * a chain run of `children`; the rest of the run is then aborted.
 */
async function measureLatency(ctx: Context, children: number, completions: number): Promise<LatencyRun> {
  const { plain } = ctx.bench;
  const pendingAt = new Map<number, number>();
  // Uncounted clients whose requests are timestamped: the round trips from a completion to its dependent's pending write.
  const calls: Call[] = [];
  const traced = tracedDeps(ctx.bench.env, calls);
  const queues = new CapturedQueues(traced.queues);
  const deps = depsWith(traced, queues, timingPending(traced.workRequests, pendingAt));
  const { root, populate } = await startRun(ctx, deps, queues, 'chain', children);
  const t = performance.now();
  await orchestrate(deps, populate);
  const populateMs = performance.now() - t;
  const byStep = childIdsByStep(await plain.workRequests.children(root.id));
  const stepOf = new Map([...byStep].map(([step, id]) => [id, step]));

  const samples: LatencySample[] = [];
  const childFinishedMs = new Map<number, number>();
  let last: { sample: Omit<LatencySample, 'childFinishedMs' | 'nextPassMs'>; id: number } | undefined;
  const drain = async (): Promise<void> => {
    while (queues.orchestration.length > 0) {
      const message = queues.orchestration.shift()!;
      const t0 = performance.now();
      await orchestrate(deps, message);
      if (message.kind === 'child-finished') childFinishedMs.set(message.workRequestId, performance.now() - t0);
    }
  };
  await workerLoop(ctx, deps, root, Math.min(children, completions + 1), {
    drain,
    pass: async () => {
      const t0 = performance.now();
      await schedule(deps);
      const passMs = performance.now() - t0;
      if (last) {
        samples.push({ ...last.sample, childFinishedMs: childFinishedMs.get(last.id) ?? Number.NaN, nextPassMs: passMs });
        last = undefined;
      }
    },
    complete: async (wr, run) => {
      const step = stepOf.get(wr.id);
      const dependent = step === undefined ? undefined : byStep.get(step + 1);
      calls.length = 0;
      const t0 = performance.now();
      await run();
      const t1 = performance.now();
      if (dependent === undefined) return;
      const at = pendingAt.get(dependent);
      last = {
        id: wr.id,
        sample: {
          completionMs: t1 - t0,
          toPendingMs: at === undefined ? Number.NaN : at - t0,
          pendingBeforeReturn: at !== undefined && at <= t1,
          stepsToPending: at === undefined ? [] : sequentialSteps(calls, t0, at),
        },
      };
    },
  });
  const childrenAtEnd = (await plain.workRequests.children(root.id)).length;
  if (!isFinished((await plain.workRequests.get(root.id))!)) await abortRun(ctx, root);
  await freeSlot(ctx.bench);
  return { children, populateMs, samples: samples.slice(0, completions), childrenAtEnd };
}

export async function measureWorkflows(
  bench: InProcessBench,
  options: { admin: Deps; actor: string; workspace: string; userToken: string; children: number; latencySamples: number; progress: (message: string) => void },
): Promise<WorkflowResults> {
  const started = performance.now();
  registerBenchWorkflow();
  const { admin, actor, workspace, progress } = options;
  // Templates need the owner role; runs are started by the contributor of the other sections.
  await createUser(admin, actor, { username: OWNER, email: 'bench-owner@example.org' });
  await grantRole(admin, actor, { workspace, username: OWNER, role: 'owner' });
  const ownerKey = (await createToken(admin, actor, { username: OWNER, enabled: true, comment: 'bench workflows' })).key;
  const owner = await authenticate(bench.plain, ownerKey);
  for (const [shape, name] of Object.entries(TEMPLATES) as [Shape, string][]) {
    await createTemplate(bench.plain, owner, { scope: DEFAULT_SCOPE, workspace, name, taskName: BENCH_WORKFLOW, taskData: { chain: shape === 'chain' } });
  }
  const ctx: Context = { bench, workspace, user: await authenticate(bench.plain, options.userToken), progress, restarts: 0 };
  await freeSlot(bench);
  await drainAll(bench);

  const populate = [await measurePopulate(ctx, 'chain', options.children), await measurePopulate(ctx, 'flat', options.children)];
  const redelivery = await measureRedelivery(ctx, options.children);
  progress(`latency run (${options.children} chained children, first ${options.latencySamples} completions, uncounted client)`);
  const latency = await measureLatency(ctx, options.children, options.latencySamples);
  const pop = populate.find((p) => p.shape === 'chain');
  if (pop) pop.plainMs = latency.populateMs;
  await drainAll(bench);
  return {
    children: options.children,
    populate,
    redelivery,
    latency,
    replayEvery: REPLAY_EVERY,
    replayWindow: REPLAY_WINDOW,
    restarts: ctx.restarts,
    ms: performance.now() - started,
  };
}
