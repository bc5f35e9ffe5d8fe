/**
 * Part (c): replayed and reordered messages on every queue consumer. One system run in memory
 * (a build-and-lint workflow on two architectures, plain and server requests, uploads verified in
 * the background, heartbeats, quota accounting) is driven to the end twice: once with every message
 * delivered exactly once in order, once with messages delivered again (late, and 1-3 times) and
 * reordered within each batch, as SQS may do (the FIFO orchestrator queue keeps each root's order,
 * and gets the replays). Both runs must end in the same stored state: no consumer duplicated an
 * effect (a child created twice, a usage counted twice, an audit entry or an e-mail twice).
 */
import fc from 'fast-check';
import type { MemoryDeps } from '../shared/adapters/memory';
import { applyAccountingEvents } from '../shared/app/accounting';
import { createArtifact } from '../shared/app/artifacts';
import { applyHeartbeats } from '../shared/app/heartbeats';
import { schedule } from '../shared/app/scheduler';
import { runServerTask } from '../shared/app/server-tasks';
import { requestUpload, verifyQueuedUpload } from '../shared/app/uploads';
import { createWorkRequest } from '../shared/app/work-requests';
import { orchestrate } from '../shared/app/workflow-orchestration';
import { startWorkflow } from '../shared/app/workflow-runs';
import { createTemplate } from '../shared/app/workflow-templates';
import { completeWorkRequest, getNextForWorker, recordHeartbeat } from '../shared/app/workers';
import { AMD64_METADATA, createSchedulingWorld, type SchedulingWorld } from '../test/support/scheduling';
import { defaultScript } from '../test/support/workflows';
import { sha256 } from '../test/support/world';
import { snapshotOf } from './app';
import { prng } from '../bench/prng';

export const CONSUMERS = ['orchestrator', 'scheduler', 'server-tasks', 'heartbeats', 'file-verification', 'accounting'] as const;
export type Consumer = (typeof CONSUMERS)[number];

/** How the adversarial run delivers: a PRNG seed; `replay` is the chance that a message comes again. */
export interface Delivery {
  seed: number;
  replay: number;
}


/** Takes what a queue holds; `late` keeps some of the previous deliveries to replay them afterwards. */
class Deliverer {
  private readonly random: () => number;
  private readonly late = new Map<Consumer, unknown[]>();
  readonly delivered: Record<Consumer, number> = { orchestrator: 0, scheduler: 0, 'server-tasks': 0, heartbeats: 0, 'file-verification': 0, accounting: 0 };
  readonly replayed: Record<Consumer, number> = { orchestrator: 0, scheduler: 0, 'server-tasks': 0, heartbeats: 0, 'file-verification': 0, accounting: 0 };

  constructor(private readonly delivery: Delivery | undefined) {
    this.random = prng(delivery?.seed ?? 1);
  }

  /** The batch to deliver: in order and once, or reordered (unless FIFO) with replays mixed in. */
  batch<T>(consumer: Consumer, taken: T[], fifo = false): T[] {
    this.delivered[consumer] += taken.length;
    if (!this.delivery) return taken;
    const out: T[] = [];
    for (const m of taken) {
      out.push(m);
      while (this.random() < this.delivery.replay) {
        out.push(m); // delivered again at once (a visibility timeout during processing)
        this.replayed[consumer]++;
      }
    }
    const earlier = (this.late.get(consumer) ?? []) as T[];
    this.late.set(consumer, taken.filter(() => this.random() < this.delivery!.replay));
    this.replayed[consumer] += earlier.length;
    // FIFO: a root's order holds for first deliveries; replays of processed messages come after them.
    if (fifo) return [...out, ...earlier];
    const all = [...out, ...earlier];
    for (let i = all.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [all[i], all[j]] = [all[j]!, all[i]!];
    }
    return all;
  }
}

const take = <T>(queue: T[]): T[] => queue.splice(0, queue.length);

async function setUp(): Promise<{ w: SchedulingWorld; workers: Awaited<ReturnType<SchedulingWorld['addWorker']>>[] }> {
  const w = await createSchedulingWorld();
  w.deps.clock.current = new Date('2026-12-01T00:00:00Z');
  const metadata = { ...AMD64_METADATA, 'mkdeb:available': true, 'mkdeb:version': 1 };
  const workers = [await w.addWorker('a.replay.test', { metadata, concurrency: 2 }), await w.addWorker('b.replay.test', { metadata })];
  const owner = await w.caller('owner');
  const contributor = await w.caller('contributor');
  await createTemplate(w.deps, owner, { scope: 'debusine', workspace: 'priv', name: 'bl', taskName: 'build-and-lint', taskData: { package: 'hello', fail_on_severity: 'none' } });
  await startWorkflow(w.deps, contributor, { scope: 'debusine', workspace: 'priv', templateName: 'bl', taskData: { version: '1.0-1', architectures: ['amd64', 'i386'] } });
  for (let i = 0; i < 3; i++) await createWorkRequest(w.deps, contributor, { scope: 'debusine', workspace: 'priv', taskName: 'noop', taskData: {} });
  // Server tasks are for administrators (Debusine).
  const admin = await w.caller('admin');
  for (let i = 0; i < 2; i++) await createWorkRequest(w.deps, admin, { scope: 'debusine', workspace: 'priv', taskName: 'servernoop', taskData: { result: true } });
  // Uploads whose check runs in the background (multipart, and every upload on the local stack).
  const contents = ['first file\n', 'second file\n'];
  const files = Object.fromEntries(contents.map((c, i) => [`f${i}.txt`, { size: Buffer.byteLength(c), sha256: sha256(c) }]));
  const { artifact } = await createArtifact(w.deps, contributor, { scope: 'debusine', workspace: 'priv', category: 'testing', data: {}, files });
  for (const [i, c] of contents.entries()) {
    const path = `f${i}.txt`;
    await requestUpload(w.deps, contributor, artifact.id, path);
    const key = (await w.deps.artifacts.get(artifact.id))!.files.find((f) => f.path === path)!.upload!.key!;
    await w.deps.files.put(key, Buffer.from(c));
    await w.deps.artifacts.setUploadState(artifact.id, path, { key, verifying: true, verifyingSince: w.deps.clock.now().toISOString() });
    await w.deps.queues.enqueueFileVerification({ artifactId: artifact.id, path });
  }
  return { w, workers };
}

