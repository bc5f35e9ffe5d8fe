/**
 * Section 9 of BENCHMARKS.md: the floor that dispatch is compared with, the start-up of the
 * compiled CLI and task runner, and the Lambda bundles (size and cold init per function).
 *
 * - Floor: one SQS SendMessage on the stack's SQS emulator → a ReceiveMessage that was already
 *   long-polling returns it → one conditional PutItem on the main table (what a dispatch needs at
 *   the very least: one queue hop and one conditional write).
 * - Start-up: `node dist/cli.js --help` and one noop task process (dist/task-runner.js, as the
 *   compiled worker starts it: spawn → outcome file read), with the TypeScript (tsx) runs beside;
 *   and beside them what no Node program starts under: `node -e 0` (the environment `--help` runs
 *   in), a task process whose script only writes the outcome (the task environment), and the CLI
 *   bundle printing its help itself (`node dist/cli.js help`: a `--help` not answered before).
 * - Bundles: each function bundled as the CDK stack does (LAMBDA_BUNDLE_OPTIONS: minified CJS, AWS
 *   SDK external); cold init = a fresh `node` process timing `require(bundle)` (module load until
 *   the handler is ready). The SDK modules a bundle requires load from node_modules here, as they
 *   load from the runtime on Lambda.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, DeleteMessageCommand, DeleteQueueCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { LAMBDA_BUNDLE_OPTIONS, REPO_ROOT } from '../build/compile';
import { taskProcessSpawner } from '../cli/worker/task-process';
import { FUNCTIONS, TABLES } from '../shared/manifest';
import { fmt, fmtBytes, fmtMs, percentile } from './stats';

export interface Distribution {
  samples: number[];
  p50: number;
  p95: number;
}

export interface BundleResult {
  name: string;
  bytes: number;
  coldInitMs: Distribution;
}

export interface SpeedResults {
  floor: Distribution & { hopMs: number[]; writeMs: number[] };
  cliHelpMs: Distribution;
  cliHelpTsxMs: Distribution;
  taskProcessMs: Distribution;
  taskProcessTsxMs: Distribution;
  /** `node -e 0` in the environment `--help` is timed in: the start of Node itself. */
  nodeBaselineMs?: Distribution;
  /** A task process whose script only writes the outcome: spawn, Node start and pipes, no runner. */
  taskFloorMs?: Distribution;
  /** `node dist/cli.js help`: the bundle loads and prints the help (what a `--help` not kept before costs). */
  cliBundleHelpMs?: Distribution;
  bundles: BundleResult[];
}

export type SpeedPart = 'floor' | 'startup' | 'bundles';

const distribution = (samples: number[]): Distribution => ({ samples, p50: percentile(samples, 50), p95: percentile(samples, 95) });
const empty = (): Distribution => distribution([]);

/** One SQS hop (send → a waiting long poll returns) plus one conditional write, `iterations` times. */
export async function measureFloor(env: Record<string, string>, iterations: number): Promise<SpeedResults['floor']> {
  const region = env['AWS_REGION'] ?? 'us-east-1';
  const credentials = { accessKeyId: env['AWS_ACCESS_KEY_ID'] ?? 'local', secretAccessKey: env['AWS_SECRET_ACCESS_KEY'] ?? 'local' };
  const sqs = new SQSClient({ region, credentials, endpoint: env['AWS_ENDPOINT_URL_SQS'] });
  const dynamo = new DynamoDBClient({ region, credentials, endpoint: env['AWS_ENDPOINT_URL_DYNAMODB'] });
  const table = env[TABLES.main.envVar]!;
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `bench-floor-${Date.now()}` }));
  const totals: number[] = [];
  const hops: number[] = [];
  const writes: number[] = [];
  try {
    for (let i = 0; i < iterations + 2; i++) {
      const receiving = sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 20, MaxNumberOfMessages: 1 }));
      // Let the long poll reach the emulator before sending, as a worker's poll always is.
      await new Promise((r) => setTimeout(r, 30));
      const t0 = performance.now();
      await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: `floor-${i}` }));
      const { Messages } = await receiving;
      const t1 = performance.now();
      if (!Messages?.length) throw new Error('the floor message did not arrive');
      await dynamo.send(
        new PutItemCommand({
          TableName: table,
          Item: { pk: { S: `BENCHFLOOR#${Date.now()}#${i}` }, sk: { S: 'A' } },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      const t2 = performance.now();
      await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: Messages[0]!.ReceiptHandle }));
      if (i < 2) continue; // warm-up
      hops.push(t1 - t0);
      writes.push(t2 - t1);
      totals.push(t2 - t0);
    }
  } finally {
    await sqs.send(new DeleteQueueCommand({ QueueUrl })).catch(() => undefined);
    sqs.destroy();
    dynamo.destroy();
  }
  return { ...distribution(totals), hopMs: hops, writeMs: writes };
}

function timeCommand(command: string, args: string[], runs: number): Distribution {
  const samples: number[] = [];
  for (let i = 0; i < runs + 1; i++) {
    const t = performance.now();
    execFileSync(command, args, { stdio: 'ignore', cwd: REPO_ROOT });
    if (i > 0) samples.push(performance.now() - t); // the first run warms the file cache
  }
  return distribution(samples);
}

