/**
 * Random interleavings of create, schedule, start, heartbeat, complete, abort, watchdog and
 * replayed messages never break the invariants: one worker per request, concurrency respected,
 * legal transitions only, and once the dust settles every request is completed or aborted.
 */
import fc from 'fast-check';
import { canTransition, isFinished, type WorkRequest } from '../../shared/domain/work-requests';
import { schedule } from '../../shared/app/scheduler';
import { applyHeartbeats } from '../../shared/app/heartbeats';
import { reclaimStale } from '../../shared/app/watchdog';
import { completeWorkRequest, getNextForWorker, recordHeartbeat, updateDynamicMetadata } from '../../shared/app/workers';
import { abortWorkRequest } from '../../shared/app/work-requests';
import { ConflictError, UnauthorizedError, ValidationError } from '../../shared/domain/errors';
import { AMD64_METADATA, createSchedulingWorld, type SchedulingWorld } from '../support/scheduling';

type Step =
  | { kind: 'create' }
  | { kind: 'schedule' }
  | { kind: 'get-next'; worker: number }
  | { kind: 'heartbeat'; worker: number; pick: number }
  | { kind: 'complete'; worker: number; pick: number; result: 'success' | 'failure' }
  | { kind: 'complete-twice'; worker: number; pick: number }
  | { kind: 'abort'; pick: number }
  | { kind: 'time-passes'; ms: number }
  | { kind: 'watchdog' }
  | { kind: 'replay-heartbeats' }
  | { kind: 'reconnect'; worker: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.constant<Step>({ kind: 'create' }),
  fc.constant<Step>({ kind: 'schedule' }),
  fc.record({ kind: fc.constant('get-next' as const), worker: fc.nat(2) }),
  fc.record({ kind: fc.constant('heartbeat' as const), worker: fc.nat(2), pick: fc.nat(20) }),
  fc.record({ kind: fc.constant('complete' as const), worker: fc.nat(2), pick: fc.nat(20), result: fc.constantFrom('success' as const, 'failure' as const) }),
  fc.record({ kind: fc.constant('complete-twice' as const), worker: fc.nat(2), pick: fc.nat(20) }),
  fc.record({ kind: fc.constant('abort' as const), pick: fc.nat(20) }),
  fc.record({ kind: fc.constant('time-passes' as const), ms: fc.integer({ min: 1000, max: 400_000 }) }),
  fc.constant<Step>({ kind: 'watchdog' }),
  fc.constant<Step>({ kind: 'replay-heartbeats' }),
  fc.record({ kind: fc.constant('reconnect' as const), worker: fc.nat(2) }),
);

/** Outcomes a step may legitimately meet: a lost race or a refused late report. */
function expected(err: unknown): void {
  if (err instanceof ConflictError || err instanceof UnauthorizedError || err instanceof ValidationError) return;
  throw err;
}

/** Checks every write as it happens: each status change must be a legal transition. */
function watchTransitions(w: SchedulingWorld, illegal: string[]): void {
  const repo = w.deps.workRequests;
  const commit = repo.commit.bind(repo);
  repo.commit = async (changes) => {
    for (const { workRequest } of changes.update ?? []) {
      const before = repo.items.get(workRequest.id);
      if (before && before.status !== workRequest.status && !canTransition(before.status, workRequest.status)) {
        illegal.push(`${workRequest.id}: ${before.status} → ${workRequest.status}`);
      }
    }
    return commit(changes);
  };
}

async function checkInvariants(w: SchedulingWorld, illegal: string[]): Promise<void> {
  if (illegal.length) throw new Error(`illegal transitions: ${illegal.join(', ')}`);
  const all = [...w.deps.workRequests.items.values()];
  for (const worker of w.deps.workers.items.values()) {
    const active = all.filter((r) => r.worker === worker.name && (r.status === 'pending' || r.status === 'running'));
    if (active.length !== worker.assigned) throw new Error(`worker ${worker.name} counts ${worker.assigned} slots but holds ${active.length}`);
    if (worker.assigned > worker.concurrency) throw new Error(`worker ${worker.name} over its concurrency`);
  }
}

async function drain(w: SchedulingWorld, workers: { name: string; caller: () => Promise<any> }[]): Promise<void> {
  for (let round = 0; round < 200; round++) {
    for (const wk of workers) await updateDynamicMetadata(w.deps, await wk.caller(), AMD64_METADATA).catch(expected);
    await schedule(w.deps);
    let progressed = false;
    for (const wk of workers) {
      const running = [...w.deps.workRequests.items.values()].filter((r) => r.worker === wk.name && r.status === 'running').map((r) => r.id);
      const started = await getNextForWorker(w.deps, await wk.caller(), running).catch(expected);
      if (started) progressed = true;
      for (const r of [...w.deps.workRequests.items.values()].filter((r) => r.worker === wk.name && r.status === 'running')) {
        await completeWorkRequest(w.deps, await wk.caller(), r.id, { result: 'success' }).catch(expected);
        progressed = true;
      }
    }
    if (!progressed && [...w.deps.workRequests.items.values()].every((r) => isFinished(r))) return;
  }
}

it('keeps its invariants under random interleavings', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 5, maxLength: 60 }), async (steps) => {
      const w = await createSchedulingWorld();
      const workers = [await w.addWorker('a.lan', { concurrency: 1 }), await w.addWorker('b.lan', { concurrency: 2 }), await w.addWorker('c.lan', { concurrency: 1 })];
      const created: WorkRequest[] = [];
      const illegal: string[] = [];
      watchTransitions(w, illegal);
      const pick = (n: number) => created[n % Math.max(1, created.length)];
      for (const s of steps) {
        switch (s.kind) {
          case 'create':
            created.push(await w.submit('noop'));
            break;
          case 'schedule':
            await schedule(w.deps);
            break;
          case 'get-next':
            await getNextForWorker(w.deps, await workers[s.worker]!.caller()).catch(expected);
            break;
          case 'heartbeat': {
            const r = pick(s.pick);
            if (r) await recordHeartbeat(w.deps, await workers[s.worker]!.caller(), r.id, ['tick']).catch(expected);
            break;
          }
          case 'complete': {
            const r = pick(s.pick);
            if (r) await completeWorkRequest(w.deps, await workers[s.worker]!.caller(), r.id, { result: s.result }).catch(expected);
            break;
          }
          case 'complete-twice': {
            const r = pick(s.pick);
            for (let i = 0; i < 2 && r; i++) await completeWorkRequest(w.deps, await workers[s.worker]!.caller(), r.id, { result: 'success' }).catch(expected);
            break;
          }
          case 'abort': {
            const r = pick(s.pick);
            if (r) await abortWorkRequest(w.deps, await w.caller('contributor'), r.id).catch(expected);
            break;
          }
          case 'time-passes':
            w.deps.clock.advance(s.ms);
            break;
          case 'watchdog':
            await reclaimStale(w.deps);
            break;
          case 'replay-heartbeats':
            await applyHeartbeats(w.deps, [...w.deps.queues.heartbeats].reverse());
            break;
          case 'reconnect':
            await updateDynamicMetadata(w.deps, await workers[s.worker]!.caller(), AMD64_METADATA).catch(expected);
            break;
        }
        await checkInvariants(w, illegal);
      }
      await drain(w, workers);
      await checkInvariants(w, illegal);
      const unfinished = [...w.deps.workRequests.items.values()].filter((r) => !isFinished(r));
      if (unfinished.length) throw new Error(`unfinished: ${unfinished.map((r) => `${r.id}:${r.status}`).join(', ')}`);
    }),
    { numRuns: 60 },
  );
});
