/**
 * `npm run bench`: measures the artifact store and work-request dispatch on the local stack and
 * writes BENCHMARKS.md.
 *
 *   npm run bench                 # full run (~8 minutes on 2 cores), overwrites BENCHMARKS.md
 *   npm run bench -- --quick      # few iterations, for checking the benchmark itself
 *   npm run bench -- --out FILE   # write the report elsewhere
 *   npm run bench -- --only work,speed   # only some sections (uploads, capacity, work, workflows,
 *                                 # speed, web-ui, accounting, recurring, ids, child-steps, expiry); writes bench-partial.md unless --out is given
 *
 * The local stack (emulators, gateway, queue pollers) starts in this process on a temporary data
 * dir and a free port, and is stopped (and the data dir removed) at the end, on failure and on Ctrl-C.
 * The work-request sections also start `conveyor worker` processes, killed on the same occasions.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem, type as osType } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startLocalStack, type RunningLocalStack } from '../cli/dev/command';
import { formatError, type Log } from '../cli/dev/handlers';
import { createAwsDeps } from '../shared/adapters/aws';
import { createToken, createUser, createWorkspace, grantRole } from '../shared/app/admin';
import { DEFAULT_SCOPE } from '../shared/domain/tenancy';
import { measureCapacity } from './capacity';
import { costPerMillionArtifacts, costPerMillionWorkRequests } from './cost';
import { runDispatch } from './dispatch';
import { setUpInProcess } from './inprocess';
import { InvocationRecorder } from './invocations';
import { measureLifecycle } from './lifecycle-cost';
import { measureSchedulerReads } from './scheduler-reads';
import { measureWorkflows } from './workflows';
import { measureAccounting, renderAccountingSection } from './accounting';
import { measureRecurring, renderRecurringSection } from './recurring';
import { measureExpiry, renderExpirySection } from './expiry';
import { renderWorkflowSection } from './workflow-report';
import { killWorkers, type WorkerProcess } from './worker-pool';
import { renderWorkRequestSections, workRequestCostInput } from './work-report';
import { runPhase, type ApiTarget, type Payload, type PhaseOptions, type PhaseResult } from './http';
import { measureHandlerTimes } from './lambda';
import { startCountingProxy, type CountingProxy } from './proxy';
import { renderReport } from './report';
import { KiB, MiB, fmt, fmtMs, percentile } from './stats';
import { measureWebUi, renderWebUiSection, summariseWebUi } from './web-ui';
import { measureSpeed, renderSpeedSection } from './speed';
import { compile } from '../build/compile';
import { measureIdBlocks, renderIdBlocksSection } from './id-blocks';
import { measureChildSteps, renderChildStepsSection } from './child-steps';
import { renderDispatchTraceSection, traceDispatch } from './dispatch-trace';

const REPO_ROOT = resolve(__dirname, '..');
const ACTOR = 'system:bench';
const USERNAME = 'bench';
const WORKSPACE = 'bench';

/** Sections `--only` can pick: 1 + 3, 2, 4–7, 8, 9. */
const SECTIONS = ['uploads', 'capacity', 'work', 'workflows', 'speed', 'web-ui', 'accounting', 'recurring', 'ids', 'child-steps', 'expiry'] as const;
type Section = (typeof SECTIONS)[number];

interface Settings {
  quick: boolean;
  out: string;
  /** Undefined: every section (the full report). */
  only?: Set<Section>;
}

function parseArgs(argv: string[]): Settings {
  let quick = false;
  let out: string | undefined;
  let only: Set<Section> | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick') quick = true;
    else if (arg === '--out' && argv[i + 1] !== undefined) out = resolve(argv[++i]!);
    else if (arg === '--only' && argv[i + 1] !== undefined) {
      const names = argv[++i]!.split(',').filter(Boolean);
      const unknown = names.filter((n) => !(SECTIONS as readonly string[]).includes(n));
      if (unknown.length || names.length === 0) throw new Error(`--only takes a comma-separated list of ${SECTIONS.join(', ')} (not ${unknown.join(', ')})`);
      only = new Set(names as Section[]);
    } else throw new Error(`unknown argument ${arg} (use --quick, --out FILE, --only ${SECTIONS.join(',')})`);
  }
  // The uploads' cost (section 2) and the report's first sections go together.
  if (only && only.has('uploads') !== only.has('capacity')) throw new Error('--only: uploads and capacity go together');
  return { quick, out: out ?? join(REPO_ROOT, only ? 'bench-partial.md' : 'BENCHMARKS.md'), ...(only ? { only } : {}) };
}

