/**
 * Recurring-jobs benchmark (issue 10): DynamoDB requests and capacity units of one tick with 100, 10,000
 * and 100,000 jobs of which 10 are due, due → started on the local stack with a real worker, and the cost
 * per million runs at list prices from the counts of a whole run cycle. Runs on its own (DynamoDB Local in
 * memory and the SQS emulator in a temporary directory; then `conveyor dev` and a worker for the latency):
 *
 *   node --import tsx bench/recurring.ts [--sizes 100,10000,100000] [--rounds 20] [--samples 30]
 *                                         [--tick-seconds 2] [--out FILE] [--json FILE]
 *
 * and replaces the "Recurring jobs" section of BENCHMARKS.md (or FILE); `npm run bench -- --only
 * recurring` runs it (without the local-stack latency: that run has a stack of its own) as a section of
 * the whole report. The jobs that are not due are written straight into the table as prebuilt items with
 * BatchWriteItem, 32 requests in flight (their runs are due hours later, so they sit in the sparse due
 * index like any waiting run); the 10 due ones are created through the repository. Per size three
 * things are measured with the real use cases: the tick that releases the 10 (due-index Query per
 * shard, then per run a work-request id, the work request, two job writes and a scheduler message; then
 * the reconcile pass), an idle tick right after (nothing due), and each run's start and finish hooks.
 * The whole cycle (bench/recurring-cycle.ts) adds the scheduler, the worker's get-next and its completion.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startEmulators } from '../cli/dev/emulators';
import { provision } from '../cli/dev/provision';
import { createAwsDeps } from '../shared/adapters/aws';
import { jobItem } from '../shared/adapters/dynamodb/recurring-job-repository';
import { ManualClock } from '../shared/adapters/memory';
import { releaseDueRuns } from '../shared/app/recurring-release';
import { reconcileRecurringRuns } from '../shared/app/recurring-reconcile';
import { compile } from '../build/compile';
import { measureDueToStarted, measureRunCycle, type DueToStarted, type RunCycle } from './recurring-cycle';
import { recurringRunFinished, recurringRunStarted } from '../shared/app/recurring-runs';
import { createRecurringJob, type RecurringJob } from '../shared/domain/recurring-jobs';
import type { Deps } from '../shared/ports';
import { PRICES } from './cost';
import { Tally, countingDynamoClient, diff, totalRequests, type TallySnapshot } from './counters';
import { runStandalone, writeSection } from './expiry';
import { fmt, fmtUsd, percentile } from './stats';

const DUE = 10;
const T0 = new Date('2030-01-01T00:00:00.000Z');
/** Production tick period (shared/manifest.ts schedules the release every minute). */
const TICK_SECONDS = 60;
const READS = ['GetItemCommand', 'QueryCommand', 'ScanCommand', 'BatchGetItemCommand', 'TransactGetItemsCommand'];

export interface RecurringSizeRow {
  jobs: number;
  /** The tick that released the DUE runs. */
  release: { dynamo: TallySnapshot; ms: number };
  /** The tick right after, nothing due. */
  idle: { dynamo: TallySnapshot; ms: number };
  /** Start and finish of the DUE runs together (worker took it; result recorded, next run due). */
  finish: { dynamo: TallySnapshot; ms: number };
  fillSeconds: number;
}

export interface RecurringBench {
  rows: RecurringSizeRow[];
  /** Wall time of release ticks with DUE runs due (due → work request pending), ms. */
  releaseMs: number[];
  /** DUE runs through release, dispatch, start and finish (first size). */
  cycle: RunCycle;
  /** On the local stack with a real worker (bench/recurring.ts standalone). */
  dueToStarted?: DueToStarted;
}

/** What the every-minute tick does (functions/recurring-release.ts): release due runs, then the reconcile pass. */
async function tick(deps: Deps): Promise<number[]> {
  const released = await releaseDueRuns(deps);
  await reconcileRecurringRuns(deps);
  return released;
}

const readRequests = (d: TallySnapshot) => READS.reduce((n, c) => n + (d.requests[c] ?? 0), 0);

