/**
 * DynamoDB and SQS requests of one `noop` work request's whole life, counted step by step with the
 * use cases the Lambda functions run (in-process, counting clients; see bench/inprocess.ts):
 *
 *   POST work-request/ (offers it to the idle worker, which takes it: creates it already assigned,
 *   notifies the worker's queue; no scheduler event, so no scheduling pass, as work-requests-api is wired: `offerOnCreate`)
 *   → the worker receives and deletes the message → GET get-next-for-worker/ (starts it)
 *   → PUT completed/?next=1 (no scheduler event: the same round trip pulls the worker's next
 *   request; nothing pending here, so `{"next": null}`: no second get-next).
 *
 * A noop ends well within the worker's heartbeat interval, so it sends no heartbeat (the start
 * written by get-next is its first sign of life). The creation and the completion are each checked
 * (uncounted) to have left no scheduler event behind: a repetition where the offer did not assign
 * (the stack's own tick got there first) is thrown away.
 */
import { appendFileSync } from 'node:fs';
import { authenticate } from '../shared/app/auth';
import { createWorkRequest } from '../shared/app/work-requests';
import { completeAndPullNext, getNextForWorker } from '../shared/app/workers';
import { DEFAULT_SCOPE } from '../shared/domain/tenancy';
import { averageSnapshots } from './capacity';
import { emptySnapshot, sum, type TallySnapshot } from './counters';
import { deleteBatch, deleteOne, drainAll, freeSlot, receiveOne, type InProcessBench } from './inprocess';
import { accountBatch, accountUsageEventOf, averageRuns, type AccountingRun, type RequestAccounting } from './request-accounting';

export interface LifecycleStep {
  /** What the report looks a step up by. */
  key: StepKey;
  label: string;
  /** Which Lambda function (or client) runs it. */
  runsIn: string;
  dynamo: TallySnapshot;
  sqs: TallySnapshot;
  /** Min–max of DynamoDB requests and WCU over the repetitions. */
  spread: { requests: [number, number]; wcu: [number, number] };
}

export interface LifecycleCost {
  repetitions: number;
  /** Repetitions thrown away because the local stack's own 1-minute scheduler tick got in between. */
  discarded: number;
  steps: LifecycleStep[];
  total: { dynamo: TallySnapshot; sqs: TallySnapshot };
  workersRegistered: number;
  /** The accountant applying the finished request's usage event: not a step of the request's life (not in `total`). */
  accounting: RequestAccounting;
}

class Interference extends Error {}

export type StepKey = 'create' | 'message' | 'start' | 'complete';

interface StepDef {
  key: StepKey;
  label: string;
  runsIn: string;
}

const STEPS: StepDef[] = [
  {
    key: 'create',
    label: '`POST work-request/` (authenticate; offer to the idle worker: markers ‖ free slots, candidates; create it already assigned: slot, one Put; notify worker queue; no scheduler event)',
    runsIn: 'work-requests-api',
  },
  { key: 'message', label: 'worker receives its queue message and deletes it', runsIn: 'worker (SQS long poll)' },
  { key: 'start', label: '`GET get-next-for-worker/` → 200 (authenticate, mark seen, start)', runsIn: 'work-requests-api' },
  {
    key: 'complete',
    label: '`PUT completed/?next=1` (authenticate, finish + release slot, no scheduler event; pulls the next request: nothing pending → `{"next": null}`)',
    runsIn: 'work-requests-api',
  },
];

