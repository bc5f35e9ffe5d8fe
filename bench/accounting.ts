/**
 * The DynamoDB (and SQS) cost of quota accounting, measured with counting clients against the
 * local stack's emulators, in-process:
 * - the hot path's extra work per work request and per artifact: the quota check (the workspace's
 *   quota item; the user's rides on the user item authentication reads anyway) and the one SQS
 *   message of the usage event;
 * - the consumer's work per event (a finished request: CPU; an artifact with one file: disk);
 * - a full recompute over N artifacts (10,000; 500 with --quick): time and DynamoDB units.
 *
 *   node --import tsx bench/accounting.ts [--quick]   # this module alone, on its own local stack
 *
 * `npm run bench` runs it too (bench/run.ts) and adds its section to BENCHMARKS.md.
 */
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createAwsDeps } from '../shared/adapters/aws';
import { applyAccountingEvents, artifactEvent, noteUsageChange, workRequestEvent } from '../shared/app/accounting';
import { recomputeUsageInBulk as recomputeUsage } from '../shared/app/bulk-recompute';
import { createToken, createUser, createWorkspace, grantRole } from '../shared/app/admin';
import { authenticate } from '../shared/app/auth';
import { enforceQuotas } from '../shared/app/quotas';
import { QUEUES } from '../shared/manifest';
import type { Deps } from '../shared/ports';
import { fileOf, storeArtifact, storeFinishedRequest } from '../test/support/accounting';
import { createCountingDeps } from './capacity';
import { type TallySnapshot } from './counters';
import { PRICES } from './cost';

export interface AccountingBench {
  artifacts: number;
  hotPath: { label: string; dynamo: TallySnapshot; sqsRequests: number }[];
  consumer: { label: string; dynamo: TallySnapshot }[];
  recompute: { seconds: number; dynamo: TallySnapshot; sources: number };
  /** The same recompute again: every item already right, nothing written. */
  steady: { seconds: number; dynamo: TallySnapshot; sources: number };
}

const ACTOR = 'system:bench-accounting';

export async function measureAccounting(stackEnv: Record<string, string>, opts: { artifacts: number; progress?: (m: string) => void }): Promise<AccountingBench> {
  const progress = opts.progress ?? (() => undefined);
  const region = stackEnv['AWS_REGION'] ?? 'us-east-1';
  const credentials = { accessKeyId: stackEnv['AWS_ACCESS_KEY_ID'] ?? 'local', secretAccessKey: stackEnv['AWS_SECRET_ACCESS_KEY'] ?? 'local' };
  const sqs = new SQSClient({ region, credentials, endpoint: stackEnv['AWS_ENDPOINT_URL_SQS'] });
  // Events go to a queue no poller reads: the stack's own consumer must not do the work measured here.
  const { QueueUrl: sink } = await sqs.send(new CreateQueueCommand({ QueueName: 'bench-accounting-sink' }));
  sqs.destroy();
  const env = { ...stackEnv, [QUEUES.accounting.envVar]: sink! };
  const plain: Deps = createAwsDeps({ ...env });
  const counting = createCountingDeps(env);
  const workspace = `acct-${Math.random().toString(36).slice(2, 8)}`;
  const username = `${workspace}-user`;
  await createWorkspace(plain, ACTOR, { name: workspace });
  await createUser(plain, ACTOR, { username });
  await grantRole(plain, ACTOR, { workspace, username, role: 'contributor' });
  const caller = await authenticate(plain, (await createToken(plain, ACTOR, { username, enabled: true })).key);

  const measure = async (deps: { dynamo: typeof counting.dynamo; sqs: typeof counting.sqs }, body: () => Promise<unknown>) => {
    const d0 = deps.dynamo.snapshot();
    const s0 = deps.sqs.snapshot();
    await body();
    const sqsSnap = deps.sqs.since(s0);
    return { dynamo: deps.dynamo.since(d0), sqsRequests: Object.values(sqsSnap.requests).reduce((n, v) => n + v, 0) };
  };

  progress('accounting: hot path');
  const hotPath: AccountingBench['hotPath'] = [];
  hotPath.push({ label: 'quota check on create (work request, workflow or artifact)', ...(await measure(counting, () => enforceQuotas(counting.deps, caller, 'debusine', workspace))) });
  const wr = await storeFinishedRequest(plain, 990_000_001 + Math.floor(Math.random() * 1000), username, 1234, workspace);
  hotPath.push({ label: 'usage event of a finished work request (SQS SendMessage)', ...(await measure(counting, () => noteUsageChange(counting.deps, workRequestEvent(wr)))) });
  const base = 900_000_000 + Math.floor(Math.random() * 1_000_000) * 10;
  const one = await storeArtifact(plain, base, username, [fileOf(base, 1000)], workspace);
  hotPath.push({ label: 'usage event of an artifact upload or delete (SQS SendMessage)', ...(await measure(counting, () => noteUsageChange(counting.deps, artifactEvent(one)))) });

  progress('accounting: consumer');
  const consumer: AccountingBench['consumer'] = [];
  consumer.push({ label: 'finished work request (CPU, user + workspace)', dynamo: (await measure(counting, () => applyAccountingEvents(counting.deps, [workRequestEvent(wr)]))).dynamo });
  consumer.push({ label: 'artifact with one new file (disk, user + workspace)', dynamo: (await measure(counting, () => applyAccountingEvents(counting.deps, [artifactEvent(one)]))).dynamo });
  consumer.push({ label: 'the same event replayed (nothing to change)', dynamo: (await measure(counting, () => applyAccountingEvents(counting.deps, [artifactEvent(one)]))).dynamo });
  // Under load the accountant gets up to 100 events per invocation: 10 finished requests of 2 users, per event.
  const second = `${username}-2`;
  await createUser(plain, ACTOR, { username: second });
  const finished = await Promise.all(
    Array.from({ length: 10 }, (_, i) => storeFinishedRequest(plain, 990_100_000 + Math.floor(Math.random() * 10_000) * 10 + i, i % 2 ? second : username, 100 + i, workspace)),
  );
  const batch = (await measure(counting, () => applyAccountingEvents(counting.deps, finished.map(workRequestEvent)))).dynamo;
  consumer.push({ label: '10 finished work requests of 2 users in one batch (CPU), per event', dynamo: perEvent(batch, finished.length) });

  progress(`accounting: storing ${opts.artifacts} artifacts for the recompute`);
  const parallel = 20;
  for (let i = 1; i < opts.artifacts; i += parallel) {
    await Promise.all(
      Array.from({ length: Math.min(parallel, opts.artifacts - i) }, (_, j) => storeArtifact(plain, base + i + j, username, [fileOf(base + i + j, 1000)], workspace)),
    );
  }
  const timedRecompute = async () => {
    const started = performance.now();
    let sources = 0;
    const cost = await measure(counting, async () => {
      sources = (await recomputeUsage(counting.deps)).sources;
    });
    return { seconds: (performance.now() - started) / 1000, dynamo: cost.dynamo, sources };
  };
  progress('accounting: full recompute (every stored artifact still to account)');
  const recompute = await timedRecompute();
  progress('accounting: full recompute again (nothing changed)');
  const steady = await timedRecompute();
  return { artifacts: opts.artifacts, hotPath, consumer, recompute, steady };
}