function jobAt(id: number, due: Date): RecurringJob {
  const input = { id, scope: 'debusine', workspace: 'bench', owner: 'user:bench', kind: 'git-import' as const, target: { url: `https://git.example.org/r${id}.git` } };
  const job = createRecurringJob(input, due).job;
  return { ...job, version: 1 };
}

async function measure<T>(tally: Tally, step: () => Promise<T>): Promise<{ value: T; dynamo: TallySnapshot; ms: number }> {
  const before = tally.snapshot();
  const t = performance.now();
  const value = await step();
  return { value, dynamo: diff(tally.snapshot(), before), ms: performance.now() - t };
}

/** The worker takes each released request, then reports SUCCESS_NOCHANGE: the recurring part of a run's life. */
async function startAndFinish(deps: Deps, clock: ManualClock, wrIds: number[]): Promise<void> {
  for (const id of wrIds) {
    const wr = (await deps.workRequests.get(id))!;
    const at = clock.now().toISOString();
    const running = { ...wr, status: 'running' as const, worker: 'bench-worker', startedAt: at };
    await recurringRunStarted(deps, running);
    await recurringRunFinished(deps, { ...running, status: 'completed', result: 'success', completedAt: at, outputData: { recurring_status: 'SUCCESS_NOCHANGE' } });
  }
}

/** Batches of 25 items in flight at once: DynamoDB Local's request threads get CPU on a loaded machine. */
const FILL_IN_FLIGHT = 32;

/**
 * Writes prebuilt job items straight into the table, 25 a BatchWriteItem, FILL_IN_FLIGHT requests in
 * flight (a pool: a request goes out as soon as one returns), retrying what comes back unprocessed.
 * An uncounted client: the fill is set-up, not part of the measured tick.
 */
async function fillWaitingJobs(env: Record<string, string | undefined>, items: Record<string, unknown>[], progress: (m: string) => void): Promise<void> {
  const client = new DynamoDBClient({ region: env.AWS_REGION!, endpoint: env.AWS_ENDPOINT_URL_DYNAMODB!, credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 10 });
  const doc = DynamoDBDocumentClient.from(client);
  const table = env.CONVEYOR_TABLE_MAIN!;
  let next = 0;
  let written = 0;
  let reported = performance.now();
  const worker = async () => {
    while (next < items.length) {
      let pending = items.slice(next, next + 25).map((Item) => ({ PutRequest: { Item } }));
      next += 25;
      while (pending.length) {
        const res = await doc.send(new BatchWriteCommand({ RequestItems: { [table]: pending } }));
        pending = (res.UnprocessedItems?.[table] ?? []) as typeof pending;
      }
      written += 25;
      if (performance.now() - reported > 30_000) {
        reported = performance.now();
        progress(`recurring: ${Math.min(written, items.length)} of ${items.length} written`);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: FILL_IN_FLIGHT }, worker));
  } finally {
    client.destroy();
  }
}

