/**
 * Counts of a busy worker's cycle (issue 12, bench/RESULTS-pull.md): a request created while the
 * worker's one slot is taken, then handed over by the completion of the running one
 * (`PUT completed/?next=1`), without a worker-queue message or a get-next. Run on its own
 * (`node --import tsx bench/pull-cycle.ts [repetitions]`): it starts a local stack on a temporary
 * data directory, as bench/run.ts does, and prints a Markdown table. Counts are exact, like section 7's.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalStack } from '../cli/dev/command';
import { createAwsDeps } from '../shared/adapters/aws';
import { authenticate } from '../shared/app/auth';
import { createToken, createUser, createWorkspace, grantRole } from '../shared/app/admin';
import { EVENT_PASS, schedule } from '../shared/app/scheduler';
import { createWorkRequest } from '../shared/app/work-requests';
import { completeAndPullNext, getNextForWorker } from '../shared/app/workers';
import { DEFAULT_SCOPE } from '../shared/domain/tenancy';
import { averageSnapshots, failedConditionalWrites } from './capacity';
import { totalRequests, type TallySnapshot } from './counters';
import { deleteBatch, drainAll, freeSlot, receiveOne, setUpInProcess } from './inprocess';

const ACTOR = 'system:bench-pull';
const WORKSPACE = 'bench-pull';
const STEPS = [
  '`POST work-request/` while the worker is busy (authenticate, create, send scheduler event)',
  'scheduling pass for the creation event (no free slot: nothing assigned, no worker message)',
  '`PUT completed/?next=1` of the running request: finishes it and hands over the new one (assigned + started)',
];

function commands(requests: Record<string, number>): string {
  return Object.entries(requests).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k.replace(/Command$/, '')} ×${Math.round(v * 100) / 100}`).join(', ') || '–';
}

async function main(): Promise<void> {
  const repetitions = Number(process.argv[2] ?? 3);
  console.log = () => undefined;
  const dataDir = mkdtempSync(join(tmpdir(), 'conveyor-pull-cycle-'));
  const abort = new AbortController();
  const stack = await startLocalStack({ port: 0, dataDir, log: () => undefined }, abort.signal);
  try {
    const admin = createAwsDeps({ ...stack.env });
    await createUser(admin, ACTOR, { username: 'bench', email: 'bench@example.org' });
    await createWorkspace(admin, ACTOR, { name: WORKSPACE });
    await grantRole(admin, ACTOR, { workspace: WORKSPACE, username: 'bench', role: 'contributor' });
    const userToken = (await createToken(admin, ACTOR, { username: 'bench', enabled: true, comment: 'bench' })).key;
    const bench = await setUpInProcess(stack.env, ACTOR, admin);
    const deps = bench.counting.deps;
    const create = async () =>
      createWorkRequest(deps, await authenticate(deps, userToken), { scope: DEFAULT_SCOPE, workspace: WORKSPACE, taskName: 'noop', taskData: {} });

    // The worker is busy: one request running on its only slot (uncounted).
    const first = await create();
    await drainAll(bench);
    let running = await getNextForWorker(bench.plain, await bench.workerCaller(), []);
    if (running?.id !== first.id) throw new Error(`expected ${first.id} to start, got ${running?.id}`);

    const samples: { dynamo: TallySnapshot; sqs: TallySnapshot }[][] = [];
    for (let i = 0; i < repetitions + 1; i++) {
      const out: { dynamo: TallySnapshot; sqs: TallySnapshot }[] = [];
      const step = async <T>(run: () => Promise<T>): Promise<T> => {
        const before = { dynamo: bench.counting.dynamo.snapshot(), sqs: bench.counting.sqs.snapshot() };
        const result = await run();
        out.push({ dynamo: bench.counting.dynamo.since(before.dynamo), sqs: bench.counting.sqs.since(before.sqs) });
        return result;
      };
      const wr = await step(create);
      await step(async () => {
        const message = await receiveOne(bench.sqs, bench.sinks.scheduler);
        if (!message) throw new Error('no scheduler event');
        const summary = await schedule(deps, EVENT_PASS);
        await deleteBatch(bench.sqs, bench.sinks.scheduler, [message]);
        if (summary.assigned.length) throw new Error(`the pass assigned ${JSON.stringify(summary.assigned)} to a full worker`);
      });
      const { next } = await step(async () => completeAndPullNext(deps, await bench.workerCaller(deps), running!.id, { result: 'success' }));
      if (next?.id !== wr.id) throw new Error(`the completion handed over ${next?.id}, expected ${wr.id}`);
      if (await receiveOne(bench.rawSqs, bench.worker.queueUrl, 0)) throw new Error('a worker-queue message was sent');
      running = next;
      if (i > 0) samples.push(out); // the first cycle warms up the caches of the handlers' modules
    }
    await freeSlot(bench);

    const rows = STEPS.map((label, i) => {
      const dynamo = averageSnapshots(samples.map((s) => s[i]!.dynamo));
      const sqs = averageSnapshots(samples.map((s) => s[i]!.sqs));
      return { label, dynamo, sqs };
    });
    const lines = [
      `| step (busy worker, ${samples.length} repetitions) | DynamoDB requests by command | requests | RRU billed | WCU | failed conditional writes | SQS requests |`,
      '| --- | --- | ---: | ---: | ---: | ---: | --- |',
      ...rows.map((r) => `| ${r.label} | ${commands(r.dynamo.requests)} | ${totalRequests(r.dynamo)} | ${r.dynamo.rcuBilled} | ${r.dynamo.wcu} | ${failedConditionalWrites(r.dynamo)} | ${commands(r.sqs.requests)} |`),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    abort.abort();
    await stack.stop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