export async function measureLifecycle(bench: InProcessBench, options: { userToken: string; workspace: string; repetitions: number }): Promise<LifecycleCost> {
  const { counting, sqs, sinks } = bench;
  // As functions/work-requests-api.ts wires it: the create offers the request to an idle worker.
  const deps = { ...counting.deps, offerOnCreate: true };
  const samples: { dynamo: TallySnapshot; sqs: TallySnapshot }[][] = [];
  let discarded = 0;
  const accountingRuns: AccountingRun[] = [];
  let accountingRun: AccountingRun | undefined;

  const one = async (): Promise<{ dynamo: TallySnapshot; sqs: TallySnapshot }[]> => {
    const out: { dynamo: TallySnapshot; sqs: TallySnapshot }[] = [];
    const step = async <T>(run: () => Promise<T>): Promise<T> => {
      const before = { dynamo: counting.dynamo.snapshot(), sqs: counting.sqs.snapshot() };
      if (process.env['BENCH_DYNAMO_LOG']) appendFileSync(process.env['BENCH_DYNAMO_LOG'], `--- step ${STEPS[out.length]?.key}\n`);
      const result = await run();
      out.push({ dynamo: counting.dynamo.since(before.dynamo), sqs: counting.sqs.since(before.sqs) });
      return result;
    };
    /** Not a step (uncounted, no wait): what the step before left in the scheduler sink. */
    const noSchedulerEvent = async (after: string): Promise<void> => {
      const leftover = await receiveOne(bench.rawSqs, sinks.scheduler, 0);
      if (!leftover) return;
      await deleteBatch(bench.rawSqs, sinks.scheduler, [leftover]);
      throw new Interference(`a scheduler event after ${after}: ${leftover.Body?.slice(0, 200)}`);
    };

    const wr = await step(async () =>
      createWorkRequest(deps, await authenticate(deps, options.userToken), {
        scope: DEFAULT_SCOPE,
        workspace: options.workspace,
        taskName: 'noop',
        taskData: {},
      }),
    );
    await noSchedulerEvent('the creation (the offer did not assign it)');
    const assignedTo = (await bench.plain.workRequests.get(wr.id))?.worker;
    if (assignedTo !== bench.worker.name) throw new Interference(`the offer left ${wr.id} with worker ${assignedTo}`);
    await step(async () => {
      const message = await receiveOne(sqs, bench.worker.queueUrl);
      if (!message) throw new Interference('no message in the worker queue');
      await deleteOne(sqs, bench.worker.queueUrl, message);
    });
    await step(async () => {
      const started = await getNextForWorker(deps, await bench.workerCaller(deps), []);
      if (started?.id !== wr.id) throw new Interference(`get-next returned ${started?.id}, expected ${wr.id}`);
    });
    await step(async () => {
      const { next, pullFailed } = await completeAndPullNext(deps, await bench.workerCaller(deps), wr.id, {
        result: 'success',
        outputData: { runtime_statistics: { duration: 1, cpu_time: 1, memory: 100_000_000, cpu_count: 2, available_memory: 8_000_000_000, available_disk: 50_000_000_000 } },
      });
      if (pullFailed) throw new Error('the completion could not pull the next request');
      if (next) throw new Interference(`the completion handed out ${next.id}`);
    });
    await noSchedulerEvent('the completion');
    accountingRun = await accountUsageEventOf(bench, wr.id);
    return out;
  };

  while (samples.length < options.repetitions) {
    try {
      samples.push(await one());
      accountingRuns.push(accountingRun!);
    } catch (err) {
      if (!(err instanceof Interference) || discarded >= 5) throw err;
      discarded += 1;
      await freeSlot(bench);
      await drainAll(bench);
    }
  }

  const steps: LifecycleStep[] = STEPS.map((def, i) => {
    const dyn = samples.map((s) => s[i]!.dynamo);
    const requests = dyn.map((d) => Object.values(d.requests).reduce((n, v) => n + v, 0));
    const wcu = dyn.map((d) => d.wcu);
    return {
      ...def,
      dynamo: averageSnapshots(dyn),
      sqs: averageSnapshots(samples.map((s) => s[i]!.sqs)),
      spread: { requests: [Math.min(...requests), Math.max(...requests)], wcu: [Math.min(...wcu), Math.max(...wcu)] },
    };
  });
  const total = {
    dynamo: steps.map((s) => s.dynamo).reduce(sum, emptySnapshot()),
    sqs: steps.map((s) => s.sqs).reduce(sum, emptySnapshot()),
  };
  const accounting = { idle: averageRuns(accountingRuns), batched: await accountBatch(bench, { workspace: options.workspace, actor: 'system:bench-lifecycle' }) };
  return { repetitions: samples.length, discarded, steps, total, workersRegistered: (await bench.plain.workers.list()).length, accounting };
}
