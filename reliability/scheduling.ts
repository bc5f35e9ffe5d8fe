/**
 * Part (b): randomized concurrent scheduling. Each case draws workers (concurrency, whether they
 * can run the task), pending requests, and a set of concurrent operations (scheduler passes,
 * get-next pulls, completions); fast-check's scheduler then picks the order in which every call
 * into the work-request and worker repositories goes ahead, so each case is one interleaving.
 * After all operations: no request was handed to two workers, and every worker holds exactly what
 * the store says it holds, never more than its concurrency.
 */
import fc from 'fast-check';
import { createMemoryDeps, type MemoryDeps } from '../shared/adapters/memory';
import { createToken, createUser, createWorkspace, generateTokenKey, grantRole } from '../shared/app/admin';
import { authenticate, type Caller } from '../shared/app/auth';
import { createArtifact } from '../shared/app/artifacts';
import { initDatabase } from '../shared/app/bootstrap';
import { schedule } from '../shared/app/scheduler';
import { createWorkRequest } from '../shared/app/work-requests';
import { completeWorkRequest, enableWorker, getNextForWorker, registerWorker, updateDynamicMetadata } from '../shared/app/workers';
import type { Deps } from '../shared/ports';
import type { WorkRequest } from '../shared/domain/work-requests';
import { AMD64_METADATA } from '../test/support/scheduling';

export type Op = { kind: 'pass' } | { kind: 'pull'; worker: number } | { kind: 'complete'; worker: number };

export const schedulingCaseArb = fc.record({
  workers: fc.array(fc.record({ concurrency: fc.integer({ min: 1, max: 3 }), canRun: fc.boolean() }), { minLength: 1, maxLength: 4 }),
  requests: fc.integer({ min: 1, max: 10 }),
  ops: fc.array(
    fc.oneof(
      fc.constant<Op>({ kind: 'pass' }),
      fc.nat({ max: 3 }).map((worker): Op => ({ kind: 'pull', worker })),
      fc.nat({ max: 3 }).map((worker): Op => ({ kind: 'complete', worker })),
    ),
    { minLength: 2, maxLength: 8 },
  ),
  scheduler: fc.scheduler(),
});
export type SchedulingCase = typeof schedulingCaseArb extends fc.Arbitrary<infer T> ? T : never;

export interface Violation {
  detail: string;
}

interface Setup {
  workers: { name: string; concurrency: number; caller: Caller }[];
  requestIds: number[];
}

/** A small world of its own: one workspace, one contributor, the case's workers and requests. */
export async function setUpCase(deps: Deps, c: Pick<SchedulingCase, 'workers' | 'requests'>, tag = 'rel', partitioned = false): Promise<Setup> {
  const workspace = `sched-${tag}`;
  await createWorkspace(deps, 'test', { name: workspace });
  await createUser(deps, 'test', { username: `user-${tag}` });
  await grantRole(deps, 'test', { workspace, username: `user-${tag}`, role: 'contributor' });
  const user = await authenticate(deps, (await createToken(deps, 'test', { username: `user-${tag}`, enabled: true })).key);
  // On a shared DynamoDB table (partitioned), the case's workers advertise an architecture of their
  // own and run lintian for it, so that they only ever see this case's requests (noop has no
  // architecture). The memory cases are a world of their own and run noop.
  const arch = partitioned ? `arch-${tag}` : 'amd64';
  const task = partitioned ? 'lintian' : 'noop';
  const input = partitioned ? (await createArtifact(deps, user, { scope: 'debusine', workspace, category: 'debian:binary-package', data: {}, files: {} })).artifact.id : 0;
  const workers: Setup['workers'] = [];
  for (const [i, w] of c.workers.entries()) {
    const tokenKey = generateTokenKey();
    const registered = await registerWorker(deps, { tokenKey, fqdn: `w${i}-${tag}.lan`, concurrency: w.concurrency });
    await enableWorker(deps, 'test', registered.name);
    const metadata = { ...AMD64_METADATA, 'system:architectures': [arch], 'system:host_architecture': arch, [`${task}:available`]: w.canRun };
    await updateDynamicMetadata(deps, await authenticate(deps, tokenKey), metadata);
    workers.push({ name: registered.name, concurrency: w.concurrency, caller: await authenticate(deps, tokenKey) });
  }
  const requestIds: number[] = [];
  for (let i = 0; i < c.requests; i++) {
    const taskData = partitioned ? { input: { binary_artifacts: [input] }, host_architecture: arch } : {};
    requestIds.push((await createWorkRequest(deps, user, { scope: 'debusine', workspace, taskName: task, taskData })).id);
  }
  return { workers, requestIds };
}