function progress(message: string): void {
  process.stdout.write(`[bench] ${message}\n`);
}

async function main(): Promise<void> {
  const settings = parseArgs(process.argv.slice(2));
  // The handlers' structured logs (console.log: one line per scheduling pass or heartbeat batch) would
  // bury the progress lines; errors (console.error) still show.
  console.log = () => undefined;
  const started = performance.now();
  const date = new Date();
  const loadAtStart = loadavg();
  const n = (full: number, quick: number): number => (settings.quick ? quick : full);
  const want = (section: Section): boolean => settings.only?.has(section) ?? true;

  const warnings: string[] = [];
  const log: Log = (level, message, error) => {
    if (level === 'info') return; // one access-log line per request: far too many
    const line = `${level}: ${message}${error === undefined ? '' : ` ${formatError(error)}`}`;
    warnings.push(line);
    process.stderr.write(`[local stack] ${line}\n`);
  };

  const dataDir = mkdtempSync(join(tmpdir(), 'conveyor-bench-'));
  const abort = new AbortController();
  let stack: RunningLocalStack | undefined;
  let proxy: CountingProxy | undefined;
  let cleaning: Promise<void> | undefined;
  const workerSets: Set<WorkerProcess>[] = [];
  const cleanup = (): Promise<void> =>
    (cleaning ??= (async () => {
      for (const set of workerSets) killWorkers(set);
      await proxy?.close().catch(() => undefined);
      await stack?.stop().catch((err: unknown) => process.stderr.write(`[bench] stopping the local stack: ${formatError(err)}\n`));
      rmSync(dataDir, { recursive: true, force: true });
    })());
  const onSignal = (signal: NodeJS.Signals): void => {
    progress(`${signal}: stopping`);
    abort.abort();
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    // Dispatch is measured on the scheduler's event path: the timer keeps its normal 1-minute rate.
    if (process.env['CONVEYOR_DEV_SCHEDULE_SECONDS'] !== undefined) {
      progress('ignoring CONVEYOR_DEV_SCHEDULE_SECONDS: the benchmark measures the scheduler event path with the default tick');
      delete process.env['CONVEYOR_DEV_SCHEDULE_SECONDS'];
    }
    // The worker processes run bin/conveyor: compile first, so that they run today's code, compiled.
    progress('compiling dist/ (build/compile.ts)');
    await compile();
    progress(`starting the local stack on ${dataDir}`);
    stack = await startLocalStack({ port: 0, dataDir, log }, abort.signal);
    progress(`local stack up at ${stack.url} (${fmtMs(performance.now() - started)})`);
    // Before any work-request handler is loaded: count and time what the stack invokes.
    const recorder = new InvocationRecorder();
    recorder.install(REPO_ROOT, ['work-requests-api', 'workers-api', 'scheduler', 'heartbeat-applier', 'watchdog']);


    // A plain user with a token and the contributor role in a workspace of its own.
    const admin = createAwsDeps({ ...stack.env });
    await createUser(admin, ACTOR, { username: USERNAME, email: 'bench@example.org' });
    await createWorkspace(admin, ACTOR, { name: WORKSPACE });
    await grantRole(admin, ACTOR, { workspace: WORKSPACE, username: USERNAME, role: 'contributor' });
    const newKey = async (): Promise<string> => (await createToken(admin, ACTOR, { username: USERNAME, enabled: true, comment: 'bench' })).key;
    const token = await newKey();

    proxy = await startCountingProxy(new URL(stack.url));
    const target: ApiTarget = { url: proxy.url, token, workspace: WORKSPACE };
    const phases: PhaseResult[] = [];
    const run = async (options: PhaseOptions): Promise<PhaseResult> => {
      proxy!.reset();
      const t = performance.now();
      const result = await runPhase(target, { progress, ...options });
      const counts = proxy!.counts();
      result.apiBytesIn = counts.toApi;
      result.apiBytesOut = counts.fromApi;
      phases.push(result);
      progress(
        `${result.name}: ${fmt(result.artifactsPerSecond, 2)} artifacts/s, ${fmt(result.mibPerSecond, 2)} MiB/s, ` +
          `p50 ${fmtMs(result.p50Ms)}, p95 ${fmtMs(result.p95Ms)} (${fmtMs(performance.now() - t)}); steps p50 ` +
          Object.entries(result.stepsP50).map(([k, v]) => `${k} ${fmtMs(v)}`).join(', '),
      );
      return result;
    };

    // ---------------------------------------------------------------- 1 + 3: HTTP uploads
    if (want('uploads')) {
      // Loads the handlers and warms up both JITs (Node's and DynamoDB Local's JVM): the first requests are much slower.
      await runPhase(target, { name: 'warm-up', size: KiB, iterations: n(120, 10), concurrency: 4, expectUpload: true });
      await run({ name: '1 KiB', size: KiB, iterations: n(200, 20), expectUpload: true });
      await run({ name: '1 KiB, 8 clients', size: KiB, iterations: n(200, 20), concurrency: 8, expectUpload: true });
      const oneMiB: Payload[] = [];
      await run({ name: '1 MiB', size: MiB, iterations: n(50, 5), expectUpload: true, onUploaded: (p) => oneMiB.push(p) });
      await run({
        name: '1 MiB, dedup (same bytes again)',
        size: MiB,
        iterations: oneMiB.length,
        payloadFor: (i) => oneMiB[i]!,
        expectUpload: false,
      });
      oneMiB.length = 0;
      await run({ name: '100 MiB', size: 100 * MiB, iterations: n(5, 1), expectUpload: true });
      await run({ name: '150 MiB, multipart', size: 150 * MiB, iterations: n(2, 1), expectUpload: true });
      await proxy.close();
      proxy = undefined;
    }

    // ---------------------------------------------------------------- 2: capacity, Lambda time, cost
    let capacity: Awaited<ReturnType<typeof measureCapacity>> | undefined;
    let lambda: Awaited<ReturnType<typeof measureHandlerTimes>> | undefined;
    let cost: ReturnType<typeof costPerMillionArtifacts> | undefined;
    const capacityFileSize = KiB;
    if (want('capacity')) {
      progress('measuring DynamoDB capacity per operation');
      capacity = await measureCapacity({
        env: stack.env,
        scope: DEFAULT_SCOPE,
        workspace: WORKSPACE,
        tokenKey: token,
        freshTokenKey: newKey,
        repetitions: n(10, 3),
        fileSize: capacityFileSize,
      });
      progress('timing the artifacts-api handler in-process');
      lambda = await measureHandlerTimes({ token, workspace: WORKSPACE, iterations: n(60, 10), warmup: 5, fileSize: capacityFileSize });
      cost = costPerMillionArtifacts(capacity, lambda);
      progress(`cost per million artifact creates: $${fmt(cost.totalPerMillion, 2)}`);
    }

    // Registers an in-process worker: only after the dispatch runs, whose requests it would otherwise take.
    let inProcessSetUp: ReturnType<typeof setUpInProcess> | undefined;
    const inProcess = () => (inProcessSetUp ??= setUpInProcess(stack!.env, ACTOR, admin));

    // ---------------------------------------------------------------- 8: workflows
    let workflowsSection: string | undefined;
    const runWorkflows = async (): Promise<string> => {
      progress('workflows: populate cost, orchestration latency, redelivery (orchestrator driven in-process)');
      const workflows = await measureWorkflows(await inProcess(), {
        admin,
        actor: ACTOR,
        workspace: WORKSPACE,
        userToken: token,
        children: n(100, 20),
        latencySamples: n(30, 10),
        progress,
      });
      progress(`workflows: ${fmt(workflows.ms / 1000, 1)} s`);
      return renderWorkflowSection(workflows);
    };

    // ---------------------------------------------------------------- 4–7: work requests
    let workRequests: string | undefined;
    let dispatchP50P95: { p50: number; p95: number } | undefined;
    let dispatchTraceSection: string | undefined;
    if (want('work')) {
      progress('work requests: dispatch latency and throughput with conveyor worker processes');
      const tDispatch = performance.now();
      const dispatch = await runDispatch({
        repoRoot: REPO_ROOT,
        server: stack.url,
        userToken: token,
        workspace: WORKSPACE,
        deps: admin,
        actor: ACTOR,
        recorder,
        latencyIterations: n(60, 10),
        warmup: 2,
        burst: n(40, 10),
        workerCounts: [1, 2, 4],
        progress,
        track: (set) => workerSets.push(set),
      });
      const dispatchMs = performance.now() - tDispatch;
      const dispatchSamples = dispatch.latency.samples.map((s) => s.dispatchMs);
      dispatchP50P95 = { p50: percentile(dispatchSamples, 50), p95: percentile(dispatchSamples, 95) };
      progress(`dispatch latency p50 ${fmtMs(dispatchP50P95.p50)}, p95 ${fmtMs(dispatchP50P95.p95)} (${fmtMs(dispatchMs)} for dispatch and throughput)`);
      progress('work requests: DynamoDB and SQS requests of one noop request, in-process');
      const tLifecycle = performance.now();
      const lifecycle = await measureLifecycle(await inProcess(), { userToken: token, workspace: WORKSPACE, repetitions: n(10, 3) });
      const lifecycleMs = performance.now() - tLifecycle;
      progress('work requests: dispatch trace (timestamps of each AWS request of one idle dispatch)');
      const trace = await traceDispatch(await inProcess(), { userToken: token, workspace: WORKSPACE, repetitions: n(20, 5) });
      dispatchTraceSection = renderDispatchTraceSection(trace, settings.quick ? 'npm run bench -- --quick' : 'npm run bench');
      // Section 8 runs before section 6 (below): its backlog of pending noop requests would be assigned before the workflow's children.
      workflowsSection = await runWorkflows();
      progress('work requests: scheduler reads per assignment vs backlog');
      const tReads = performance.now();
      const reads = await measureSchedulerReads(await inProcess(), {
        sizes: settings.quick ? [100, 1000] : [100, 1000, 10000],
        workspace: WORKSPACE,
        createdBy: `user:${USERNAME}`,
        progress,
      });
      const readsMs = performance.now() - tReads;
      const costInput = workRequestCostInput(dispatch, lifecycle);
      const workRequestCost = costPerMillionWorkRequests(costInput);
      progress(`cost per million noop work requests: $${fmt(workRequestCost.totalPerMillion, 2)}`);
      workRequests = renderWorkRequestSections({
        dispatch,
        reads,
        lifecycle,
        costInput,
        cost: workRequestCost,
        timings: { dispatchMs, readsMs, lifecycleMs },
        ...(cost ? { artifactCostPerMillion: cost.totalPerMillion } : {}),
      });
    }
    if (want('workflows') && workflowsSection === undefined) workflowsSection = await runWorkflows();

    // ---------------------------------------------------------------- 9: floor, start-up, bundles
    let speedSection: string | undefined;
    if (want('speed')) {
      progress('the floor, start-up of the compiled CLI and task runner, Lambda bundles');
      const speed = await measureSpeed(stack.env, {
        parts: new Set(['floor', 'startup', 'bundles']),
        floorIterations: n(40, 10),
        startupRuns: n(30, 5),
        bundleRuns: n(5, 2),
        progress,
      });
      speedSection = renderSpeedSection(speed, dispatchP50P95);
    }

    const extraSections: string[] = [];
    if (dispatchTraceSection) extraSections.push(dispatchTraceSection);
    if (want('web-ui')) {
      progress('web UI: bundle size and time to interactive in Chromium');
      const webUi = await measureWebUi(stack.url, n(5, 2));
      for (const line of summariseWebUi(webUi)) progress(line);
      extraSections.push(renderWebUiSection(webUi));
    }
    if (want('accounting')) {
      // Quota accounting (bench/accounting.ts): hot-path and consumer cost, and a full recompute.
      const accounting = await measureAccounting(stack.env, { artifacts: n(10_000, 500), progress });
      extraSections.push(renderAccountingSection(accounting, settings.quick ? 'npm run bench -- --quick' : 'npm run bench'));
    }
    if (want('ids')) {
      // Hi/lo ids (bench/id-blocks.ts): counter writes per created request.
      progress('ids: counter writes per created request');
      const ids = await measureIdBlocks(stack.env, { userToken: token, workspace: WORKSPACE, requests: n(1_000, 200) });
      progress(`ids: ${ids.counterWrites} counter writes for ${ids.requests} created requests`);
      extraSections.push(renderIdBlocksSection(ids, settings.quick ? 'npm run bench -- --quick' : 'npm run bench'));
    }
    if (want('child-steps')) {
      // Workflows (bench/child-steps.ts): orchestrator reads per child-finished step at 10, 100, 1,000 children.
      progress('workflows: reads per child-finished step vs number of children');
      const rows = await measureChildSteps(stack.env, { sizes: [10, 100, 1_000], workspace: WORKSPACE, createdBy: `user:${USERNAME}`, progress });
      extraSections.push(renderChildStepsSection(rows, settings.quick ? 'npm run bench -- --quick' : 'npm run bench'));
    }
    if (want('recurring')) {
      // Recurring jobs (bench/recurring.ts, its own DynamoDB Local): release tick reads with 10 due, latency, cost per run.
      const recurring = await measureRecurring(settings.quick ? [100, 1_000] : [100, 10_000, 100_000], n(20, 3), progress);
      extraSections.push(renderRecurringSection(recurring, settings.quick ? 'npm run bench -- --quick' : 'npm run bench'));
    }
    if (want('expiry')) {
      // Expiry (bench/expiry.ts, its own DynamoDB Local): requests and capacity per pass with 100 expiring.
      const expiry = await measureExpiry(settings.quick ? [100, 1_000] : [100, 10_000, 100_000], progress);
      const command = settings.only ? `npm run bench -- --only ${[...settings.only].join(',')}` : 'npm run bench';
      extraSections.push(renderExpirySection(expiry, settings.quick ? 'npm run bench -- --quick' : command));
    }

    await cleanup();
    const runSeconds = (performance.now() - started) / 1000;
    const cpu = cpus();
    const report = renderReport({
      command: `npm run bench${settings.quick || settings.only ? ' --' : ''}${settings.quick ? ' --quick' : ''}${settings.only ? ` --only ${[...settings.only].join(',')}` : ''}`,
      date,
      runSeconds,
      machine: {
        cpuModel: cpu[0]?.model ?? 'unknown',
        cores: cpu.length,
        memoryGiB: totalmem() / 1024 ** 3,
        node: process.version,
        os: `${osType()} ${release()}`,
        loadAtStart,
        loadAtEnd: loadavg(),
      },
      phases,
      capacity,
      lambda,
      cost,
      capacityFileSize,
      warnings,
      workRequests,
      workflows: workflowsSection,
      speed: speedSection,
      ...(settings.only ? { only: [...settings.only] } : {}),
    });
    writeFileSync(settings.out, [report.trimEnd(), ...extraSections].join('\n\n') + '\n');
    progress(`wrote ${settings.out} (${fmt(runSeconds, 0)} s)`);
  } finally {
    await cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`[bench] failed: ${formatError(err)}\n`);
    process.exit(1);
  },
);

