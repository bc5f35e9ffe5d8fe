/**
 * `npm run reliability`: runs every part of the reliability report once and writes RELIABILITY.md.
 * Sizes: the defaults below (45 minutes on a shared 2-core machine at load 25-60); `--quick` runs the
 * reduced sizes of test/integration/reliability.test.ts instead; `--out <file>` writes elsewhere.
 *
 * Lives in its own top-level folder, not in bench/: bench/ measures speed and cost, this counts
 * failures (figures that must be 0), and both the report and its reduced test import it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulators } from '../cli/dev/emulators';
import { provision } from '../cli/dev/provision';
import { createAwsDeps } from '../shared/adapters/aws';
import { initDatabase } from '../shared/app/bootstrap';
import { runBadInputs, type BadInputResult } from './bad-inputs';
import { runPermissionMatrix, type PermissionResult } from './permissions';
import { runReplays, type ReplayResult } from './replays';
import { runSchedulingCases, runSchedulingOn, type SchedulingResult } from './scheduling';
import { KILL_STACK_ENV, SLEEP_SECONDS, max, p50, type KillResult } from './worker-kills';
import type { RestartResult } from './emulator-restarts';

export const FULL = { badInputs: 10_000, scheduling: 10_000, schedulingDynamo: 5, replays: 100, permissionsEvery: 1, kills: 20, restarts: 5 };
export const QUICK = { badInputs: 300, scheduling: 100, schedulingDynamo: 1, replays: 10, permissionsEvery: 3, kills: 2, restarts: 1 };

interface Results {
  a: BadInputResult;
  b: SchedulingResult;
  bDynamo: SchedulingResult;
  c: ReplayResult;
  e: PermissionResult;
  d: KillResult;
  f: RestartResult;
}

function killSection(d: KillResult): string {
  const reclaimed = d.rounds.flatMap((r) => (r.reclaimedSeconds === null ? [] : [r.reclaimedSeconds]));
  const completed = d.rounds.flatMap((r) => (r.completedSeconds === null ? [] : [r.completedSeconds]));
  const pct = (n: number) => (d.kills ? `${((100 * n) / d.kills).toFixed(0)} %` : 'n/a');
  return section(
    '(d) A worker killed mid-task',
    [
      `kills: ${d.kills}${d.requested > d.kills ? ` of ${d.requested} requested (no new round after ${(d.budgetMs / 60_000).toFixed(1)} minutes)` : ''}; reclaimed: ${d.reclaimed} (${pct(d.reclaimed)}); successor completed: ${d.completed} (${pct(d.completed)})`,
      `time from the kill to the reclaim (the watchdog aborts and retries): p50 ${p50(reclaimed).toFixed(1)} s, max ${max(reclaimed).toFixed(1)} s`,
      `time from the kill to the successor's completion (work done again): p50 ${p50(completed).toFixed(1)} s, max ${max(completed).toFixed(1)} s`,
      `per round (request → successor: seconds to reclaim / to completion): ${d.rounds.map((r) => `${r.request}→${r.successor ?? '-'}: ${r.reclaimedSeconds?.toFixed(1) ?? '-'}/${r.completedSeconds?.toFixed(1) ?? '-'}`).join(', ')}`,
      `time: ${d.seconds.toFixed(0)} s`,
    ],
    `the local stack as the e2e tier starts it (conveyor dev, schedules every second, watchdog staleness ${KILL_STACK_ENV.CONVEYOR_WATCHDOG_STALE_SECONDS} s) ` +
      `with two real \`conveyor worker\` processes heartbeating every second. Each round creates a \`sleep ${SLEEP_SECONDS}\` request, waits ` +
      'until its task process printed its first line on one worker, and SIGKILLs that worker\'s process group and task ' +
      'processes; the request must end aborted (worker-failed) with a successor, and the successor completed/success on ' +
      'the other worker. A new worker then replaces the dead one. Times are the server\'s completed_at minus the kill time ' +
      '(one host, one clock); the reclaim time is bounded below by the staleness limit.',
    'reliability/worker-kills.ts',
    d.errors,
  );
}

export function restartSection(f: RestartResult): string {
  const figures = (emulator: string) => {
    const rounds = f.rounds.filter((r) => r.emulator === emulator);
    const down = rounds.flatMap((r) => (r.downSeconds === null ? [] : [r.downSeconds]));
    const recovered = rounds.flatMap((r) => (r.recoverySeconds === null ? [] : [r.recoverySeconds]));
    return (
      `${emulator === 'dynamodb' ? 'DynamoDB Local' : 'the SQS emulator'}: ${rounds.length} restarts, ${recovered.length} recovered; ` +
      `restart (stop → answering, provisioned) p50 ${p50(down).toFixed(1)} s, max ${max(down).toFixed(1)} s; ` +
      `recovery (restart → next request completed) p50 ${p50(recovered).toFixed(1)} s, max ${max(recovered).toFixed(1)} s`
    );
  };
  return section(
    '(f) Emulators restarted mid-run',
    [
      `restarts: ${f.restartsPerEmulator} of DynamoDB Local and ${f.restartsPerEmulator} of the SQS emulator, alternating`,
      `work requests created: ${f.requests}; ended completed/success, themselves or through a reclaim's successor: ${f.completed}`,
      `lost requests (not completed at the end): ${zero(f.lost.length)}`,
      `requests the watchdog reclaimed on the way (then completed by a successor): ${f.reclaimed}; creations refused while an emulator was down (retried by the client): ${f.refusedCreations}`,
      figures('dynamodb'),
      figures('sqs'),
      `time: ${f.seconds.toFixed(0)} s`,
    ],
    `the local stack as the e2e tier starts it (conveyor dev, schedules every second, watchdog staleness ${KILL_STACK_ENV.CONVEYOR_WATCHDOG_STALE_SECONDS} s) ` +
      'with two real `conveyor worker` processes that nobody touches. A client creates a `sleep 1` request every 2 s for the ' +
      'whole run; every 6 s of load one emulator is restarted in place (`POST /@local/emulators/NAME/restart`, cli/dev/restarts.ts: ' +
      'DynamoDB Local stops and starts again on its port with the same -dbPath; the SQS emulator comes back empty, its queues ' +
      'are provisioned again from the manifest and the registered workers\' queues re-created, and the messages it held are lost: ' +
      'docs/decisions.md "Emulator restarts"). The next restart waits until a request completed after the emulator came back. ' +
      'At the end every work request the stack numbered must end completed/success, itself or through the successors of a ' +
      'reclaim. Times are wall-clock on this host (server completed_at, one clock).',
    'reliability/emulator-restarts.ts',
    [...f.errors, ...f.lost.map((l) => `request ${l.id} ended ${l.outcome}`)],
  );
}

const zero = (n: number) => (n === 0 ? '**0**' : `**${n}** ✗`);

function section(title: string, figures: string[], method: string, command: string, failures: string[]): string {
  return [
    `## ${title}`,
    '',
    ...figures.map((f) => `- ${f}`),
    '',
    `Method: ${method}`,
    '',
    `Command: \`npm run reliability\` (code: ${command})`,
    ...(failures.length ? ['', 'Failures (first 10):', '', ...failures.slice(0, 10).map((f) => `    ${f.replace(/\n/g, ' ').slice(0, 400)}`)] : []),
    '',
  ].join('\n');
}

export function report(r: Results, meta: { started: Date; seconds: number; commit: string; command: string }): string {
  const parts = [
    section(
      '(a) Randomized bad inputs across every route',
      [
        `cases: ${r.a.cases} (fast-check seed ${r.a.seed}), routes hit: ${r.a.routesHit} of ${r.a.routes}`,
        `answers of 5xx (or a handler that threw): ${zero(r.a.serverErrors.length)}`,
        `refused requests (4xx) that changed stored data: ${zero(r.a.changesAfterRefusal.length)}`,
        `answers by status: ${Object.entries(r.a.byStatus).map(([s, n]) => `${s}: ${n}`).join(', ')}`,
        `cases a route accepted (2xx/3xx: the "bad" element was one the route ignores, e.g. a bad header on a route that reads none): ${r.a.accepted}`,
        `time: ${r.a.seconds.toFixed(0)} s`,
      ],
      'every case picks a route of the manifest (shared/manifest.ts, routeTable()) and one bad element: a garbage, ' +
        'disabled, malformed (`Token x`) or missing token; a path parameter trick (`..`, `%2e%2e`, `-1`, `1e3`, `0x10`, ' +
        'huge numbers, unicode, 600 chars); a malformed JSON body (truncated, BOM, NaN, `__proto__`, over 1 MiB); a JSON ' +
        'body of wrong types (fields of the API set to null, huge or unicode strings, 2^53+1, arrays, objects); a bad ' +
        'query (negative, huge or non-numeric limits, forged cursors, unknown archive types); a bad header (inverted or ' +
        'multiple ranges, bad Content-Range, unknown scope, other media types). The rest of the request is plausible ' +
        '(real ids of seeded objects, an admin token). Requests go through the real middy handlers, routed like the ' +
        'local gateway, on the memory adapters. Stored data is a canonical snapshot of every memory store (Maps sorted, ' +
        "Buffers hashed; a token's lastSeenAt and read counters left out) before and after each request; a change after " +
        'a 2xx starts a fresh world.',
      'reliability/bad-inputs.ts',
      [...r.a.serverErrors.map((e) => `${e.status} ${e.request} → ${e.body}`), ...r.a.changesAfterRefusal.map((e) => `${e.status} changed data: ${e.request}`)],
    ),
    section(
      '(b) Randomized concurrent scheduling',
      [
        `memory fakes: ${r.b.cases} cases (fast-check seed ${r.b.seed}), ${r.b.operations} concurrent operations, ${r.b.assignments} assignments`,
        `double assignments or slot miscounts: ${zero(r.b.violations.length)}`,
        `DynamoDB Local sample: ${r.bDynamo.cases} cases, ${r.bDynamo.operations} concurrent operations, ${r.bDynamo.assignments} assignments, violations ${zero(r.bDynamo.violations.length)}`,
        `time: ${r.b.seconds.toFixed(0)} s (memory), ${r.bDynamo.seconds.toFixed(0)} s (DynamoDB Local)`,
      ],
      'each case draws 1-4 workers (concurrency 1-3, able to run the task or not), 1-10 pending requests and 2-8 ' +
        'concurrent operations (scheduler passes, get-next pulls of a worker, completions). Each worker behaves like ' +
        '`conveyor worker`: one get-next at a time, listing every request it runs until its completion was answered. ' +
        'On the memory fakes every call ' +
        "into the work-request and worker repositories waits for fast-check's scheduler, which picks the interleaving. " +
        'Checked afterwards: no request was handed to two workers (pass results and pulls), each worker counts exactly ' +
        'the requests it holds (successors included) and never more than its concurrency, each request is stored on the ' +
        'worker it was given to, and none was reclaimed (no worker died). On DynamoDB Local the same cases run with real concurrency (no gate), each in a workspace and ' +
        'architecture of its own.',
      'reliability/scheduling.ts',
      [...r.b.violations, ...r.bDynamo.violations].map((v) => `${v.detail} in ${v.case}`),
    ),
    section(
      '(c) Replayed and reordered messages on every queue consumer',
      [
        `runs: ${r.c.runs} (fast-check seed ${r.c.seed}), each a full system run of ${r.c.workRequests} work requests`,
        `messages delivered / replayed, by consumer: ${Object.keys(r.c.delivered).map((k) => `${k} ${r.c.delivered[k as keyof typeof r.c.delivered]} / ${r.c.replayed[k as keyof typeof r.c.replayed]}`).join('; ')}`,
        `runs whose stored state differs from the in-order run (a duplicated effect): ${zero(r.c.differences.length)}`,
        `time: ${r.c.seconds.toFixed(0)} s`,
      ],
      'one system run in memory (a build-and-lint workflow on two architectures, 3 noop and 2 servernoop requests, two ' +
        'uploads verified in the background, two heartbeats per started request, quota accounting) is driven to the end ' +
        'with the real consumers (orchestrate, schedule, runServerTask, applyHeartbeats, verifyQueuedUpload, ' +
        'applyAccountingEvents), first with each message delivered once and in order, then per run with messages ' +
        'delivered again at once (20-70 % chance, repeatedly), replayed a round later, and shuffled within each batch ' +
        '(the FIFO orchestrator keeps each root\'s order; its replays come after). The stored state at the end (every ' +
        'store but the queues, token hashes redacted) must equal the in-order one. The socket greeter is not covered: ' +
        'the memory adapters have no WebSocket connections table.',
      'reliability/replays.ts',
      r.c.differences.map((d) => `${JSON.stringify(d.delivery)}: ${d.first}`),
    ),
    section(
      '(e) The permission matrix',
      [
        `cases: ${r.e.cases} = ${r.e.routes} routes × ${r.e.actors} actors (admin, owner, contributor, uploader, viewer, stranger, anonymous, worker) × public/private workspace`,
        `leaks (a refused actor answered 2xx/3xx, or a private object in an answer to a stranger or anonymous caller): ${zero(r.e.leaks.length)}`,
        `answers of 5xx: ${zero(r.e.serverErrors.length)}`,
        `allowed cases that succeeded: ${r.e.allowedSucceeded} of ${r.e.allowedCases} (the rest are refused for the state, e.g. retrying a request that did not fail)`,
        `time: ${r.e.seconds.toFixed(0)} s`,
      ],
      'every route gets a well-formed request aimed at seeded objects of the workspace, so that only a permission ' +
        'check can refuse it; the rule of each route (reliability/permissions.ts, RULES) says who may succeed. The ' +
        'seeded objects of the private workspace carry `SECRET-priv` in their names and data, and answers to callers who ' +
        'may not see it (stranger, anonymous) about the public workspace are searched for it; the workspace list must ' +
        'not name it. A change to the stored data starts a fresh world.',
      'reliability/permissions.ts',
      [...r.e.leaks.map((l) => `${l.actor} ${l.workspace} ${l.request}: ${l.why}`), ...r.e.serverErrors.map((e) => `${e.actor} ${e.request}: ${e.status}`)],
    ),
    killSection(r.d),
    restartSection(r.f),
  ];
  return [
    '# Reliability report',
    '',
    `Written by \`${meta.command}\` on ${meta.started.toISOString()} at commit ${meta.commit}, in ${(meta.seconds / 60).toFixed(1)} minutes.`,
    `Machine: ${cpus().length} cores shared with other jobs (load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at the end): times are wall-clock on a loaded machine.`,
    'Figures that must be 0 are in bold; a ✗ marks one that is not. `npm test` runs every part at a reduced size',
    '(test/integration/reliability.test.ts) and asserts the zeros.',
    '',
    ...parts,
  ].join('\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const size = args.includes('--quick') ? QUICK : FULL;
  const outAt = args.indexOf('--out');
  const out = outAt >= 0 ? args[outAt + 1]! : 'RELIABILITY.md';
  const started = new Date();
  const log = (m: string) => process.stderr.write(`[reliability] ${new Date().toISOString()} ${m}\n`);
  if (args.includes('--only-f')) return rerunPartF(size.restarts, out, log);
  log(`(a) ${size.badInputs} bad inputs`);
  const a = await runBadInputs(size.badInputs);
  log(`(b) ${size.scheduling} scheduling cases`);
  const b = await runSchedulingCases(size.scheduling);
  log(`(c) ${size.replays} replay runs`);
  const c = await runReplays(size.replays);
  log('(e) permission matrix');
  const e = await runPermissionMatrix(size.permissionsEvery);
  log(`(b) ${size.schedulingDynamo} cases on DynamoDB Local`);
  const dataDir = mkdtempSync(join(tmpdir(), 'conveyor-reliability-'));
  const emulators = await startEmulators({ dataDir });
  let bDynamo: SchedulingResult;
  try {
    const deps = createAwsDeps({ ...process.env, ...(await provision(emulators.endpoints)) });
    await initDatabase(deps);
    bDynamo = await runSchedulingOn(deps, size.schedulingDynamo);
  } finally {
    await emulators.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  log(`(d) ${size.kills} workers killed mid-task`);
  // Loaded on use: the real local stack and worker processes are only needed here.
  const { runWorkerKills } = await import('./worker-kills');
  const d = await runWorkerKills(size.kills);
  log(`(f) ${size.restarts} restarts of each emulator`);
  const { runEmulatorRestarts } = await import('./emulator-restarts');
  const f = await runEmulatorRestarts(size.restarts);
  const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  const seconds = (Date.now() - started.getTime()) / 1000;
  const command = `npm run reliability${args.length ? ` -- ${args.join(' ')}` : ''}`;
  writeFileSync(out, report({ a, b, bDynamo, c, e, d, f }, { started, seconds, commit, command }));
  log(`wrote ${out}`);
  const failures = a.serverErrors.length + a.changesAfterRefusal.length + b.violations.length + bDynamo.violations.length + c.differences.length + e.leaks.length + e.serverErrors.length + (d.kills - d.completed) + f.lost.length + f.errors.length;
  process.exitCode = failures ? 1 : 0;
}

/**
 * `npm run reliability -- --only-f`: part (f) alone, its section of `out` replaced (the other parts
 * keep the figures of their last run; the section says when and at which commit it ran).
 */
async function rerunPartF(restarts: number, out: string, log: (m: string) => void): Promise<void> {
  log(`(f) alone: ${restarts} restarts of each emulator`);
  const { runEmulatorRestarts } = await import('./emulator-restarts');
  const f = await runEmulatorRestarts(restarts);
  const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  const note =
    `Part (f) alone was run by \`npm run reliability -- --only-f\` on ${new Date().toISOString()} at commit ${commit} ` +
    `(load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at its end: times are inflated by the loaded machine); the parts above come from their own runs.\n\n`;
  const sectionText = restartSection(f).replace('## (f) Emulators restarted mid-run\n\n', `## (f) Emulators restarted mid-run\n\n${note}`);
  const current = readFileSync(out, 'utf8');
  const at = current.indexOf('## (f) ');
  writeFileSync(out, at >= 0 ? `${current.slice(0, at)}${sectionText}` : `${current}\n${sectionText}`);
  log(`wrote part (f) into ${out}`);
  process.exitCode = f.lost.length + f.errors.length ? 1 : 0;
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
