/**
 * Two measurements of bench/recurring.ts that follow a run through its whole cycle:
 *
 * - `measureRunCycle` (in process, DynamoDB Local and the SQS emulator, every request counted): RUNS jobs
 *   due now go through release (the tick), dispatch (one scheduling pass), start (the worker's get-next)
 *   and finish (its completion: result recorded, next run due), with the real use cases. The counts per
 *   run, priced at AWS list prices, give the cost per million runs.
 * - `measureDueToStarted` (the local stack, `conveyor dev` in process, a real `conveyor worker` process
 *   running git-import against a `file://` repository): for every run, due (`date_due` on the job) →
 *   started (`date_job_started` of its result, the server's time of the worker's get-next). It includes
 *   the wait for the tick, whose period is set short here (the AWS tick is every minute).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startLocalStack } from '../cli/dev/command';
import { createAwsDeps } from '../shared/adapters/aws';
import { parseRecurringRunMessage } from '../shared/adapters/sqs/recurring-run-queue';
import { QUEUES } from '../shared/manifest';
import type { Deps } from '../shared/ports';
import { applyRecurringRunMove } from '../shared/app/recurring-runs';
import type { ManualClock } from '../shared/adapters/memory';
import { createToken, createUser, createWorkspace, generateTokenKey, grantRole } from '../shared/app/admin';
import { authenticate } from '../shared/app/auth';
import { createRecurringJob as createJobAs } from '../shared/app/recurring-jobs';
import { releaseDueRuns } from '../shared/app/recurring-release';
import { schedule } from '../shared/app/scheduler';
import { completeWorkRequest, createActivationToken, enableWorker, getNextForWorker, registerWorker, updateDynamicMetadata } from '../shared/app/workers';
import { createRecurringJob } from '../shared/domain/recurring-jobs';
import { DEFAULT_SCOPE } from '../shared/domain/tenancy';
import { Tally, countCommands, diff, type TallySnapshot } from './counters';
import { killWorkers, startWorker, stopWorker } from './worker-pool';

export interface RunCycle {
  runs: number;
  dynamo: TallySnapshot;
  /** SQS requests the code sent, by command. */
  sqs: Record<string, number>;
}

/** The worker's metadata: what `conveyor worker --tasks git-import` reports on a machine with git. */
const WORKER_METADATA = {
  'system:worker_type': 'external',
  'system:host_architecture': 'amd64',
  'system:architectures': ['amd64'],
  'git-import:available': true,
  'git-import:version': 1,
  tasks_allowlist: ['git-import'],
};

export async function measureRunCycle(env: Record<string, string | undefined>, dynamo: DynamoDBClient, tally: Tally, clock: ManualClock, runs: number): Promise<RunCycle> {
  const sqsTally = new Tally();
  const sqs = countCommands(new SQSClient({ region: env.AWS_REGION!, endpoint: env.AWS_ENDPOINT_URL_SQS!, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }), sqsTally);
  const deps = createAwsDeps(env, { dynamoClient: dynamo, clock, sqs });
  try {
    const key = generateTokenKey();
    const worker = await registerWorker(deps, { tokenKey: key, fqdn: 'cycle.bench.local', concurrency: runs });
    await enableWorker(deps, 'system:bench', worker.name);
    const caller = () => authenticate(deps, key);
    await updateDynamicMetadata(deps, await caller(), WORKER_METADATA);
    const ids: number[] = [];
    for (let i = 0; i < runs; i++) {
      const change = createRecurringJob({ id: 900_000 + i, scope: 'debusine', workspace: 'bench', owner: 'user:bench', kind: 'git-import', target: { url: `https://git.example.org/cycle${i}.git` } }, clock.now());
      await deps.recurringJobs!.create({ ...change.job, version: 1 }, change.events);
      ids.push(change.job.id);
    }
    clock.advance(1000);
    const before = tally.snapshot();
    const sqsBefore = sqsTally.snapshot();
    const released = await releaseDueRuns(deps);
    if (released.length !== runs) throw new Error(`cycle: expected ${runs} runs released, got ${released.length}`);
    await schedule(deps);
    for (let i = 0; i < runs; i++) {
      const wr = await getNextForWorker(deps, await caller());
      if (!wr) throw new Error(`cycle: the worker got ${i} of ${runs} runs`);
      await completeWorkRequest(deps, await caller(), wr.id, { result: 'success', outputData: { recurring_status: 'SUCCESS_NOCHANGE', recurring_log_tail: 'no ref moved' } });
    }
    // The work-request functions queue each start and finish of a run (`recurring-runs`); the recurring-release
    // function applies them. Applied here with the counted clients, as that consumer does.
    await applyQueuedRunMoves(env, deps);
    const cycle = { runs, dynamo: diff(tally.snapshot(), before), sqs: diff(sqsTally.snapshot(), sqsBefore).requests };
    for (const id of ids) {
      const job = await deps.recurringJobs!.get(id);
      if (job?.run?.id !== 2 || job.run.state !== 'PENDING' || job.resultCount !== 1) throw new Error(`cycle: job ${id} did not finish its run and schedule the next`);
    }
    return cycle;
  } finally {
    sqs.destroy();
  }
}