/** A batch's counts divided by its events. */
function perEvent(s: TallySnapshot, events: number): TallySnapshot {
  return { ...s, requests: Object.fromEntries(Object.entries(s.requests).map(([k, v]) => [k, v / events])), rcuBilled: s.rcuBilled / events, wcu: s.wcu / events };
}

const units = (s: TallySnapshot) => `${s.requests ? round(Object.values(s.requests).reduce((n, v) => n + v, 0)) : 0} req, ${round(s.rcuBilled)} RCU, ${round(s.wcu)} WCU`;
const dollars = (s: TallySnapshot) => s.rcuBilled * PRICES.dynamoReadRequestUnitPerMillion + s.wcu * PRICES.dynamoWriteRequestUnitPerMillion;
function round(n: number): number {
  return Math.round(n * 100) / 100;
}

export function renderAccountingSection(r: AccountingBench, command: string): string {
  const lines = [
    '## Quota accounting',
    '',
    `Command: \`${command}\` (bench/accounting.ts; counting clients on the local stack's DynamoDB Local, in-process).`,
    'RCU with the minimum charge per read request; WCU as DynamoDB bills them (transactions: computed from the items).',
    '',
    '| hot path, per operation | DynamoDB | SQS requests | $ per million operations (DynamoDB + SQS) |',
    '| --- | --- | --- | --- |',
    ...r.hotPath.map((h) => `| ${h.label} | ${units(h.dynamo)} | ${h.sqsRequests} | ${(dollars(h.dynamo) + h.sqsRequests * PRICES.sqsStandardPerMillion).toFixed(2)} |`),
    '',
    'The user\'s quota and disabled flag are attributes of the user item that authentication reads on every request: checking them costs nothing more.',
    '',
    '| accounting consumer, per event | DynamoDB | $ per million events |',
    '| --- | --- | --- |',
    ...r.consumer.map((c) => `| ${c.label} | ${units(c.dynamo)} | ${dollars(c.dynamo).toFixed(2)} |`),
    '',
    `Full recompute in bulk (shared/app/bulk-recompute.ts) over ${r.artifacts.toLocaleString('en')} artifacts, ${r.recompute.sources} sources, ` +
      `every artifact but one stored without its event (so every contribution and file reference is written): ` +
      `${r.recompute.seconds.toFixed(1)} s, ${units(r.recompute.dynamo)} ($${(dollars(r.recompute.dynamo) / 1e6).toFixed(4)} per recompute at list prices).`,
    '',
    `The same recompute again, nothing changed (nothing written): ${r.steady.seconds.toFixed(1)} s, ${units(r.steady.dynamo)} ($${(dollars(r.steady.dynamo) / 1e6).toFixed(4)} per recompute).`,
    '',
  ];
  return lines.join('\n');
}

if (require.main === module) {
  void (async () => {
    const quick = process.argv.includes('--quick');
    const { startLocalStack } = await import('../cli/dev/command');
    const dataDir = mkdtempSync(join(tmpdir(), 'conveyor-bench-accounting-'));
    console.log = () => undefined;
    const stack = await startLocalStack({ port: 0, dataDir, log: () => undefined });
    try {
      const result = await measureAccounting(stack.env, { artifacts: quick ? 500 : 10_000, progress: (m) => process.stderr.write(`[bench] ${m}\n`) });
      process.stdout.write(renderAccountingSection(result, `node --import tsx bench/accounting.ts${quick ? ' --quick' : ''}`));
    } finally {
      await stack.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  })().catch((err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  });
}