/** Every repository call waits for the fast-check scheduler to let it go: the interleaving is the case's. */
function interleaved(deps: MemoryDeps, s: fc.Scheduler): MemoryDeps {
  const gate = <T extends object>(repo: T): T =>
    new Proxy(repo, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function') return value;
        return async (...args: unknown[]) => {
          await s.schedule(Promise.resolve(), `${String(prop)}`);
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  return { ...deps, workRequests: gate(deps.workRequests), workers: gate(deps.workers) };
}

/**
 * One worker as `conveyor worker` behaves (cli/worker/worker.ts): its get-next calls go out one at a
 * time (fillSlots never has two in flight), each listing every request the worker runs; a request
 * stays in that list until its completion was answered, and is reported once.
 */
class ModelWorker {
  readonly running: number[] = [];
  private readonly reporting = new Set<number>();
  private pulls: Promise<unknown> = Promise.resolve();
  constructor(readonly setup: Setup['workers'][number]) {}
  /** Queued behind the worker's previous get-next; the running list is read when the call goes out. */
  pull(deps: Deps): Promise<WorkRequest | undefined> {
    const next = this.pulls.then(async () => {
      const wr = await getNextForWorker(deps, this.setup.caller, [...this.running]);
      if (wr) this.running.push(wr.id);
      return wr;
    });
    this.pulls = next.catch(() => undefined);
    return next;
  }
  /** Reports the oldest request it runs that it is not already reporting; undefined if none. */
  complete(deps: Deps): Promise<unknown> | undefined {
    const id = this.running.find((r) => !this.reporting.has(r));
    if (id === undefined) return undefined;
    this.reporting.add(id);
    return completeWorkRequest(deps, this.setup.caller, id, { result: 'success' }).finally(() => {
      this.reporting.delete(id);
      this.running.splice(this.running.indexOf(id), 1);
    });
  }
}

/**
 * Runs the operations of a case concurrently and checks the outcome; returns what went wrong.
 * A case's workers are its own (their names carry the case's tag), so everything they hold is
 * the case's: a request reclaimed from a worker has a successor that counts as much as the
 * original. As the workers behave like real ones and none dies, no request may be reclaimed.
 */
export async function runOps(deps: Deps, setup: Setup, ops: Op[], run: (all: Promise<unknown>) => Promise<void>, store: Deps = deps): Promise<Violation[]> {
  const workers = new Map(setup.workers.map((w) => [w.name, new ModelWorker(w)]));
  const claims = new Map<number, Set<string>>();
  const claim = (id: number, worker: string) => {
    // A pass on a shared table (DynamoDB) may also fill earlier cases' workers: not this case's business.
    if (!workers.has(worker)) return;
    if (!claims.has(id)) claims.set(id, new Set());
    claims.get(id)!.add(worker);
  };
  const errors: string[] = [];
  const ignoreExpected = (err: unknown) => {
    const name = (err as Error).constructor?.name ?? '';
    // A completion that lost a race (reassigned, finished) is refused with 401/409: that is the point.
    if (!/Conflict|Unauthorized/.test(name)) errors.push(String((err as Error).stack ?? err));
  };
  const tasks = ops.map(async (op) => {
    if (op.kind === 'pass') {
      const summary = await schedule(deps).catch((e) => (ignoreExpected(e), undefined));
      for (const a of summary?.assigned ?? []) claim(a.workRequestId, a.worker);
      return;
    }
    const w = workers.get(setup.workers[op.worker % setup.workers.length]!.name)!;
    if (op.kind === 'pull') {
      const wr = await w.pull(deps).catch((e) => (ignoreExpected(e), undefined));
      if (wr) claim(wr.id, w.setup.name);
      return;
    }
    await w.complete(deps)?.catch(ignoreExpected);
  });
  await run(Promise.all(tasks));
  const violations: Violation[] = errors.map((detail) => ({ detail: `unexpected error: ${detail.slice(0, 300)}` }));
  for (const [id, claimants] of claims) if (claimants.size > 1) violations.push({ detail: `request ${id} was given to ${[...claimants].join(' and ')}` });
  // The outcome is read from `store`: the deps the operations ran on may be gated by a scheduler that is done.
  for (const w of setup.workers) {
    const stored = (await store.workers.get(w.name))!;
    const held = await store.workRequests.activeForWorker(w.name);
    if (stored.assigned !== held.length) violations.push({ detail: `worker ${w.name} counts ${stored.assigned} assigned, holds ${held.length}` });
    if (held.length > w.concurrency) violations.push({ detail: `worker ${w.name} holds ${held.length} requests, concurrency ${w.concurrency}` });
  }
  const given = new Set([...setup.requestIds, ...claims.keys()]);
  for (const wr of await store.workRequests.getMany([...given])) {
    const claimants = [...(claims.get(wr.id) ?? [])];
    if (wr.worker && claimants.length === 1 && wr.worker !== claimants[0]) violations.push({ detail: `request ${wr.id} is stored on ${wr.worker}, was given to ${claimants[0]}` });
    if (wr.supersededBy !== null) violations.push({ detail: `request ${wr.id} was reclaimed from ${wr.worker ?? 'no worker'} (successor ${wr.supersededBy}), which still ran it` });
  }
  return violations;
}

/** Releases the scheduled calls one at a time, in the scheduler's order, until every operation is done. */
async function drive(s: fc.Scheduler, all: Promise<unknown>): Promise<void> {
  let done = false;
  const settled = all.then(
    () => (done = true),
    () => (done = true),
  );
  while (!done) {
    if (s.count() > 0) await s.waitOne();
    else await new Promise((resolve) => setImmediate(resolve)); // a call not gated is under way
  }
  await settled;
  await all;
}

export interface SchedulingResult {
  cases: number;
  seed: number;
  operations: number;
  assignments: number;
  violations: { case: string; detail: string }[];
  seconds: number;
}

/** One case on fresh memory fakes, in the interleaving its fast-check scheduler picks. */
export async function runSchedulingCase(c: SchedulingCase): Promise<{ violations: Violation[]; assignments: number }> {
  const deps = createMemoryDeps();
  await initDatabase(deps);
  const setup = await setUpCase(deps, c);
  const violations = await runOps(interleaved(deps, c.scheduler), setup, c.ops, (all) => drive(c.scheduler, all), deps);
  return { violations, assignments: [...deps.workRequests.items.values()].filter((wr) => wr.worker).length };
}

export async function runSchedulingCases(cases: number, seed = 20261206): Promise<SchedulingResult> {
  const started = Date.now();
  const result: SchedulingResult = { cases, seed, operations: 0, assignments: 0, violations: [], seconds: 0 };
  for (const c of fc.sample(schedulingCaseArb, { numRuns: cases, seed })) {
    const { violations, assignments } = await runSchedulingCase(c);
    result.operations += c.ops.length;
    result.assignments += assignments;
    for (const v of violations) result.violations.push({ case: `${JSON.stringify({ workers: c.workers, requests: c.requests, ops: c.ops })} ${c.scheduler.report().map((t) => t.label).join(',')}`, detail: v.detail });
  }
  result.seconds = (Date.now() - started) / 1000;
  return result;
}

/**
 * The same cases on DynamoDB (or any deps): no gate, the interleaving is whatever the concurrent
 * calls over the network produce. Each case has a workspace and an architecture of its own.
 */
export async function runSchedulingOn(deps: Deps, cases: number, seed = 20261207): Promise<SchedulingResult> {
  const started = Date.now();
  const result: SchedulingResult = { cases, seed, operations: 0, assignments: 0, violations: [], seconds: 0 };
  const run = Math.random().toString(36).slice(2, 8);
  for (const [i, c] of fc.sample(schedulingCaseArb, { numRuns: cases, seed }).entries()) {
    const setup = await setUpCase(deps, c, `${run}-${i}`, true);
    result.operations += c.ops.length;
    const violations = await runOps(deps, setup, c.ops, async (all) => void (await all));
    for (const id of setup.requestIds) if ((await deps.workRequests.get(id))?.worker) result.assignments++;
    for (const v of violations) result.violations.push({ case: JSON.stringify({ workers: c.workers, requests: c.requests, ops: c.ops }), detail: v.detail });
  }
  result.seconds = (Date.now() - started) / 1000;
  return result;
}