/**
 * Drains the `recurring-runs` queue and applies each move as recurring-release does. Its receives and
 * deletes are not counted: runCycleCost prices them as the Lambda event source's (one each per message).
 */
async function applyQueuedRunMoves(env: Record<string, string | undefined>, deps: Deps): Promise<void> {
  const queueUrl = env[QUEUES['recurring-runs'].envVar];
  if (!queueUrl) return;
  const sqs = new SQSClient({ region: env.AWS_REGION!, endpoint: env.AWS_ENDPOINT_URL_SQS!, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  try {
    for (;;) {
      const { Messages: messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      if (messages.length === 0) return;
      for (const message of messages) {
        await applyRecurringRunMove(deps, parseRecurringRunMessage(message.Body ?? '').workRequestId);
        await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle! }));
      }
    }
  } finally {
    sqs.destroy();
  }
}

export interface DueToStarted {
  /** due → started per run, ms. */
  samples: number[];
  tickSeconds: number;
  jobs: number;
  /** Results of the runs measured, by status (the start does not depend on the outcome). */
  statuses: Record<string, number>;
}

/**
 * `jobs` git-import jobs with `intervalSeconds` on the local stack and one `conveyor worker`; polls the jobs
 * (consistent reads, no API load) for each run's `date_due` and reads the results for its start, until
 * `samples` runs have started.
 */
export async function measureDueToStarted(opts: {
  repoRoot: string;
  dataDir: string;
  samples: number;
  jobs: number;
  intervalSeconds: number;
  tickSeconds: number;
  progress: (m: string) => void;
}): Promise<DueToStarted> {
  const stack = await startLocalStack({ port: 0, dataDir: join(opts.dataDir, 'stack'), schedulePeriodSeconds: opts.tickSeconds, log: () => undefined });
  const workers = new Set<Awaited<ReturnType<typeof startWorker>>>();
  try {
    const deps = createAwsDeps({ ...stack.env });
    const actor = 'system:bench';
    await createUser(deps, actor, { username: 'bench', email: 'bench@example.org' });
    await createWorkspace(deps, actor, { name: 'bench' });
    await grantRole(deps, actor, { workspace: 'bench', username: 'bench', role: 'owner' });
    const owner = await authenticate(deps, (await createToken(deps, actor, { username: 'bench', enabled: true, comment: 'bench' })).key);
    // A repository with one commit: the first run imports it (SUCCESS), the next ones find no ref moved.
    const repo = join(opts.dataDir, 'repo.git');
    const work = join(opts.dataDir, 'repo');
    mkdirSync(work, { recursive: true });
    const git = (args: string[], cwd = work) => execFileSync('git', args, { cwd, stdio: 'ignore', env: { ...process.env, GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@example.org', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@example.org' } });
    git(['init', '-q']);
    git(['commit', '-q', '--allow-empty', '-m', 'one']);
    git(['clone', '-q', '--bare', work, repo], opts.dataDir);
    const { key } = await createActivationToken(deps, actor);
    const worker = await startWorker({ repoRoot: opts.repoRoot, server: stack.url, fqdn: 'recurring.bench.local', activationToken: key, dir: join(opts.dataDir, 'workers'), concurrency: opts.jobs, tasks: ['git-import'], timeoutMs: 180_000 });
    workers.add(worker);
    opts.progress(`recurring: worker ${worker.name} ready; ${opts.jobs} git-import jobs every ${opts.intervalSeconds} s, tick every ${opts.tickSeconds} s`);
    const ids: number[] = [];
    for (let i = 0; i < opts.jobs; i++) {
      const job = await createJobAs(deps, owner, { scope: DEFAULT_SCOPE, workspace: 'bench', kind: 'git-import', target: { url: `file://${repo}` }, updateInterval: opts.intervalSeconds });
      ids.push(job.id);
    }
    const due = new Map<string, string>();
    const counted = new Set<string>();
    const samples: number[] = [];
    const statuses: Record<string, number> = {};
    const deadline = Date.now() + 20 * 60_000;
    let reported = 0;
    while (samples.length < opts.samples) {
      if (Date.now() > deadline) throw new Error(`recurring: only ${samples.length} of ${opts.samples} runs started in 20 minutes`);
      for (const id of ids) {
        const job = (await deps.recurringJobs!.get(id))!;
        if (job.run) due.set(`${id}#${job.run.id}`, job.run.dateDue);
        for (const result of (await deps.recurringJobs!.results(id, 50)).items) {
          const key = `${id}#${result.runId}`;
          const dueAt = due.get(key);
          if (dueAt === undefined || counted.has(key)) continue;
          counted.add(key);
          if (samples.length >= opts.samples) continue;
          // A run that failed (on a loaded machine a handler may time out) still started: its start counts.
          statuses[result.status] = (statuses[result.status] ?? 0) + 1;
          samples.push(Date.parse(result.dateJobStarted) - Date.parse(dueAt));
        }
      }
      if (samples.length >= reported + 5) {
        reported = samples.length;
        opts.progress(`recurring: ${samples.length} of ${opts.samples} runs started`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    await stopWorker(worker);
    return { samples, tickSeconds: opts.tickSeconds, jobs: opts.jobs, statuses };
  } finally {
    killWorkers(workers);
    await stack.stop();
  }
}
