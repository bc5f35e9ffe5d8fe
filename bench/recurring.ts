/**
 * Recurring-jobs benchmark (issue 10): DynamoDB requests and capacity units of one release tick with
 * 100, 10,000 and 100,000 jobs of which 10 are due, the release latency, and the cost per million runs
 * at list prices. Runs on its own (DynamoDB Local and the SQS emulator in a temporary directory):
 *
 *   node --import tsx bench/recurring.ts [--sizes 100,10000,100000] [--rounds 20] [--out FILE]
 *
 * and replaces the "Recurring jobs" section of BENCHMARKS.md (or FILE); `npm run bench -- --only
 * recurring` runs it as a section of the whole report. The jobs that are not due are written straight
 * into the table with BatchWriteItem (their runs are due hours later, so they sit in the sparse due
 * index like any waiting run); the 10 due ones are created through the repository. Per size three
 * things are measured with the real use cases: the tick that releases the 10 (due-index Query per
 * shard, then per run a work-request id, the work request, two job writes and a scheduler message),
 * an idle tick right after (nothing due), and each run's finish (its result recorded, its next run).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startEmulators } from '../cli/dev/emulators';
import { provision } from '../cli/dev/provision';
import { createAwsDeps } from '../shared/adapters/aws';
import { jobItem } from '../shared/adapters/dynamodb/recurring-job-repository';
import { ManualClock } from '../shared/adapters/memory';
import { releaseDueRuns } from '../shared/app/recurring-release';
import { recurringRunFinished, recurringRunStarted } from '../shared/app/recurring-runs';
import { createRecurringJob, type RecurringJob } from '../shared/domain/recurring-jobs';
import type { Deps } from '../shared/ports';
import { PRICES } from './cost';
import { Tally, countingDynamoClient, diff, sum, totalRequests, type TallySnapshot } from './counters';
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
        const release = await measure(tally, () => releaseDueRuns(deps));
        if (release.value.length !== DUE) throw new Error(`expected ${DUE} runs released, got ${release.value.length}`);
        if (r > 0) releaseMs.push(release.ms);
        const idle = await measure(tally, () => releaseDueRuns(deps));
        if (idle.value.length !== 0) throw new Error(`expected an idle tick, released ${idle.value.length}`);
        const finish = await measure(tally, () => startAndFinish(deps, clock, release.value));
        row ??= { jobs, release, idle, finish, fillSeconds };
      }
      rows.push(row!);
      progress(`recurring: ${jobs} jobs → release tick ${readRequests(row!.release.dynamo)} reads, ${row!.release.dynamo.rcuBilled} RCU; idle tick ${readRequests(row!.idle.dynamo)} reads`);
      dynamo.destroy();
    }
    return { rows, releaseMs };
  } finally {
    await emulators.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const fmtN = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 1 });

export function renderRecurringSection(bench: RecurringBench, command: string): string {
  const line = (r: RecurringSizeRow, label: string, m: { dynamo: TallySnapshot; ms: number }) =>
    `| ${fmtN(r.jobs)} | ${label} | ${readRequests(m.dynamo)} | ${fmtN(m.dynamo.rcuBilled)} | ${fmtN(m.dynamo.itemsScanned)} | ${totalRequests(m.dynamo) - readRequests(m.dynamo)} | ${fmtN(m.dynamo.wcu)} | ${fmt(m.ms)} |`;
  const last = bench.rows[bench.rows.length - 1]!;
  // A million runs: their share of release ticks plus their own start and finish, at the largest size.
  const perRun = sum(last.release.dynamo, last.finish.dynamo);
  const scale = 1_000_000 / DUE;
  const reads = (perRun.rcuBilled * scale * PRICES.dynamoReadRequestUnitPerMillion) / 1e6;
  const writes = (perRun.wcu * scale * PRICES.dynamoWriteRequestUnitPerMillion) / 1e6;
  // One scheduler message per release (releaseRun sends it; SQS is not counted by this module).
  const sqs = PRICES.sqsStandardPerMillion;
  const idleMonth = ((last.idle.dynamo.rcuBilled * 43_200 * PRICES.dynamoReadRequestUnitPerMillion) / 1e6) + (43_200 * PRICES.lambdaRequestsPerMillion) / 1e6;
  const p = (q: number) => fmt(percentile(bench.releaseMs, q), 0);
  const fills = bench.rows.map((r) => `${fmtN(r.jobs)} in ${fmt(r.fillSeconds)} s`).join(', ');
  return [
    '## Recurring jobs',
    '',
    `One release tick with N jobs of which ${DUE} are due (\`${command}\`, DynamoDB Local; RCU counted with the`,
    'per-request minimum). The tick reads only the sparse due index (one Query per shard, `gsi3sk <= now`), so its',
    'reads should be flat in N; the writes are the releases themselves. "start + finish" is the recurring part of',
    `the ${DUE} runs' lives (the worker took the request; SUCCESS_NOCHANGE recorded, next run due). Jobs that are not`,
    `due were written with BatchWriteItem (${fills}); the ${DUE} due ones through the repository.`,
    '',
    '| jobs | step | read requests | RCU | items read | write requests | WCU | ms |',
    '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...bench.rows.flatMap((r) => [line(r, `release tick (${DUE} due)`, r.release), line(r, 'idle tick (0 due)', r.idle), line(r, `start + finish of ${DUE}`, r.finish)]),
    '',
    `Due → released (the tick's own time from a run being due to its work request pending and the scheduler told), over`,
    `${bench.releaseMs.length} ticks of ${DUE} runs each at ${fmtN(bench.rows[0]!.jobs)} jobs (after one warm-up tick), in process against DynamoDB Local: p50 ${p(50)} ms, p95 ${p(95)} ms. Not measured`,
    `here: the wait for the tick (every ${TICK_SECONDS} s in AWS, so ${TICK_SECONDS / 2} s on average and up to ${TICK_SECONDS} s; \`conveyor dev\``,
    'runs it each `CONVEYOR_DEV_SCHEDULE_SECONDS`) and released → started, which is the dispatch latency of the work-request',
    'section (the run is an ordinary `git-import` work request from there on).',
    '',
    `A million runs (as measured at ${fmtN(last.jobs)} jobs; release tick + start + finish, per run): DynamoDB reads`,
    `${fmtUsd(reads)}, writes ${fmtUsd(writes)}, SQS (one message a run) ${fmtUsd(sqs)}: **${fmtUsd(reads + writes + sqs)}** at list prices, plus the work request each run`,
    `is (scheduler, worker, completion: see the work-request cost) and the import's own artifacts. The idle ticks cost`,
    `${fmtUsd(idleMonth)} a month (43,200 ticks: their reads and Lambda requests, Lambda time not counted).`,
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let sizes = [100, 10_000, 100_000];
  let rounds = 20;
  let out = resolve(__dirname, '..', 'BENCHMARKS.md');
  let json: string | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--sizes') sizes = args[++i]!.split(',').map(Number);
    else if (args[i] === '--rounds') rounds = Number(args[++i]);
    else if (args[i] === '--out') out = resolve(args[++i]!);
    else if (args[i] === '--json') json = resolve(args[++i]!);
    else throw new Error(`unknown argument ${args[i]} (use --sizes a,b,c, --rounds N and --out FILE)`);
  }
  if (sizes.some((s) => !Number.isSafeInteger(s) || s < DUE)) throw new Error(`--sizes: each size must be an integer of at least ${DUE}`);
  const bench = await measureRecurring(sizes, rounds, (m) => process.stdout.write(`[bench] ${m}\n`));
  if (json) writeFileSync(json, JSON.stringify(bench, null, 2));
  writeSection(out, renderRecurringSection(bench, `node --import tsx bench/recurring.ts ${args.join(' ')}`.trim()));
}

if (require.main === module) runStandalone(main);