async function timeTaskProcess(runner: { command: string; args: string[] }, runs: number): Promise<Distribution> {
  const spawnTask = taskProcessSpawner(runner);
  const tmp = mkdtempSync(join(tmpdir(), 'conveyor-bench-tasks-'));
  const samples: number[] = [];
  try {
    for (let i = 0; i < runs + 1; i++) {
      const dir = join(tmp, `task-${i}`);
      mkdirSync(dir, { recursive: true });
      const t = performance.now();
      const handle = await spawnTask({ workRequest: { id: 0, task_name: 'noop', task_data: {} }, dir, server: 'http://127.0.0.1:9', token: 'unused' }, () => undefined);
      const exit = await handle.done;
      if (exit.outcome?.result !== 'success') throw new Error(`the noop task process failed: ${JSON.stringify(exit)}`);
      if (i > 0) samples.push(performance.now() - t);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return distribution(samples);
}

/** The CLI's and the task runner's start-up, compiled (dist/, built by the caller) and from TypeScript. */
export async function measureStartup(
  runs: number,
): Promise<Pick<SpeedResults, 'cliHelpMs' | 'cliHelpTsxMs' | 'taskProcessMs' | 'taskProcessTsxMs' | 'nodeBaselineMs' | 'taskFloorMs' | 'cliBundleHelpMs'>> {
  const tsx = ['--import', join(REPO_ROOT, 'node_modules/tsx/dist/loader.mjs')];
  const floorDir = mkdtempSync(join(tmpdir(), 'conveyor-bench-floor-'));
  const floorRunner = join(floorDir, 'write-outcome.js');
  writeFileSync(floorRunner, `require('node:fs').writeFileSync(process.argv[3], JSON.stringify({ result: 'success' }));`);
  try {
    return {
      cliHelpMs: timeCommand(process.execPath, [join(REPO_ROOT, 'dist/cli.js'), '--help'], runs),
      cliHelpTsxMs: timeCommand(process.execPath, [...tsx, join(REPO_ROOT, 'cli/main.ts'), '--help'], Math.min(runs, 3)),
      taskProcessMs: await timeTaskProcess({ command: process.execPath, args: [join(REPO_ROOT, 'dist/task-runner.js')] }, runs),
      taskProcessTsxMs: await timeTaskProcess({ command: process.execPath, args: [...tsx, join(REPO_ROOT, 'cli/worker/task-runner.ts')] }, Math.min(runs, 3)),
      nodeBaselineMs: timeCommand(process.execPath, ['-e', '0'], runs),
      taskFloorMs: await timeTaskProcess({ command: process.execPath, args: [floorRunner] }, runs),
      cliBundleHelpMs: timeCommand(process.execPath, [join(REPO_ROOT, 'dist/cli.js'), 'help'], runs),
    };
  } finally {
    rmSync(floorDir, { recursive: true, force: true });
  }
}

/** Bundles every function as the CDK stack does and times its cold module load in fresh processes. */
export async function measureBundles(runs: number): Promise<BundleResult[]> {
  const esbuild = await import('esbuild');
  // Inside the repository, so that the external AWS SDK resolves from node_modules.
  const out = mkdtempSync(join(REPO_ROOT, '.bench-bundles-'));
  try {
    const results: BundleResult[] = [];
    for (const fn of FUNCTIONS) {
      const file = join(out, `${fn.name}.js`);
      await esbuild.build({ ...LAMBDA_BUNDLE_OPTIONS, entryPoints: [join(REPO_ROOT, fn.entry)], outfile: file });
      const script =
        `const t = performance.now(); const m = require(${JSON.stringify(file)});` +
        `if (typeof m.handler !== 'function') process.exit(3); process.stdout.write(String(performance.now() - t));`;
      const samples: number[] = [];
      for (let i = 0; i < runs; i++) {
        const res = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, AWS_REGION: 'us-east-1' } });
        if (res.status !== 0) throw new Error(`${fn.name}: the bundle did not load: ${res.stderr.slice(0, 500)}`);
        samples.push(Number(res.stdout));
      }
      results.push({ name: fn.name, bytes: statSync(file).size, coldInitMs: distribution(samples) });
    }
    return results;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

export async function measureSpeed(
  env: Record<string, string>,
  opts: { parts: Set<SpeedPart>; floorIterations: number; startupRuns: number; bundleRuns: number; progress: (m: string) => void },
): Promise<SpeedResults> {
  const result: SpeedResults = {
    floor: { ...empty(), hopMs: [], writeMs: [] },
    cliHelpMs: empty(),
    cliHelpTsxMs: empty(),
    taskProcessMs: empty(),
    taskProcessTsxMs: empty(),
    bundles: [],
  };
  if (opts.parts.has('floor')) {
    result.floor = await measureFloor(env, opts.floorIterations);
    opts.progress(`floor (SQS hop + conditional write): p50 ${fmtMs(result.floor.p50)}, p95 ${fmtMs(result.floor.p95)}`);
  }
  if (opts.parts.has('startup')) {
    Object.assign(result, await measureStartup(opts.startupRuns));
    opts.progress(`conveyor --help p50 ${fmtMs(result.cliHelpMs.p50)} (tsx ${fmtMs(result.cliHelpTsxMs.p50)}); noop task process p50 ${fmtMs(result.taskProcessMs.p50)} (tsx ${fmtMs(result.taskProcessTsxMs.p50)})`);
  }
  if (opts.parts.has('bundles')) {
    result.bundles = await measureBundles(opts.bundleRuns);
    opts.progress(`bundles: ${result.bundles.map((b) => `${b.name} ${fmtBytes(b.bytes)} ${fmtMs(b.coldInitMs.p50)}`).join(', ')}`);
  }
  return result;
}

const row = (cells: string[]): string => `| ${cells.join(' | ')} |`;

/** What no Node program starts under, beside the start-up rows (when measured). */
function startupBaselineRows(r: SpeedResults): string[] {
  const rows: [string, Distribution | undefined][] = [
    ['`conveyor help` (`node dist/cli.js help`: the bundle prints the help)', r.cliBundleHelpMs],
    ['baseline: `node -e 0`', r.nodeBaselineMs],
    ['baseline: task process floor, spawn → outcome (a script that only writes the outcome)', r.taskFloorMs],
  ];
  return rows.filter(([, d]) => d?.samples.length).map(([label, d]) => row([label, String(d!.samples.length), fmtMs(d!.p50), fmtMs(d!.p95), '']));
}

export function renderSpeedSection(r: SpeedResults, dispatch?: { p50: number; p95: number }): string {
  const out: string[] = [];
  out.push('## 9. The floor, start-up and Lambda bundles', '');
  if (r.floor.samples.length) {
    out.push(
      `**Floor** (${r.floor.samples.length} samples, same local stack and run): one \`SendMessage\` on the SQS emulator → a \`ReceiveMessage\` already long-polling returns it → one conditional \`PutItem\` on the main table.`,
      '',
      row(['', 'p50', 'p95']),
      row(['---', '---:', '---:']),
      row(['SQS hop (send → long poll returns)', fmtMs(percentile(r.floor.hopMs, 50)), fmtMs(percentile(r.floor.hopMs, 95))]),
      row(['conditional write', fmtMs(percentile(r.floor.writeMs, 50)), fmtMs(percentile(r.floor.writeMs, 95))]),
      row(['**floor** (hop + write)', `**${fmtMs(r.floor.p50)}**`, `**${fmtMs(r.floor.p95)}**`]),
    );
    if (dispatch) {
      out.push(
        row(['dispatch (section 4: `started_at − created_at`)', fmtMs(dispatch.p50), fmtMs(dispatch.p95)]),
        row(['dispatch ÷ floor', `${fmt(dispatch.p50 / r.floor.p50, 2)}×`, `${fmt(dispatch.p95 / r.floor.p95, 2)}×`]),
      );
    }
    out.push('');
  }
  if (r.cliHelpMs.samples.length) {
    out.push(
      '**Start-up** (wall time, the first run of each left out): the compiled bundles of `dist/` (built by `npm install`’s `prepare`, `build/compile.ts`) and, for reference, the TypeScript sources through tsx.',
      '',
      row(['', 'runs', 'p50', 'p95', 'tsx p50']),
      row(['---', '---:', '---:', '---:', '---:']),
      row(['`conveyor --help` (`node dist/cli.js --help`)', String(r.cliHelpMs.samples.length), fmtMs(r.cliHelpMs.p50), fmtMs(r.cliHelpMs.p95), fmtMs(r.cliHelpTsxMs.p50)]),
      row(['noop task process, spawn → outcome (`dist/task-runner.js`)', String(r.taskProcessMs.samples.length), fmtMs(r.taskProcessMs.p50), fmtMs(r.taskProcessMs.p95), fmtMs(r.taskProcessTsxMs.p50)]),
      ...startupBaselineRows(r),
      '',
      '`conveyor --help` after the first: the help text the bundle printed for the same words and output is printed again without loading the bundle (build/help-cache.ts); the first `--help` after a build costs what `conveyor help` costs. `node -e 0` runs in the same environment as `--help`; the task process floor in the task environment (cli/worker/task-process.ts).',
      '',
    );
  }
  if (r.bundles.length) {
    out.push(
      `**Lambda bundles**: each function bundled as the CDK stack bundles it (esbuild, minified CommonJS for Node.js 22, AWS SDK v3 external: it comes with the runtime). Cold init = \`require\` of the bundle in a fresh \`node\` process until the handler is exported (${r.bundles[0]!.coldInitMs.samples.length} processes each; the SDK modules it requires load from node_modules here).`,
      '',
      row(['function', 'bundle size', 'cold init p50', 'p95']),
      row(['---', '---:', '---:', '---:']),
      ...r.bundles.map((b) => row([`\`${b.name}\``, fmtBytes(b.bytes), fmtMs(b.coldInitMs.p50), fmtMs(b.coldInitMs.p95)])),
      '',
    );
  }
  return out.join('\n');
}