/** Drives the system to its end, delivering every queue through `d`; returns the stored state. */
async function runSystem(d: Deliverer): Promise<MemoryDeps> {
  const { w, workers } = await setUp();
  const { deps } = w;
  const script = defaultScript(w);
  for (let round = 0; round < 60; round++) {
    for (const m of d.batch('orchestrator', take(deps.queues.orchestration), true)) await orchestrate(deps, m);
    // Every scheduler event means "look again": one pass each, and one tick per round.
    for (const _e of d.batch('scheduler', take(deps.queues.schedulerEvents))) await schedule(deps);
    await schedule(deps);
    for (const m of d.batch('server-tasks', take(deps.queues.serverTasks))) await runServerTask(deps, m.workRequestId);
    for (const m of d.batch('file-verification', take(deps.queues.fileVerification))) await verifyQueuedUpload(deps, m);
    for (const worker of workers) {
      const wr = await getNextForWorker(deps, await worker.caller());
      if (!wr) continue;
      for (const line of ['one', 'two']) {
        deps.clock.current = new Date(deps.clock.current.getTime() + 1000);
        await recordHeartbeat(deps, await worker.caller(), wr.id, [line]);
      }
      await applyHeartbeats(deps, d.batch('heartbeats', take(deps.queues.heartbeats)));
      const result = await script(wr, worker);
      await completeWorkRequest(deps, await worker.caller(), wr.id, { result });
    }
    await applyAccountingEvents(deps, d.batch('accounting', take(deps.accountingQueue.events)));
    const idle = !deps.queues.orchestration.length && !deps.queues.schedulerEvents.length && !deps.queues.serverTasks.length && !deps.queues.fileVerification.length && !deps.accountingQueue.events.length;
    const open = [...deps.workRequests.items.values()].some((wr) => wr.status !== 'completed' && wr.status !== 'aborted');
    if (idle && !open) return deps;
  }
  const open = [...deps.workRequests.items.values()].filter((wr) => wr.status !== 'completed').map((wr) => `${wr.id} ${wr.taskName} ${wr.status}`);
  throw new Error(`the system did not settle: ${open.join(', ')}`);
}

/**
 * The stored state, without the queues themselves (replays put more "look again" nudges there by
 * design) and with the token hashes redacted (each world makes random token keys).
 */
function storedState(deps: MemoryDeps): string {
  const { queues: _q, accountingQueue: _a, workerChannels: _c, ...stores } = deps;
  const tokenHashes = new Set([...deps.identity.tokens.values()].map((t) => t.hash));
  return snapshotOf(stores as MemoryDeps, tokenHashes);
}

export interface ReplayResult {
  runs: number;
  seed: number;
  delivered: Record<Consumer, number>;
  replayed: Record<Consumer, number>;
  workRequests: number;
  differences: { delivery: Delivery; first: string }[];
  seconds: number;
}

/** Where two snapshots first differ, with some context: enough to see which store and which field. */
function firstDifference(a: string, b: string): string {
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return `in order: …${a.slice(Math.max(0, i - 150), i + 100)}… / replayed: …${b.slice(Math.max(0, i - 150), i + 100)}…`;
}

export async function runReplays(runs: number, seed = 20261206): Promise<ReplayResult> {
  const started = Date.now();
  const baselineDeliverer = new Deliverer(undefined);
  const baselineDeps = await runSystem(baselineDeliverer);
  const baseline = storedState(baselineDeps);
  const result: ReplayResult = {
    runs,
    seed,
    delivered: { orchestrator: 0, scheduler: 0, 'server-tasks': 0, heartbeats: 0, 'file-verification': 0, accounting: 0 },
    replayed: { orchestrator: 0, scheduler: 0, 'server-tasks': 0, heartbeats: 0, 'file-verification': 0, accounting: 0 },
    workRequests: baselineDeps.workRequests.items.size,
    differences: [],
    seconds: 0,
  };
  const deliveries = fc.sample(fc.record({ seed: fc.integer(), replay: fc.double({ min: 0.2, max: 0.7, noNaN: true }) }), { numRuns: runs, seed });
  for (const delivery of deliveries) {
    const d = new Deliverer(delivery);
    const state = storedState(await runSystem(d));
    for (const c of CONSUMERS) {
      result.delivered[c] += d.delivered[c];
      result.replayed[c] += d.replayed[c];
    }
    if (state !== baseline) result.differences.push({ delivery, first: firstDifference(baseline, state) });
  }
  result.seconds = (Date.now() - started) / 1000;
  return result;
}
