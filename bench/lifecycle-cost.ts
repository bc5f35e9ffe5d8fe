/**
 * DynamoDB and SQS requests of one `noop` work request's whole life, counted step by step with the
 * use cases the Lambda functions run (in-process, counting clients; see bench/inprocess.ts):
 *
 *   POST work-request/ → scheduler event → scheduling pass (assigns, notifies the worker's queue)
 *   → the worker receives and deletes the message → GET get-next-for-worker/ (starts it)
 *   → POST heartbeat/ → PUT completed/ → GET get-next-for-worker/ again (204: the worker asks once
 *   its slot is free) → heartbeat-applier → scheduler event of the completion → scheduling pass.
 *
 * The heartbeat is applied after the completion, as on the stack: the heartbeat-applier's event
 * source waits for its 5 s batching window, and a noop is done long before.
 */
import { authenticate } from '../shared/app/auth';
import { schedule } from '../shared/app/scheduler';
import { applyHeartbeats } from '../shared/app/heartbeats';
import { createWorkRequest } from '../shared/app/work-requests';
import { completeWorkRequest, getNextForWorker, recordHeartbeat } from '../shared/app/workers';
import { parseJobMessageOf } from '../shared/adapters/sqs/job-queues';
import { DEFAULT_SCOPE } from '../shared/domain/tenancy';
import type { HeartbeatMessage } from '../shared/ports';
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
  { label: '`POST heartbeat/` → 202 (authenticate, check, send to heartbeat queue)', runsIn: 'work-requests-api' },
  { label: '`PUT completed/` (authenticate, finish + release slot, send scheduler event)', runsIn: 'work-requests-api' },
  { label: '`GET get-next-for-worker/` → 204 (the worker asks again once its slot is free)', runsIn: 'work-requests-api' },
  { label: 'heartbeat-applier (receive, conditional write fails: already completed, delete)', runsIn: 'heartbeat-applier' },
  { label: 'scheduling pass for the completion event (receive, pass: nothing to assign, delete)', runsIn: 'scheduler' },
];

const LINES = ['noop: result success'];

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
    const schedulerPass = async (expectAssigned: number | undefined): Promise<void> => {
      const message = await receiveOne(sqs, sinks.scheduler);
      if (!message) throw new Interference('no scheduler event in the sink');
      const summary = await schedule(deps);
      await deleteBatch(sqs, sinks.scheduler, [message]);
      const assigned = summary.assigned.map((a) => a.workRequestId);
      if (expectAssigned !== undefined && (assigned.length !== 1 || assigned[0] !== expectAssigned)) {
        throw new Interference(`the pass assigned [${assigned.join(', ')}], expected [${expectAssigned}]`);
      }
      if (expectAssigned === undefined && assigned.length !== 0) throw new Interference(`the completion pass assigned [${assigned.join(', ')}]`);
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
    await step(async () => recordHeartbeat(deps, await bench.workerCaller(deps), wr.id, LINES));
    await step(async () =>
      completeWorkRequest(deps, await bench.workerCaller(deps), wr.id, {
        result: 'success',
        outputData: { runtime_statistics: { duration: 1, cpu_time: 1, memory: 100_000_000, cpu_count: 2, available_memory: 8_000_000_000, available_disk: 50_000_000_000 } },
      }),
    );
    await step(async () => {
      const next = await getNextForWorker(deps, await bench.workerCaller(deps), []);
      if (next) throw new Interference(`get-next handed out ${next.id}`);
    });
    await step(async () => {
      const message = await receiveOne(sqs, sinks.heartbeats);
      if (!message?.Body) throw new Interference('no heartbeat in the sink');
      const { type: _type, ...heartbeat } = parseJobMessageOf(message.Body, 'heartbeat');
      await applyHeartbeats(deps, [heartbeat as HeartbeatMessage]);
      await deleteBatch(sqs, sinks.heartbeats, [message]);
    });
    await step(() => schedulerPass(undefined));
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
