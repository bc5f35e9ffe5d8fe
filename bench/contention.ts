/**
 * Where the throughput of several `conveyor worker` processes goes (issue 12, BENCHMARKS.md §5):
 * bursts of noop requests with 1, 2 and 4 workers on the local stack, counting per completed request
 * what contention would show as: DynamoDB conditional writes that failed (by the use case that sent
 * them), DynamoDB and SQS requests, what the completions handed over, get-next calls, scheduling
 * passes, each worker's idle time between its requests, and the CPU seconds of every process
 * (this process = API + queue pollers + SQS emulator + s3rver + the submitter; DynamoDB Local's JVM;
 * each worker; its task processes). Counts are exact; times depend on the machine's load.
 *
 *   npx tsx bench/contention.ts [--bursts 3] [--burst 40] [--workers 1,2,4] [--out bench/contention-raw.json]
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startLocalStack, type RunningLocalStack } from '../cli/dev/command';
import { ConveyorApi } from '../cli/client/api';
import { createAwsDeps } from '../shared/adapters/aws';
import { createToken, createUser, createWorkspace, grantRole } from '../shared/app/admin';
import { createActivationToken } from '../shared/app/workers';
import type { WorkRequest } from '../shared/domain/work-requests';
import { compile } from '../build/compile';
import { InvocationRecorder, invocationsOf } from './invocations';
import { killWorkers, startWorker, stopWorker, type WorkerProcess } from './worker-pool';

const REPO_ROOT = resolve(__dirname, '..');
const ACTOR = 'system:bench';
const CLOCK_TICKS = 100;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

// ------------------------------------------------------------------ AWS request counting
/** The use cases a request's async stack passes through, innermost first (the place a conflict happened). */
const PLACES = [
  'startFirst',
  'scheduleForWorker',
  'startOrPull',
  'completeAndPullNext',
  'offerToIdleWorker',
  'createWorkRequest',
  'commitFinish',
  'completeWorkRequest',
  'getNextForWorker',
  'markSeen',
  'updateWorker',
  'schedule',
  'touch',
];

function placeOf(stack: string): string {
  const names = [...stack.matchAll(/at (?:async )?(?:[\w$.]+\.)?([\w$]+) \(/g)].map((m) => m[1]!);
  const known = names.filter((n) => PLACES.includes(n));
  return [...new Set(known)].slice(0, 3).join(' < ') || names.slice(1, 4).join(' < ');
}

interface Counts {
  requests: Record<string, number>;
  conflicts: Record<string, number>;
  other: Record<string, number>;
}
const counts: Counts = { requests: {}, conflicts: {}, other: {} };
const bump = (rec: Record<string, number>, key: string, by = 1): void => {
  rec[key] = (rec[key] ?? 0) + by;
};

function installCounters(): void {
  for (const [pkg, cls] of [
    ['@aws-sdk/client-dynamodb', 'DynamoDBClient'],
    ['@aws-sdk/lib-dynamodb', 'DynamoDBDocumentClient'],
    ['@aws-sdk/client-sqs', 'SQSClient'],
  ] as const) {
    const mod = require(pkg) as Record<string, { prototype: { send: (...a: unknown[]) => Promise<unknown> } }>;
    const proto = mod[cls]!.prototype;
    const original = proto.send;
    proto.send = async function (this: unknown, ...args: unknown[]) {
      const name = `${cls.replace(/(Document)?Client/, '')}.${(args[0] as object).constructor.name.replace(/Command$/, '')}`;
      bump(counts.requests, name);
      try {
        return await original.apply(this, args);
      } catch (err) {
        const errName = (err as { name?: string }).name ?? 'Error';
        if (/ConditionalCheckFailed|TransactionCanceled/.test(errName)) {
          bump(counts.conflicts, `${name} at ${placeOf(new Error().stack ?? '')}`);
        } else bump(counts.other, `${name} ${errName}`);
        throw err;
      }
    };
  }
}

// ------------------------------------------------------------------ CPU of processes
interface ProcStat {
  pid: number;
  ppid: number;
  self: number;
  children: number;
  cmd: string;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = raw.lastIndexOf(')');
    const fields = raw.slice(close + 2).split(' ');
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
    // After the command: state ppid ... utime(14) stime(15) cutime(16) cstime(17), counted from the state (index 0 = field 3).
    return { pid, ppid: Number(fields[1]), self: Number(fields[11]) + Number(fields[12]), children: Number(fields[13]) + Number(fields[14]), cmd };
  } catch {
    return undefined;
  }
}

function processTable(): ProcStat[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .flatMap((d) => readStat(Number(d)) ?? []);
}

function descendants(table: ProcStat[], root: number): ProcStat[] {
  const out: ProcStat[] = [];
  const queue = [root];
  while (queue.length) {
    const pid = queue.shift()!;
    for (const p of table.filter((q) => q.ppid === pid)) {
      out.push(p);
      queue.push(p.pid);
    }
  }
  return out;
}

