/**
 * DynamoDB and SQS requests of one `noop` work request's whole life, counted step by step with the
 * use cases the Lambda functions run (in-process, counting clients; see bench/inprocess.ts):
 *
 *   POST work-request/ → scheduler event → scheduling pass (assigns, notifies the worker's queue)
 *   → the worker receives and deletes the message → GET get-next-for-worker/ (starts it)
 *   → PUT completed/?next=1 (no scheduler event: the same round trip pulls the worker's next
 *   request; nothing pending here, so `{"next": null}`: no second get-next).
 *
 * A noop ends well within the worker's heartbeat interval, so it sends no heartbeat (the start
 * written by get-next is its first sign of life). The step list ends by checking that the
 * completion left no scheduler event behind.
 */
import { authenticate } from '../shared/app/auth';
import { EVENT_PASS, schedule } from '../shared/app/scheduler';
import { createWorkRequest } from '../shared/app/work-requests';
import { completeAndPullNext, getNextForWorker } from '../shared/app/workers';
import { DEFAULT_SCOPE } from '../shared/domain/tenancy';
import { averageSnapshots } from './capacity';
import { emptySnapshot, sum, type TallySnapshot } from './counters';
import { deleteBatch, deleteOne, drainAll, freeSlot, receiveOne, type InProcessBench } from './inprocess';

export interface LifecycleStep {
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
}

class Interference extends Error {}

interface StepDef {
  label: string;
  runsIn: string;
}

const STEPS: StepDef[] = [
  { label: '`POST work-request/` (authenticate, create, send scheduler event)', runsIn: 'work-requests-api' },
  { label: 'scheduling pass for the creation event (receive, pass: assign + notify worker queue, delete)', runsIn: 'scheduler' },
  { label: 'worker receives its queue message and deletes it', runsIn: 'worker (SQS long poll)' },
  { label: '`GET get-next-for-worker/` → 200 (authenticate, mark seen, start)', runsIn: 'work-requests-api' },
  { label: '`PUT completed/?next=1` (authenticate, finish + release slot, no scheduler event; pulls the next request: nothing pending → `{"next": null}`)', runsIn: 'work-requests-api' },
];

export async function measureLifecycle(bench: InProcessBench, options: { userToken: string; workspace: string; repetitions: number }): Promise<LifecycleCost> {
  const { counting, sqs, sinks } = bench;
  const deps = counting.deps;
  const samples: { dynamo: TallySnapshot; sqs: TallySnapshot }[][] = [];
  let discarded = 0;

  const one = async (): Promise<{ dynamo: TallySnapshot; sqs: TallySnapshot }[]> => {
    const out: { dynamo: TallySnapshot; sqs: TallySnapshot }[] = [];
    const step = async <T>(run: () => Promise<T>): Promise<T> => {
      const before = { dynamo: counting.dynamo.snapshot(), sqs: counting.sqs.snapshot() };
      const result = await run();
      out.push({ dynamo: counting.dynamo.since(before.dynamo), sqs: counting.sqs.since(before.sqs) });
      return result;
    };
    const schedulerPass = async (expectAssigned: number): Promise<void> => {
      const message = await receiveOne(sqs, sinks.scheduler);
      if (!message) throw new Interference('no scheduler event in the sink');
      const summary = await schedule(deps, EVENT_PASS);
      await deleteBatch(sqs, sinks.scheduler, [message]);
      const assigned = summary.assigned.map((a) => a.workRequestId);
      if (assigned.length !== 1 || assigned[0] !== expectAssigned) {
        throw new Interference(`the pass assigned [${assigned.join(', ')}], expected [${expectAssigned}]`);
      }
    };

    const wr = await step(async () =>
      createWorkRequest(deps, await authenticate(deps, options.userToken), {
        scope: DEFAULT_SCOPE,
        workspace: options.workspace,
        taskName: 'noop',
        taskData: {},
      }),
    );
    await step(() => schedulerPass(wr.id));
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
    // Not a step (not counted): the completion must have sent no scheduler event.
    const leftover = await receiveOne(sqs, sinks.scheduler);
    if (leftover) {
      await deleteBatch(sqs, sinks.scheduler, [leftover]);
      throw new Interference(`a scheduler event after the completion: ${leftover.Body?.slice(0, 200)}`);
    }
    return out;
  };

  while (samples.length < options.repetitions) {
    try {
      samples.push(await one());
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
  return { repetitions: samples.length, discarded, steps, total, workersRegistered: (await bench.plain.workers.list()).length };
}
