/**
 * Where one idle dispatch spends its time: the steps of `POST work-request/` (which offers the
 * request to the idle worker: assignment and worker message, no scheduler event) → worker message →
 * get-next, run in-process against the local stack's emulators
 * with UNCOUNTED clients (the counting ones read every written item back, which would distort
 * times), each AWS request timestamped by an SDK middleware. The sum of the steps is the server
 * side of section 4's dispatch latency without the Lambda event source's and the worker's own
 * overheads (process scheduling, HTTP to the gateway).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { performance } from 'node:perf_hooks';
import { createAwsDeps } from '../shared/adapters/aws';
import { authenticate } from '../shared/app/auth';
import { createWorkRequest } from '../shared/app/work-requests';
import { completeWorkRequest, getNextForWorker } from '../shared/app/workers';
import { DEFAULT_SCOPE } from '../shared/domain/tenancy';
import { deleteBatch, deleteOne, drainAll, freeSlot, receiveOne, type InProcessBench } from './inprocess';
import { fmt, percentile } from './stats';

export interface Call {
  command: string;
  start: number;
  end: number;
}

export interface TracedStep {
  label: string;
  /** Wall time of the step, per repetition (ms). */
  ms: number[];
  /** AWS requests of the step, per repetition. */
  calls: Call[][];
}

export interface DispatchTrace {
  repetitions: number;
  steps: TracedStep[];
}

const STEP_LABELS = [
  '`POST work-request/` (authenticate; offer: markers ‖ free slots, candidates; create it assigned: slot, Put; notify; no scheduler event)',
  'worker message: long-poll receive + delete',
  '`GET get-next-for-worker/` → 200 (authenticate, mark seen ‖ own requests, start)',
] as const;

export function timed<C extends DynamoDBClient | SQSClient>(client: C, calls: Call[]): C {
  (client as DynamoDBClient).middlewareStack.add(
    (next, context) => async (args) => {
      const call: Call = { command: (context.commandName ?? 'Unknown').replace(/Command$/, ''), start: performance.now(), end: 0 };
      calls.push(call);
      try {
        return await next(args);
      } finally {
        call.end = performance.now();
      }
    },
    { step: 'initialize', name: 'benchTraceCalls', priority: 'high' },
  );
  return client;
}

export async function traceDispatch(bench: InProcessBench, options: { userToken: string; workspace: string; repetitions: number }): Promise<DispatchTrace> {
  const env = bench.env;
  const region = env['AWS_REGION'] ?? 'us-east-1';
  const credentials = { accessKeyId: env['AWS_ACCESS_KEY_ID'] ?? 'local', secretAccessKey: env['AWS_SECRET_ACCESS_KEY'] ?? 'local' };
  const calls: Call[] = [];
  const dynamoClient = timed(new DynamoDBClient({ region, credentials, endpoint: env['AWS_ENDPOINT_URL_DYNAMODB'] }), calls);
  const sqs = timed(new SQSClient({ region, credentials, endpoint: env['AWS_ENDPOINT_URL_SQS'] }), calls);
  // As functions/work-requests-api.ts wires it: the create offers the request to an idle worker.
  const deps = { ...createAwsDeps({ ...env }, { dynamoClient, sqs }), offerOnCreate: true };
  const steps: TracedStep[] = STEP_LABELS.map((label) => ({ label, ms: [], calls: [] }));
  const step = async <T>(index: number, run: () => Promise<T>): Promise<T> => {
    calls.length = 0;
    const t0 = performance.now();
    const result = await run();
    steps[index]!.ms.push(performance.now() - t0);
    steps[index]!.calls.push(calls.map((c) => ({ command: c.command, start: c.start - t0, end: c.end - t0 })));
    return result;
  };

  await freeSlot(bench);
  await drainAll(bench);
  // One warm-up round (module and connection set-up), not recorded.
  for (let rep = -1; rep < options.repetitions; rep++) {
    const wr = await step(0, async () =>
      createWorkRequest(deps, await authenticate(deps, options.userToken), { scope: DEFAULT_SCOPE, workspace: options.workspace, taskName: 'noop', taskData: {} }),
    );
    // Not a step (uncounted, no wait): an idle dispatch sends no scheduler event.
    const event = await receiveOne(bench.rawSqs, bench.sinks.scheduler, 0);
    if (event) {
      await deleteBatch(bench.rawSqs, bench.sinks.scheduler, [event]);
      throw new Error(`dispatch trace: the create sent a scheduler event (its offer did not assign ${wr.id}): ${event.Body?.slice(0, 200)}`);
    }
    await step(1, async () => {
      const message = await receiveOne(sqs, bench.worker.queueUrl);
      if (message) await deleteOne(sqs, bench.worker.queueUrl, message);
    });
    const started = await step(2, async () => getNextForWorker(deps, await bench.workerCaller(deps), []));
    if (started?.id !== wr.id) throw new Error(`dispatch trace: get-next returned ${started?.id}, expected ${wr.id}`);
    await completeWorkRequest(deps, await bench.workerCaller(deps), wr.id, { result: 'success' });
    await getNextForWorker(deps, await bench.workerCaller(deps), []);
    if (rep < 0) for (const s of steps) (s.ms.pop(), s.calls.pop());
  }
  dynamoClient.destroy();
  sqs.destroy();
  return { repetitions: options.repetitions, steps };
}

/** Round trips of a step: groups of calls that overlap in time (issued in parallel) count as one. */
export function roundTrips(calls: Call[]): Call[][] {
  const groups: Call[][] = [];
  let end = -Infinity;
  for (const call of [...calls].sort((a, b) => a.start - b.start)) {
    if (call.start < end && groups.length > 0) groups[groups.length - 1]!.push(call);
    else groups.push([call]);
    end = Math.max(end, call.end);
  }
  return groups;
}

export function renderDispatchTraceSection(trace: DispatchTrace, command: string): string {
  const rows = trace.steps.map((s) => {
    const median = (values: number[]) => percentile(values, 50);
    const typical = s.calls[s.calls.length - 1] ?? [];
    const trips = roundTrips(typical);
    const awsMs = s.calls.map((c) => roundTrips(c).reduce((sum, g) => sum + (Math.max(...g.map((x) => x.end)) - Math.min(...g.map((x) => x.start))), 0));
    const sequence = trips.map((g) => (g.length === 1 ? g[0]!.command : `(${g.map((c) => c.command).join(' ‖ ')})`)).join(' → ');
    return `| ${s.label} | ${fmt(median(s.ms), 1)} ms | ${fmt(median(awsMs), 1)} ms | ${typical.length} | ${trips.length} | ${sequence} |`;
  });
  const total = trace.steps.reduce((sum, s) => sum + percentile(s.ms, 50), 0);
  return [
    '## Dispatch trace: where one idle dispatch spends its time',
    '',
    `From \`${command}\`: one noop request at a time, in-process against the local stack's emulators with uncounted clients, every AWS request timestamped (${trace.repetitions} repetitions, medians; the sequence is the last repetition's). **Times depend on the machine's load; the request and round-trip counts do not.** A round trip is a group of requests in flight together (‖).`,
    '',
    '| step | wall (p50) | in AWS requests (p50) | AWS requests | round trips | sequence |',
    '| --- | ---: | ---: | ---: | ---: | --- |',
    ...rows,
    `| **sum of the steps** | **${fmt(total, 1)} ms** | | | | |`,
    '',
  ].join('\n');
}
