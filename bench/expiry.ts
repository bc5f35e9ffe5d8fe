/**
 * Expiry benchmark (issue 13): DynamoDB requests and capacity units per expiry pass with 100,
 * 10,000 and 100,000 stored artifacts of which 100 expire, and the cost of expiring a million
 * artifacts at list prices. Runs on its own (DynamoDB Local and s3rver in a temporary directory):
 *
 *   node --import tsx bench/expiry.ts [--sizes 100,10000,100000] [--out FILE]
 *
 * and replaces the "Expiry" section of BENCHMARKS.md (or FILE). Stored artifacts that do not expire
 * yet are written straight into the table with BatchWriteItem (their expiry is 30 days away, so their
 * index entries sit in future buckets); the 100 that expire go through the repository like any
 * create. Two passes are measured: the one that condemns the 100, and the one that deletes them.
 */
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startEmulators } from '../cli/dev/emulators';
import { provision } from '../cli/dev/provision';
import { createAwsDeps } from '../shared/adapters/aws';
import { artifactItem, type DynamoArtifactRepository } from '../shared/adapters/dynamodb/artifact-repository';
import { expiryIndexAttributes } from '../shared/adapters/dynamodb/expiry-keys';
import { dynamoExpiryStore } from '../shared/adapters/dynamodb/expiry-store';
import { ManualClock } from '../shared/adapters/memory';
import { runExpiryPass } from '../shared/app/expiry';
import type { Artifact } from '../shared/domain/artifacts';
import { PRICES } from './cost';
import { Tally, countingDynamoClient, diff, totalRequests, type TallySnapshot } from './counters';

const EXPIRING = 100;
const T0 = new Date('2030-01-01T00:00:00.000Z');

interface Row {
  stored: number;
  condemn: { dynamo: TallySnapshot; ms: number };
  remove: { dynamo: TallySnapshot; ms: number };
}

function artifactAt(id: number, expireAt: string | null): Artifact {
  const at = T0.toISOString();
  return { id, scope: 'debusine', workspace: 'bench', category: 'testing', data: { n: id }, createdAt: at, updatedAt: at, createdBy: 'user:bench', expireAt, immutable: false, incompleteFiles: 0, version: 1 };
}

async function fillStored(doc: DynamoDBDocumentClient, table: string, from: number, count: number): Promise<void> {
  const later = new Date(T0.getTime() + 30 * 86400_000).toISOString();
  const items = Array.from({ length: count }, (_, i) => {
    const a = artifactAt(from + i, later);
    return { ...artifactItem(a), ...(expiryIndexAttributes(a) ? { gsi3pk: expiryIndexAttributes(a)!.gsi3pk, gsi3sk: expiryIndexAttributes(a)!.gsi3sk } : {}) };
  });
  await batchPutItems(doc, table, items);
}

/** BatchWriteItem requests in flight at once during a fill: DynamoDB Local's request threads get CPU on a loaded machine. */
const FILL_IN_FLIGHT = 32;

/**
 * Writes items straight into a table, 25 a BatchWriteItem, FILL_IN_FLIGHT requests in flight (a pool:
 * the next batch goes out as soon as one returns), retrying what comes back unprocessed.
 */
export async function batchPutItems(doc: DynamoDBDocumentClient, table: string, items: Record<string, unknown>[]): Promise<void> {
  let next = 0;
  const writer = async () => {
    while (next < items.length) {
      let pending = items.slice(next, next + 25).map((Item) => ({ PutRequest: { Item } }));
      next += 25;
      while (pending.length) {
        const res = await doc.send(new BatchWriteCommand({ RequestItems: { [table]: pending as never } }));
        pending = (res.UnprocessedItems?.[table] ?? []) as typeof pending;
      }
    }
  };
  await Promise.all(Array.from({ length: FILL_IN_FLIGHT }, writer));
}

export interface ExpiryBench {
  rows: Row[];
  /** 1-minute load average when the measurement started and ended: times are inflated by it, counts are not. */
  loadAtStart: number;
  loadAtEnd: number;
}

export async function measureExpiry(sizes: number[], progress: (m: string) => void): Promise<ExpiryBench> {
  const loadAtStart = loadavg()[0]!;
  const dir = mkdtempSync(join(tmpdir(), 'conveyor-bench-expiry-'));
  // In memory: the fill of 100,000 items on disk did not finish in 42 minutes on a loaded machine.
  const emulators = await startEmulators({ dataDir: dir, startTimeoutMs: 180_000, inMemoryDynamoDb: true });
  try {
    const rows: Row[] = [];
    for (const [n, stored] of sizes.entries()) {
      const env = await provision(emulators.endpoints, { namePrefix: `bench-expiry-${n}` });
      const tally = new Tally();
      const dynamo = countingDynamoClient({ region: env.AWS_REGION, endpoint: env.AWS_ENDPOINT_URL_DYNAMODB, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }, tally);
      const clock = new ManualClock(new Date(T0));
      const deps = createAwsDeps(env, { dynamoClient: dynamo, clock });
      const repo = deps.artifacts as DynamoArtifactRepository;
      const store = dynamoExpiryStore(repo);
      const doc = DynamoDBDocumentClient.from(dynamo);
      progress(`expiry: storing ${stored} artifacts`);
      await fillStored(doc, env.CONVEYOR_TABLE_MAIN!, 1_000_000, stored - EXPIRING);
      for (let i = 0; i < EXPIRING; i++) await repo.create(artifactAt(i + 1, new Date(T0.getTime() + 60_000).toISOString()), []);
      clock.advance(120_000);
      await store.indexReady();
      const measure = async () => {
        const before = tally.snapshot();
        const t = performance.now();
        const report = await runExpiryPass(deps, store, { recheckSeconds: 0 });
        return { report, dynamo: diff(tally.snapshot(), before), ms: performance.now() - t };
      };
      const condemn = await measure();
      const remove = await measure();
      if (condemn.report.condemned.length !== EXPIRING || remove.report.deleted.length !== EXPIRING) {
        throw new Error(`expected ${EXPIRING} condemned then deleted, got ${condemn.report.condemned.length} / ${remove.report.deleted.length}`);
      }
      rows.push({ stored, condemn: { dynamo: condemn.dynamo, ms: condemn.ms }, remove: { dynamo: remove.dynamo, ms: remove.ms } });
      progress(`expiry: ${stored} stored → ${totalRequests(condemn.dynamo)} + ${totalRequests(remove.dynamo)} requests`);
      dynamo.destroy();
    }
    return { rows, loadAtStart, loadAtEnd: loadavg()[0]! };
  } finally {
    await emulators.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const fmtN = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 1 });