export async function measureRecurring(sizes: number[], rounds: number, progress: (m: string) => void): Promise<RecurringBench> {
  const dir = mkdtempSync(join(tmpdir(), 'conveyor-bench-recurring-'));
  const emulators = await startEmulators({ dataDir: dir, startTimeoutMs: 180_000, inMemoryDynamoDb: true });
  try {
    const rows: RecurringSizeRow[] = [];
    const releaseMs: number[] = [];
    for (const [n, jobs] of sizes.entries()) {
      const env = await provision(emulators.endpoints, { namePrefix: `bench-recurring-${n}` });
      const tally = new Tally();
      const dynamo = countingDynamoClient({ region: env.AWS_REGION, endpoint: env.AWS_ENDPOINT_URL_DYNAMODB, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }, tally);
      const clock = new ManualClock(new Date(T0));
      const deps = createAwsDeps(env, { dynamoClient: dynamo, clock });
      progress(`recurring: writing ${jobs - DUE} jobs that are not due (BatchWriteItem)`);
      const filled = performance.now();
      // Due 1 to 6 hours later, spread over the index like jobs imported at different times.
      const waiting = Array.from({ length: jobs - DUE }, (_, i) => jobItem(jobAt(1_000_000 + i, new Date(T0.getTime() + 3600_000 * (1 + (i % 5)) + i * 1000))));
      await fillWaitingJobs(env, waiting, progress);
      const fillSeconds = (performance.now() - filled) / 1000;
      let row: RecurringSizeRow | undefined;
      // Round r makes DUE fresh jobs due now; the first round's requests go in the table, the later rounds
      // (first size only; round 0 warms DynamoDB Local up) give the release latency.
      for (let r = 0; r < (n === 0 ? rounds + 1 : 1); r++) {
        for (let i = 0; i < DUE; i++) {
          const change = createRecurringJob({ id: r * DUE + i + 1, scope: 'debusine', workspace: 'bench', owner: 'user:bench', kind: 'git-import', target: { url: `https://git.example.org/due${i}.git` } }, clock.now());
          await deps.recurringJobs!.create({ ...change.job, version: 1 }, change.events);
        }
        clock.advance(1000);
        const release = await measure(tally, () => tick(deps));
        if (release.value.length !== DUE) throw new Error(`expected ${DUE} runs released, got ${release.value.length}`);
        if (r > 0) releaseMs.push(release.ms);
        const idle = await measure(tally, () => tick(deps));
        if (idle.value.length !== 0) throw new Error(`expected an idle tick, released ${idle.value.length}`);
        const finish = await measure(tally, () => startAndFinish(deps, clock, release.value));
        row ??= { jobs, release, idle, finish, fillSeconds };
      }
      rows.push(row!);
      progress(`recurring: ${jobs} jobs → release tick ${readRequests(row!.release.dynamo)} reads, ${row!.release.dynamo.rcuBilled} RCU; idle tick ${readRequests(row!.idle.dynamo)} reads`);
      dynamo.destroy();
    }
    // A table of its own: the runs above left their work requests pending (their hooks were called directly).
    progress(`recurring: ${DUE} runs through release, dispatch, start and finish`);
    const env = await provision(emulators.endpoints, { namePrefix: 'bench-recurring-cycle' });
    const tally = new Tally();
    const dynamo = countingDynamoClient({ region: env.AWS_REGION, endpoint: env.AWS_ENDPOINT_URL_DYNAMODB, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }, tally);
    const cycle = await measureRunCycle(env, dynamo, tally, new ManualClock(new Date(T0)), DUE);
    dynamo.destroy();
    return { rows, releaseMs, cycle };
  } finally {
    await emulators.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const fmtN = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 1 });

/** A run's cycle priced at list prices, per run, from the counts of `measureRunCycle`. */
export function runCycleCost(cycle: RunCycle) {
  const per = (n: number) => n / cycle.runs;
  const sqsCode = Object.values(cycle.sqs).reduce((a, b) => a + b, 0);
  const messages = (cycle.sqs['SendMessageCommand'] ?? 0) + (cycle.sqs['SendMessageBatchCommand'] ?? 0);
  // Each message is received and deleted by a Lambda event source mapping (at most one request each);
  // each consumed message is at most one Lambda invocation; the worker makes 2 API calls a run.
  const apiCalls = 2;
  const lines = [
    { item: 'DynamoDB read request units', perRun: per(cycle.dynamo.rcuBilled), unit: PRICES.dynamoReadRequestUnitPerMillion },
    { item: 'DynamoDB write request units', perRun: per(cycle.dynamo.wcu), unit: PRICES.dynamoWriteRequestUnitPerMillion },
    { item: `SQS requests (${fmtN(per(sqsCode))} sent by the code, + receive and delete of ${fmtN(per(messages))} messages)`, perRun: per(sqsCode + 2 * messages), unit: PRICES.sqsStandardPerMillion },
    { item: `Lambda invocations (${apiCalls} API calls, + ${fmtN(per(messages))} queue messages at most)`, perRun: apiCalls + per(messages), unit: PRICES.lambdaRequestsPerMillion },
    { item: 'API Gateway HTTP API requests (get-next, completion)', perRun: apiCalls, unit: PRICES.apiGatewayHttpPerMillion },
  ];
  return { lines, total: lines.reduce((t, l) => t + l.perRun * l.unit, 0) };
}