/** CPU ticks by role: reaped children count in their parent's `children` field, live ones by themselves. */
function cpuSnapshot(workers: WorkerProcess[]): Record<string, number> {
  const table = processTable();
  const mine = readStat(process.pid)!;
  const snap: Record<string, number> = { 'bench process (API, pollers, SQS emulator, s3rver, submitter)': mine.self };
  const java = descendants(table, process.pid).filter((p) => p.cmd.includes('java'));
  snap['DynamoDB Local (JVM)'] = java.reduce((n, p) => n + p.self + p.children, 0);
  workers.forEach((w, i) => {
    const root = table.find((p) => p.pid === w.child.pid);
    if (!root) return;
    snap[`worker ${i + 1} (node)`] = root.self;
    snap[`worker ${i + 1} task processes`] = root.children + descendants(table, root.pid).reduce((n, p) => n + p.self + p.children, 0);
  });
  return snap;
}

// ------------------------------------------------------------------ the run
interface BurstResult {
  workers: number;
  requests: number;
  wallMs: number;
  submitMs: number;
  /** From the last create's answer to the last completion. */
  afterSubmitMs: number;
  perSecond: number;
  /** Completions per second between the first start and the last completion. */
  runPerSecond: number;
  /** Requests not yet started when the last create was answered. */
  backlogAtSubmitted: number;
  /** Completions per second once every request was created (the workers' own rate, without the submitter). */
  drainPerSecond: number;
  requestsByCall: Record<string, number>;
  conflicts: Record<string, number>;
  otherErrors: Record<string, number>;
  handedOver: number;
  completionsWithoutNext: number;
  getNext: number;
  completionsPut: number;
  creates: number;
  schedulerSqs: number;
  schedulerRecords: number;
  idleMs: { p50: number; mean: number; count: number };
  cpuTicks: Record<string, number>;
  load: number[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const at = (iso: string | null): number => (iso ? Date.parse(iso) : Number.NaN);

async function main(): Promise<void> {
  const bursts = Number(arg('bursts', '3'));
  const burst = Number(arg('burst', '40'));
  const workerCounts = arg('workers', '1,2,4').split(',').map(Number);
  const out = arg('out', join(REPO_ROOT, 'bench', 'contention-raw.json'));
  await compile();
  installCounters();
  const dataDir = mkdtempSync(join(tmpdir(), 'conveyor-contention-'));
  const tmp = mkdtempSync(join(tmpdir(), 'conveyor-contention-workers-'));
  let stack: RunningLocalStack | undefined;
  const running: WorkerProcess[] = [];
  const handed = { yes: 0, no: 0 };
  const onSignal = (): void => {
    killWorkers(running);
    void (stack?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    stack = await startLocalStack({ port: 0, dataDir, log: (level, message) => level !== 'info' && process.stderr.write(`[stack] ${level}: ${message}\n`) });
    const recorder = new InvocationRecorder();
    recorder.install(REPO_ROOT, ['work-requests-api', 'workers-api', 'scheduler', 'heartbeat-applier', 'watchdog']);
    const admin = createAwsDeps({ ...stack.env });
    await createUser(admin, ACTOR, { username: 'bench', email: 'bench@example.org' });
    await createWorkspace(admin, ACTOR, { name: 'bench' });
    await grantRole(admin, ACTOR, { workspace: 'bench', username: 'bench', role: 'contributor' });
    const token = (await createToken(admin, ACTOR, { username: 'bench', enabled: true, comment: 'bench' })).key;
    const api = new ConveyorApi({ server: stack.url, token });
    const create = async (): Promise<number> => (await api.createWorkRequest({ task_name: 'noop', task_data: {}, workspace: 'bench' })).id;
    let seq = 0;
    const setWorkers = async (n: number): Promise<void> => {
      while (running.length < n) {
        const { key } = await createActivationToken(admin, ACTOR);
        running.push(
          await startWorker({
            repoRoot: REPO_ROOT,
            server: stack!.url,
            fqdn: `w${++seq}.bench.local`,
            activationToken: key,
            dir: tmp,
            concurrency: 1,
            onLine: (line) => {
              if (/completed, \w+; the completion handed over/.test(line)) handed.yes++;
              else if (/: completed, \w+$/.test(line)) handed.no++;
            },
          }),
        );
      }
      while (running.length > n) await stopWorker(running.pop()!);
      await sleep(500);
    };
    // Warm-up: loads the handlers and warms both JITs.
    await setWorkers(2);
    for (let i = 0; i < 20; i++) await create();
    await sleep(5000);
    const results: BurstResult[] = [];
    for (const n of workerCounts) {
      await setWorkers(n);
      for (let b = 0; b < bursts; b++) {
        await sleep(1500);
        recorder.reset();
        for (const rec of Object.values(counts)) for (const k of Object.keys(rec)) delete rec[k];
        handed.yes = handed.no = 0;
        const cpuBefore = cpuSnapshot(running);
        const started = performance.now();
        const ids: number[] = [];
        let next = 0;
        await Promise.all(
          Array.from({ length: 4 }, async () => {
            while (next < burst) {
              next++;
              ids.push(await create());
            }
          }),
        );
        const submitted = performance.now();
        const submittedAt = Date.now();
        let open = [...ids];
        const done: WorkRequest[] = [];
        while (open.length) {
          await sleep(20);
          const current = await admin.workRequests.getMany(open);
          for (const wr of current) if (wr.status === 'completed' || wr.status === 'aborted') done.push(wr);
          open = current.filter((wr) => wr.status !== 'completed' && wr.status !== 'aborted').map((wr) => wr.id);
          if (performance.now() - started > 240_000) throw new Error(`${open.length} still open`);
        }
        const wallMs = performance.now() - started;
        await sleep(300); // the last completions' follow-ups
        const cpuAfter = cpuSnapshot(running);
        const calls = recorder.take();
        const byWorker = new Map<string, WorkRequest[]>();
        for (const wr of done) byWorker.set(wr.worker!, [...(byWorker.get(wr.worker!) ?? []), wr]);
        const idle: number[] = [];
        for (const list of byWorker.values()) {
          list.sort((a, b) => at(a.startedAt) - at(b.startedAt));
          for (let i = 1; i < list.length; i++) idle.push(at(list[i]!.startedAt) - at(list[i - 1]!.completedAt));
        }
        idle.sort((a, b) => a - b);
        const firstStart = Math.min(...done.map((wr) => at(wr.startedAt)));
        const lastEnd = Math.max(...done.map((wr) => at(wr.completedAt)));
        const drained = done.filter((wr) => at(wr.completedAt) > submittedAt);
        const backlog = done.filter((wr) => at(wr.startedAt) > submittedAt).length;
        const cpuTicks: Record<string, number> = {};
        for (const [k, v] of Object.entries(cpuAfter)) cpuTicks[k] = v - (cpuBefore[k] ?? 0);
        const r: BurstResult = {
          workers: n,
          requests: ids.length,
          wallMs,
          submitMs: submitted - started,
          afterSubmitMs: wallMs - (submitted - started),
          perSecond: ids.length / (wallMs / 1000),
          runPerSecond: (ids.length - 1) / ((lastEnd - firstStart) / 1000),
          backlogAtSubmitted: backlog,
          drainPerSecond: drained.length / ((lastEnd - submittedAt) / 1000),
          requestsByCall: { ...counts.requests },
          conflicts: { ...counts.conflicts },
          otherErrors: { ...counts.other },
          handedOver: handed.yes,
          completionsWithoutNext: handed.no,
          getNext: invocationsOf(calls, 'work-requests-api', (k) => k.includes('get-next')),
          completionsPut: invocationsOf(calls, 'work-requests-api', (k) => k.includes('/completed/')),
          creates: invocationsOf(calls, 'work-requests-api', (k) => k === 'POST /api/1.0/work-request/'),
          schedulerSqs: invocationsOf(calls, 'scheduler', (k) => k === 'sqs'),
          schedulerRecords: Object.values(calls['scheduler']?.byTrigger ?? {}).reduce((s, v) => s + v.records, 0),
          idleMs: { p50: idle[Math.floor(idle.length / 2)] ?? 0, mean: idle.reduce((s, v) => s + v, 0) / Math.max(1, idle.length), count: idle.length },
          cpuTicks,
          load: loadavg(),
        };
        results.push(r);
        const cpuTotal = Object.values(cpuTicks).reduce((s, v) => s + v, 0) / CLOCK_TICKS;
        process.stderr.write(
          `${n} workers, burst ${b + 1}: ${r.perSecond.toFixed(2)}/s (run ${r.runPerSecond.toFixed(2)}/s; after submission ${r.drainPerSecond.toFixed(2)}/s, backlog ${r.backlogAtSubmitted}, submit ${(r.submitMs / 1000).toFixed(1)} s), conflicts ${Object.values(r.conflicts).reduce((s, v) => s + v, 0)}, ` +
            `handed over ${r.handedOver}/${r.completionsPut}, get-next ${r.getNext}, passes ${r.schedulerSqs}, idle p50 ${r.idleMs.p50} ms, CPU ${cpuTotal.toFixed(2)} s = ${((cpuTotal * 1000) / ids.length).toFixed(1)} ms/request, load ${r.load[0]!.toFixed(1)}\n`,
        );
        writeFileSync(out, JSON.stringify(results, null, 1));
      }
    }
    while (running.length) await stopWorker(running.pop()!);
  } finally {
    killWorkers(running);
    await stack?.stop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