export function renderExpirySection(bench: ExpiryBench, command = 'node --import tsx bench/expiry.ts'): string {
  const { rows } = bench;
  const line = (r: Row, which: 'condemn' | 'remove') => {
    const d = r[which].dynamo;
    return `| ${fmtN(r.stored)} | ${which === 'condemn' ? 'condemn 100' : 'delete 100'} | ${fmtN(totalRequests(d))} | ${fmtN(d.rcuBilled)} | ${fmtN(d.wcu)} | ${fmtN(r[which].ms)} |`;
  };
  const last = rows[rows.length - 1]!;
  const per100 = { rcu: last.condemn.dynamo.rcuBilled + last.remove.dynamo.rcuBilled, wcu: last.condemn.dynamo.wcu + last.remove.dynamo.wcu, ms: last.condemn.ms + last.remove.ms };
  const scale = 1_000_000 / EXPIRING;
  const reads = (per100.rcu * scale * PRICES.dynamoReadRequestUnitPerMillion) / 1e6;
  const writes = (per100.wcu * scale * PRICES.dynamoWriteRequestUnitPerMillion) / 1e6;
  // One GB of Lambda for as long as the passes took here (DynamoDB Local on a busy machine: an upper bound).
  const lambda = (per100.ms / 1000) * scale * PRICES.lambdaGbSecond;
  return [
    '## Expiry',
    '',
    `Per expiry pass, with N stored artifacts of which ${EXPIRING} have expired (\`${command}\`, DynamoDB Local in memory;`,
    'RCU counted with the per-request minimum; artifacts without files, so no S3 request). A pass reads only the due',
    'buckets of the expiry index and the relations, links and pins of what expires, plus the due entries of the',
    'item, token and work-request steps (none due here): the rows should be flat in N.',
    `Measured at a 1-minute load average of ${bench.loadAtStart.toFixed(1)} (start) and ${bench.loadAtEnd.toFixed(1)} (end) on a shared machine:`,
    'request and capacity counts are exact; the times (ms, and the Lambda cost below, which follows them) are inflated by the load.',
    '',
    '| stored | pass | DynamoDB requests | RCU | WCU | ms (inflated by load) |',
    '| ---: | --- | ---: | ---: | ---: | ---: |',
    ...rows.flatMap((r) => [line(r, 'condemn'), line(r, 'remove')]),
    '',
    `Expiring a million artifacts (two passes each, as measured at ${fmtN(last.stored)} stored): DynamoDB reads $${reads.toFixed(2)},`,
    `writes $${writes.toFixed(2)}, Lambda (1 GB, measured time) $${lambda.toFixed(2)}: **$${(reads + writes + lambda).toFixed(2)}** at list prices`,
    '(S3 DeleteObject is free; each file adds a blob-reference Query and, when its bytes go, a few blob-row writes).',
    '',
  ].join('\n');
}

/** Replaces the section headed like `section`'s first line (or appends it). */
export function replaceSection(markdown: string, section: string): string {
  const start = markdown.indexOf(`${section.slice(0, section.indexOf('\n'))}\n`);
  if (start < 0) return `${markdown.trimEnd()}\n\n${section}`;
  const next = markdown.indexOf('\n## ', start + 1);
  return markdown.slice(0, start) + section + (next < 0 ? '' : markdown.slice(next + 1));
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let sizes = [100, 10_000, 100_000];
  let out = resolve(__dirname, '..', 'BENCHMARKS.md');
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--sizes') sizes = args[++i]!.split(',').map(Number);
    else if (args[i] === '--out') out = resolve(args[++i]!);
    else throw new Error(`unknown argument ${args[i]} (use --sizes a,b,c and --out FILE)`);
  }
  const bench = await measureExpiry(sizes, (m) => process.stdout.write(`[bench] ${m}\n`));
  writeSection(out, renderExpirySection(bench));
}

/** Puts `section` into the markdown file `out` (replacing the section of the same heading) and prints it. */
export function writeSection(out: string, section: string): void {
  let current = '';
  try {
    current = readFileSync(out, 'utf8');
  } catch {
    // a new file
  }
  writeFileSync(out, replaceSection(current, section));
  process.stdout.write(section);
}

/** Runs a standalone bench module's main, exiting 1 with the stack on failure. */
export function runStandalone(main: () => Promise<void>): void {
  main().catch((err) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}

if (require.main === module) runStandalone(main);