export function renderRecurringSection(bench: RecurringBench, command: string): string {
  const line = (r: RecurringSizeRow, label: string, m: { dynamo: TallySnapshot; ms: number }) =>
    `| ${fmtN(r.jobs)} | ${label} | ${readRequests(m.dynamo)} | ${fmtN(m.dynamo.rcuBilled)} | ${fmtN(m.dynamo.itemsScanned)} | ${totalRequests(m.dynamo) - readRequests(m.dynamo)} | ${fmtN(m.dynamo.wcu)} | ${fmt(m.ms)} |`;
  const last = bench.rows[bench.rows.length - 1]!;
  const idleMonth = ((last.idle.dynamo.rcuBilled * 43_200 * PRICES.dynamoReadRequestUnitPerMillion) / 1e6) + (43_200 * PRICES.lambdaRequestsPerMillion) / 1e6;
  const p = (q: number) => fmt(percentile(bench.releaseMs, q), 0);
  const fills = bench.rows.map((r) => `${fmtN(r.jobs)} in ${fmt(r.fillSeconds)} s`).join(', ');
  const c = bench.cycle;
  const cost = runCycleCost(c);
  const failed = Object.entries(c.dynamo.failures).map(([k, v]) => `${v} ${k}`).join(', ') || 'none';
  const latency = bench.dueToStarted;
  const q = (v: number) => fmt(percentile(latency!.samples, v) / 1000, 1);
  return [
    '## Recurring jobs',
    '',
    `One tick with N jobs of which ${DUE} are due (\`${command}\`, DynamoDB Local in memory; RCU counted with the`,
    'per-request minimum). The tick is what functions/recurring-release.ts does every minute: release the due runs,',
    'read from the sparse due index (one Query per shard, `gsi3sk <= now`), then the reconcile pass over the sparse',
    'runs-out index (one Query per shard; runs released more than 5 minutes ago). Its reads should be flat in N; the',
    `writes are the releases themselves. "start + finish" is the recurring part of the ${DUE} runs' lives (the run's`,
    'hooks: SUCCESS_NOCHANGE recorded, next run due). Jobs that are not due were written straight into the table as',
    `prebuilt items, 25 a BatchWriteItem and 32 requests in flight (${fills}); the ${DUE} due ones through the repository.`,
    '',
    '| jobs | step | read requests | RCU | items read | write requests | WCU | ms |',
    '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...bench.rows.flatMap((r) => [line(r, `tick (${DUE} due)`, r.release), line(r, 'idle tick (0 due)', r.idle), line(r, `start + finish of ${DUE}`, r.finish)]),
    '',
    `Due → released (the tick's own time, in process), over ${bench.releaseMs.length} ticks of ${DUE} runs at ${fmtN(bench.rows[0]!.jobs)} jobs after one warm-up tick: p50 ${p(50)} ms, p95 ${p(95)} ms.`,
    '',
    ...(latency
      ? [
          `**Due → started** on the local stack (\`conveyor dev\` in process, one \`conveyor worker --tasks git-import\` process, ${latency.jobs} git-import`,
          `jobs against a \`file://\` repository, ${latency.samples.length} runs): from the run's \`date_due\` to its \`date_job_started\` (the server's time of`,
          `the worker's get-next), **p50 ${q(50)} s, p95 ${q(95)} s** (min ${q(0)} s, max ${q(100)} s), with the tick every ${latency.tickSeconds} s (results: ${Object.entries(latency.statuses ?? {}).map(([k, v]) => `${v} ${k}`).join(', ')}). The path: wait for`,
          'the tick, release, scheduler queue, scheduling pass, worker queue, get-next. In AWS the tick runs every 60 s, which',
          `adds about ${fmt((60 - latency.tickSeconds) / 2, 0)} s on average (up to ${60 - latency.tickSeconds} s) to these figures.`,
        ]
      : ['Due → started on the local stack is measured by `node --import tsx bench/recurring.ts` (it starts the local stack and a worker).']),
    '',
    `**A run's whole cycle**, measured in process with the real use cases on a table of its own: ${c.runs} jobs due, one tick`,
    `releases them (work requests created, the scheduler told), one scheduling pass assigns them, the worker's get-next starts`,
    `each and its completion (SUCCESS_NOCHANGE) finishes it, recording the result and making the next run due. Per run:`,
    `${fmtN(c.dynamo.rcuBilled / c.runs)} RCU and ${fmtN(c.dynamo.wcu / c.runs)} WCU in ${fmtN(readRequests(c.dynamo) / c.runs)} read and ${fmtN((totalRequests(c.dynamo) - readRequests(c.dynamo)) / c.runs)} write requests (failed conditional writes: ${failed}); SQS requests by`,
    `command: ${Object.entries(c.sqs).map(([k, v]) => `${k.replace(/Command$/, '')} ${fmtN(v / c.runs)}`).join(', ') || 'none'}.`,
    '',
    '| per run | count | price | per million runs |',
    '| --- | ---: | ---: | ---: |',
    ...cost.lines.map((l) => `| ${l.item} | ${fmtN(l.perRun)} | $${l.unit.toFixed(2)} / million | ${fmtUsd(l.perRun * l.unit)} |`),
    `| **total** | | | **${fmtUsd(cost.total)}** |`,
    '',
    "Not included: Lambda compute time (see the work-request section for a request's handler times), the worker's machine,",
    "and the import's own artifacts (log and bundle uploads: see the artifact cost). The idle ticks cost",
    `${fmtUsd(idleMonth)} a month (43,200 ticks at ${fmtN(last.jobs)} jobs: their reads and Lambda requests).`,
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let sizes = [100, 10_000, 100_000];
  let rounds = 20;
  let out = resolve(__dirname, '..', 'BENCHMARKS.md');
  let json: string | undefined;
  let samples = 30;
  let tickSeconds = 2;
  /** The JSON (--json) of an earlier run: its due → started, instead of measuring it again. */
  let dueToStartedFrom: string | undefined;
  /** The JSON of an earlier run: its ticks and cycle, instead of measuring them again. */
  let sizesFrom: string | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--sizes') sizes = args[++i]!.split(',').map(Number);
    else if (args[i] === '--rounds') rounds = Number(args[++i]);
    else if (args[i] === '--out') out = resolve(args[++i]!);
    else if (args[i] === '--json') json = resolve(args[++i]!);
    else if (args[i] === '--samples') samples = Number(args[++i]);
    else if (args[i] === '--tick-seconds') tickSeconds = Number(args[++i]);
    else if (args[i] === '--due-to-started-from') dueToStartedFrom = resolve(args[++i]!);
    else if (args[i] === '--sizes-from') sizesFrom = resolve(args[++i]!);
    else throw new Error(`unknown argument ${args[i]} (use --sizes a,b,c, --rounds N, --samples N (0: no local stack), --tick-seconds S, --out FILE and --json FILE)`);
  }
  if (sizes.some((s) => !Number.isSafeInteger(s) || s < DUE)) throw new Error(`--sizes: each size must be an integer of at least ${DUE}`);
  const progress = (m: string) => process.stdout.write(`[bench] ${m}\n`);
  let dueToStarted: DueToStarted | undefined = dueToStartedFrom ? (JSON.parse(readFileSync(dueToStartedFrom, 'utf8')) as RecurringBench).dueToStarted : undefined;
  if (samples > 0 && !dueToStarted) {
    // The worker process runs bin/conveyor, which runs dist/: today's code, compiled.
    progress('recurring: compiling dist/ for the worker');
    await compile();
    const dir = mkdtempSync(join(tmpdir(), 'conveyor-bench-recurring-stack-'));
    // The local stack's handlers log every request; the progress lines are enough here.
    const log = console.log;
    console.log = () => undefined;
    try {
      dueToStarted = await measureDueToStarted({ repoRoot: resolve(__dirname, '..'), dataDir: dir, samples, jobs: 3, intervalSeconds: 10, tickSeconds, progress });
    } finally {
      console.log = log;
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const measured = sizesFrom ? (JSON.parse(readFileSync(sizesFrom, 'utf8')) as RecurringBench) : await measureRecurring(sizes, rounds, progress);
  const bench = { ...measured, ...(dueToStarted ? { dueToStarted } : {}) };
  if (json) writeFileSync(json, JSON.stringify(bench, null, 2));
  writeSection(out, renderRecurringSection(bench, `node --import tsx bench/recurring.ts ${args.join(' ')}`.trim()));
}

if (require.main === module) runStandalone(main);
