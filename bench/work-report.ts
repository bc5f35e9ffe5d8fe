/** The work-request sections of BENCHMARKS.md (dispatch, throughput, scheduler reads, cost). */
import { FUNCTIONS } from '../shared/manifest';
import { failedConditionalWrites } from './capacity';
import type { WorkRequestCost, WorkRequestCostInput } from './cost';
import type { TallySnapshot } from './counters';
import type { DispatchResults } from './dispatch';
import { durationsOf, invocationsOf, type FunctionCalls } from './invocations';
import type { LifecycleCost, LifecycleStep } from './lifecycle-cost';
import { renderRequestAccounting } from './request-accounting';
import type { SchedulerReads } from './scheduler-reads';
import { fmt, fmtMs, fmtUsd, mean, percentile } from './stats';

export interface WorkRequestReportInput {
  dispatch: DispatchResults;
  reads: SchedulerReads;
  lifecycle: LifecycleCost;
  costInput: WorkRequestCostInput;
  cost: WorkRequestCost;
  /** Wall time of each part, for the reader's budget. */
  timings: { dispatchMs: number; readsMs: number; lifecycleMs: number };
  /** Section 2's figure, when it ran (`--only` may leave it out). */
  artifactCostPerMillion?: number;
}

const SCHEDULER = FUNCTIONS.find((f) => f.name === 'scheduler');
const HEARTBEATS = FUNCTIONS.find((f) => f.name === 'heartbeat-applier');
const BATCHING_WINDOW_S = SCHEDULER?.queue?.maxBatchingWindowSeconds ?? Number.NaN;
const HEARTBEAT_WINDOW_S = HEARTBEATS?.queue?.maxBatchingWindowSeconds ?? Number.NaN;

/** Which invocations count per request: API calls, and queue-triggered runs (timer ticks are a fixed cost). */
const PER_REQUEST: { fn: string; trigger: (key: string) => boolean; apiGateway: boolean; label: string }[] = [
  { fn: 'work-requests-api', trigger: (k) => k !== 'GET /api/1.0/work-request/{id}/', apiGateway: true, label: 'API routes' },
  { fn: 'workers-api', trigger: () => true, apiGateway: true, label: 'API routes' },
  { fn: 'scheduler', trigger: (k) => k === 'sqs', apiGateway: false, label: 'SQS batches' },
  { fn: 'heartbeat-applier', trigger: (k) => k === 'sqs', apiGateway: false, label: 'SQS batches' },
];

function billed(list: number[]): number {
  return mean(list.map((ms) => Math.ceil(ms)));
}

/** Cost inputs from the measured counts: DynamoDB/SQS from the in-process life, Lambda from the stack run one at a time. */
export function workRequestCostInput(dispatch: DispatchResults, lifecycle: LifecycleCost): WorkRequestCostInput {
  const calls = dispatch.latency.calls;
  const n = dispatch.latency.samples.length + dispatch.latency.tickSamples;
  return {
    dynamo: { rcu: lifecycle.total.dynamo.rcuBilled, reportedRcu: lifecycle.total.dynamo.rcu, wcu: lifecycle.total.dynamo.wcu, failedConditionalWrites: failedConditionalWrites(lifecycle.total.dynamo) },
    sqsRequests: totalOf(lifecycle.total.sqs.requests),
    functions: PER_REQUEST.map(({ fn, trigger, apiGateway }) => ({
      name: fn,
      invocationsPerRequest: invocationsOf(calls, fn, trigger) / n,
      billedMs: billed(durationsOf(calls, fn, trigger)) || 0,
      memoryMb: FUNCTIONS.find((f) => f.name === fn)?.memoryMb ?? 1024,
      apiGateway,
    })),
  };
}

function totalOf(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

function table(header: string[], rows: string[][], align?: ('l' | 'r')[]): string {
  const sep = header.map((_, i) => ((align?.[i] ?? 'l') === 'r' ? '---:' : '---'));
  return [header, sep, ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

function n2(n: number): string {
  return Number.isInteger(n) ? String(n) : fmt(n, 2);
}

function commands(counts: Record<string, number>): string {
  const entries = Object.entries(counts).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return '–';
  return entries.map(([name, v]) => `${name.replace(/Command$/, '')} ×${n2(v)}`).join(', ');
}

function range([min, max]: [number, number], value: number): string {
  return min === max ? n2(value) : `${n2(value)} (${n2(min)}–${n2(max)})`;
}

function statsRow(label: string, samples: number[]): string[] {
  const finite = samples.filter((s) => Number.isFinite(s));
  return [
    label,
    fmtMs(percentile(finite, 50)),
    fmtMs(percentile(finite, 95)),
    fmtMs(percentile(finite, 99)),
    fmtMs(mean(finite)),
    fmtMs(Math.min(...finite)),
    fmtMs(Math.max(...finite)),
  ];
}

function callsTable(calls: Record<string, FunctionCalls>, n: number): string {
  const rows: string[][] = [];
  for (const [fn, entry] of Object.entries(calls).sort(([a], [b]) => a.localeCompare(b))) {
    for (const [trigger, v] of Object.entries(entry.byTrigger).sort(([a], [b]) => a.localeCompare(b))) {
      rows.push([
        `\`${fn}\``,
        trigger === 'sqs' ? 'SQS batch' : trigger === 'schedule' ? 'timer tick' : `\`${trigger}\``,
        String(v.invocations),
        n2(Math.round((v.invocations / n) * 100) / 100),
        trigger === 'sqs' ? n2(Math.round((v.records / v.invocations) * 100) / 100) : '–',
        fmtMs(percentile(v.ms, 50)),
        fmtMs(billed(v.ms)),
      ]);
    }
  }
  return table(['function', 'trigger', 'invocations', 'per request', 'messages per batch', 'p50', 'billed mean'], rows, ['l', 'l', 'r', 'r', 'r', 'r', 'r']);
}

function readsCells(d: TallySnapshot): string[] {
  return [commands(d.requests), n2(totalOf(d.requests)), n2(d.itemsScanned), n2(d.itemsReturned), n2(d.rcu), n2(d.rcuBilled), n2(d.wcu)];
}

export function renderWorkRequestSections(input: WorkRequestReportInput): string {
  const { dispatch, reads, lifecycle, cost } = input;
  const out: string[] = [];
  const lat = dispatch.latency;
  const n = lat.samples.length;
  const taskP50 = percentile(dispatch.taskProcessMs, 50);

  // ------------------------------------------------------------------ 4
  out.push('## 4. Work-request dispatch latency (idle workers, real `conveyor worker` processes)');
  out.push('');
  out.push(
    `${lat.workers} \`conveyor worker\` processes (\`bin/conveyor worker --concurrency 1 --tasks noop\`, registered through the API with ` +
      'activation tokens from `createActivationToken`, so enabled at once) wait on their own SQS queues. The local stack runs with ' +
      '`CONVEYOR_DEV_SCHEDULE_SECONDS` unset: the scheduler\'s timer ticks once a minute, so assignments come from the create path\'s offer ' +
      '(`POST work-request/` assigns it to the idle worker and sends to its queue → `GET get-next-for-worker/` marks it running; ' +
      'the scheduler event and pass only when the offer did not assign it). ' +
      `${n} \`noop\` requests are created one at a time through \`POST work-request/\`; the next one only once the previous completed ` +
      'and the stack is idle again (so each finds an idle system). Latency = `started_at − created_at` ' +
      'as the server stamped them (the same values `GET work-request/<id>/` returns; `assigned_at` is read from the item). ' +
      'The client sees completion by reading the item every 20 ms in-process (no HTTP polling load). ' +
      `Each worker process took ${dispatch.workerStartMs.map((t) => fmtMs(t)).join(', ')} from spawn to "ready" (registered, metadata sent, queue opened).`,
  );
  out.push('');
  out.push(
    table(
      ['', 'p50', 'p95', 'p99', 'mean', 'min', 'max'],
      [
        statsRow('**dispatch: `started_at − created_at`**', lat.samples.map((s) => s.dispatchMs)),
        statsRow('  created → assigned (the create\'s offer; else scheduler event, pass)', lat.samples.map((s) => s.createdToAssignedMs)),
        statsRow('  assigned → started (worker queue, long poll, get-next)', lat.samples.map((s) => s.assignedToStartedMs)),
        statsRow('server end to end: `completed_at − created_at`', lat.samples.map((s) => s.serverEndToEndMs)),
        statsRow('client end to end: POST sent → completion seen', lat.samples.map((s) => s.clientEndToEndMs)),
        statsRow('`POST work-request/` round trip', lat.samples.map((s) => s.createCallMs)),
      ],
      ['l', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
  );
  out.push('');
  out.push(
    [
      `- p99 of ${n} samples is the ${Math.ceil(0.99 * n)}th smallest (nearest rank)${Math.ceil(0.99 * n) === n ? ', i.e. the maximum' : ''}.`,
      `- **The scheduler queue's batching window** is \`maxBatchingWindowSeconds: ${BATCHING_WINDOW_S}\` in \`shared/manifest.ts\`: ` +
        'a pass starts as soon as a creation event arrives. An idle dispatch sends none: `POST work-request/` offers the request to the idle ' +
        'worker (shared/app/create-offer.ts), so it is one queue hop (the worker notification) and the worker\'s get-next; section 9 gives ' +
        'the floor (one hop and one conditional write) from the same run.',
      `- **Reference: one noop task subprocess alone** (the compiled worker's task process, \`node dist/task-runner.js\`, ` +
        `spawn → outcome) took ${dispatch.taskProcessMs.map((t) => fmtMs(t)).join(', ')} in this run (p50 ${fmtMs(taskP50)}): ` +
        `${fmt((100 * taskP50) / percentile(lat.samples.map((s) => s.serverEndToEndMs), 50), 0)} % of the server end-to-end p50.`,
    ].join('\n'),
  );
  out.push('');
  const inWindow = n + lat.tickSamples;
  out.push(
    `Lambda invocations the stack made during these ${inWindow} requests, counted by wrapping the handlers it loads` +
      `${lat.tickSamples > 0 ? ` (${n} above, and ${lat.tickSamples} left out of the latency figures because the 1-minute timer pass ran while they were in flight and may have made the assignment)` : ''}. ` +
      'Timer ticks and the watchdog are fixed costs, not per request:',
  );
  out.push('');
  out.push(callsTable(lat.calls, inWindow));
  out.push('');
  out.push(
    'The worker asks `get-next-for-worker` once on the queue message (200); its completion (`PUT completed/?next=1`) pulls the ' +
      'next pending request it can run in the same round trip, or answers `{"next": null}` when there is none, as here (no second get-next). A worker\'s completion sends no scheduler event, ' +
      `and a noop ends within the heartbeat interval, so it sends no heartbeat (the applier's ${HEARTBEAT_WINDOW_S} s window no longer matters).`,
  );
  out.push('');

  // ------------------------------------------------------------------ 5
  const base = dispatch.throughput.find((t) => t.workers === 1);
  out.push('## 5. Work-request throughput: noop requests completed per second');
  out.push('');
  out.push(
    `A burst of ${dispatch.throughput[0]?.requests ?? 0} \`noop\` requests (created through the API by 4 concurrent clients) is timed from the ` +
      'first `POST` until the last request is completed, with 1, 2 and 4 `conveyor worker` processes of concurrency 1. ' +
      'Everything shares this machine\'s cores: the local stack (API, scheduler, DynamoDB Local\'s JVM, SQS emulator), the worker ' +
      'processes, and one new Node process per task.',
  );
  out.push('');
  out.push(
    table(
      ['workers', 'requests', 'wall time', '**requests/s**', 'speed-up vs 1 worker', 'per worker vs 1 worker', 'dispatch p50 in the burst', 'scheduling passes (SQS) per request', 'submission', 'requests/s after the last create'],
      dispatch.throughput.map((t) => {
        const speedup = base ? t.perSecond / base.perSecond : Number.NaN;
        return [
          String(t.workers),
          String(t.requests),
          fmtMs(t.wallMs),
          `**${fmt(t.perSecond, 2)}**`,
          `${fmt(speedup, 2)}×`,
          `${fmt((100 * speedup) / t.workers, 0)} %`,
          fmtMs(percentile(t.dispatchMs, 50)),
          n2(Math.round((invocationsOf(t.calls, 'scheduler', (k) => k === 'sqs') / t.requests) * 100) / 100),
          fmtMs(t.submitMs),
          fmt(t.afterSubmitPerSecond, 2),
        ];
      }),
      ['r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
  );
  out.push('');
  out.push(
    [
      `- With one slot per worker, a busy worker's cycle is: task process (${fmtMs(taskP50)} here), then one completion round trip that also pulls and starts ` +
        'the next request (no scheduling pass, no queue hop, no get-next in between; the next task process was started ahead, as a spare). Only requests created while a worker is idle go through the worker\'s queue (assigned by the create\'s offer). ' +
        'More workers overlap these cycles; on 2 shared cores the task processes and the stack then compete for CPU, which bounds the gain.',
      '- During a burst the scheduler batches events (several per invocation), so there are fewer passes per request than one at a time.',
      '- **requests/s** counts the submission too (4 clients creating the burst share the cores with the workers); "requests/s after the last create" ' +
        'is the workers\' own rate: the requests completed after the last create\'s answer, over the time from it to the last completion (bench/RESULTS-contention.md).',
    ].join('\n'),
  );
  out.push('');

  // ------------------------------------------------------------------ 6
  const first = reads.rows[0];
  const lastRow = reads.rows[reads.rows.length - 1];
  const partitions = reads.architectures.length + 1;
  const shards = 4;
  out.push('## 6. DynamoDB reads per assignment vs. backlog size');
  out.push('');
  out.push(
    'A backlog of pending `noop` requests is written straight into the table through `deps.workRequests.commit({ create })` ' +
      `(100 per transaction, 8 in flight; ${fmt(reads.writesPerSecond, 0)} requests/s on DynamoDB Local), topped up between rows so that ` +
      'each row is measured with exactly that many pending requests, all in the partition the worker reads (`PENDING#Worker#-#<shard>`). ' +
      `One worker registered in-process (metadata \`AMD64_METADATA\` of test/support/scheduling.ts: architectures ${reads.architectures.map((a) => `\`${a}\``).join(', ')}; ` +
      'enabled, connected, concurrency 1) holds the only free slot. Counted with the DynamoDB middleware: requests, items read ' +
      '(`ScannedCount` of each Query, plus the item of each GetItem/BatchGetItem), items returned, RCU and WCU. ' +
      `**Assignment** = one \`scheduleForWorker(deps, worker)\`; **full pass** = one \`schedule(deps)\` with exactly that one free slot ` +
      `(what one scheduler invocation does; ${lifecycle.workersRegistered} workers are registered, the ${lifecycle.workersRegistered - 1} of sections 4–5 disabled).`,
  );
  out.push('');
  out.push(
    table(
      ['pending backlog', 'assignment: DynamoDB requests by command', 'requests', 'items read', 'items returned', 'RCU reported', 'RRU billed', 'WCU', 'time (local)', 'full pass: requests', 'items read', 'RCU reported', 'RRU billed', 'WCU', 'time (local)'],
      reads.rows.map((r) => {
        const a = readsCells(r.assignment.dynamo);
        const p = readsCells(r.pass.dynamo);
        return [r.backlog.toLocaleString('en-US'), ...a, fmtMs(r.assignment.ms), p[1]!, p[2]!, p[4]!, p[5]!, p[6]!, fmtMs(r.pass.ms)];
      }),
      ['r', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
  );
  out.push('');
  if (first && lastRow) {
    const flat = (f: (d: TallySnapshot) => number): boolean => reads.rows.every((r) => f(r.assignment.dynamo) === f(first.assignment.dynamo));
    const allFlat = flat((d) => totalOf(d.requests)) && flat((d) => d.itemsScanned) && flat((d) => d.rcu) && flat((d) => d.rcuBilled) && flat((d) => d.wcu);
    const passFlat = reads.rows.every(
      (r) => r.pass.dynamo.itemsScanned === first.pass.dynamo.itemsScanned && r.pass.dynamo.rcu === first.pass.dynamo.rcu && r.pass.dynamo.rcuBilled === first.pass.dynamo.rcuBilled,
    );
    out.push(
      [
        `- **${allFlat ? 'Flat' : 'Not flat'}**: from ${first.backlog.toLocaleString('en-US')} to ${lastRow.backlog.toLocaleString('en-US')} pending requests ` +
          `(${fmt(lastRow.backlog / first.backlog, 0)}× the backlog) one assignment reads ${n2(first.assignment.dynamo.itemsScanned)} → ${n2(lastRow.assignment.dynamo.itemsScanned)} items ` +
          `(ratio ${fmt(lastRow.assignment.dynamo.itemsScanned / first.assignment.dynamo.itemsScanned, 2)}) and ${n2(first.assignment.dynamo.rcu)} → ${n2(lastRow.assignment.dynamo.rcu)} RCU ` +
          `(ratio ${fmt(lastRow.assignment.dynamo.rcu / first.assignment.dynamo.rcu, 2)}); the full pass ${passFlat ? 'is flat too' : 'is not flat'} ` +
          `(${n2(first.pass.dynamo.itemsScanned)} → ${n2(lastRow.pass.dynamo.itemsScanned)} items, ${n2(first.pass.dynamo.rcu)} → ${n2(lastRow.pass.dynamo.rcu)} RCU).`,
        `- Why: \`pendingCandidates\` queries the pending index (gsi3) with \`Limit: ${reads.candidatesPerPartition}\` (\`CANDIDATES_PER_PARTITION\`) in each of the ${shards} shards of ` +
          `each of the worker's ${partitions} partitions (${reads.architectures.join(', ')} and "no architecture"): ${partitions * shards} Queries returning at most ` +
          `${partitions * shards * reads.candidatesPerPartition} items, whatever the backlog. Here only the "no architecture" partition holds requests, so ${shards * reads.candidatesPerPartition} items come back.`,
        '- The full pass adds fixed reads: the bounded queries for Workflow, Internal, Wait and Server requests and due waits (4 shards each), and the ' +
          'free-slot index (gsi3 `FREESLOTS#<shard>`, one Query per shard), which holds the workers that may take work: a pass grows with the free ' +
          'workers, not with the registered ones (nor with the backlog), and with no free slot it reads no pending Worker partition.',
        '- **RCU reported** is what DynamoDB Local returns in `ConsumedCapacity`; it reports 0 for a Query that finds nothing. **RRU billed** ' +
          'applies AWS\'s minimum charge of one read per request (0.5 unit eventually consistent, 1 strongly consistent), so every empty ' +
          'shard and partition queried still costs half a unit: that is the figure the cost in section 7 uses.',
        `- Wall times are DynamoDB Local's and only show the trend. ${reads.retries > 0 ? `${reads.retries} measurement(s) were repeated because the stack's 1-minute tick assigned first.` : ''}`,
      ].join('\n'),
    );
  }
  out.push('');

  // ------------------------------------------------------------------ 7
  out.push('## 7. Cost per million noop work requests');
  out.push('');
  out.push(
    `DynamoDB and SQS counts of one noop request's whole life, measured step by step (${lifecycle.repetitions} repetitions, averaged` +
      `${lifecycle.discarded > 0 ? `; ${lifecycle.discarded} thrown away because the stack's own tick interfered` : ''}): the use cases the Lambda functions run, ` +
      'called in-process against the local stack with the counting clients; the scheduler and heartbeat queues point at two sink queues that ' +
      'the benchmark receives from and deletes from itself, once per message, as the Lambda event source would. API requests are ' +
      'authenticated with the user\'s or the worker\'s token, as the API does.',
  );
  out.push('');
  const stepRows = lifecycle.steps.map((s) => [
    s.label,
    s.runsIn,
    commands(s.dynamo.requests),
    range(s.spread.requests, totalOf(s.dynamo.requests)),
    n2(s.dynamo.itemsScanned),
    n2(s.dynamo.rcu),
    n2(s.dynamo.rcuBilled),
    range(s.spread.wcu, s.dynamo.wcu),
    n2(failedConditionalWrites(s.dynamo)),
    commands(s.sqs.requests),
  ]);
  stepRows.push([
    '**one noop request, total**',
    '',
    commands(lifecycle.total.dynamo.requests),
    `**${n2(totalOf(lifecycle.total.dynamo.requests))}**`,
    n2(lifecycle.total.dynamo.itemsScanned),
    n2(lifecycle.total.dynamo.rcu),
    `**${n2(lifecycle.total.dynamo.rcuBilled)}**`,
    `**${n2(lifecycle.total.dynamo.wcu)}**`,
    n2(failedConditionalWrites(lifecycle.total.dynamo)),
    `${commands(lifecycle.total.sqs.requests)} (**${n2(totalOf(lifecycle.total.sqs.requests))}**)`,
  ]);
  out.push(
    table(
      ['step', 'runs in', 'DynamoDB requests by command', 'requests', 'items read', 'RCU reported', 'RRU billed', 'WCU', 'failed conditional writes', 'SQS requests'],
      stepRows,
      ['l', 'l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
    ),
  );
  out.push('');
  out.push(
    'WCU of multi-item transactions are recomputed from the items as in section 2 (DynamoDB Local under-reports them); RRU billed ' +
      'adds the minimum charge of the reads that found nothing (section 6). ' +
      'The create\'s offer reads the free-slot index (the workers that may take work) and the candidate markers, as an event pass does (section 6).',
  );
  out.push('');
  out.push(
    table(
      ['item', 'per request', 'unit price', '$ per million noop requests'],
      [...cost.lines.map((l) => [l.item, l.perArtifact, l.unitPrice, fmtUsd(l.perMillion)]), ['**total**', '', '', `**${fmtUsd(cost.totalPerMillion)}**`]],
      ['l', 'r', 'l', 'r'],
    ),
  );
  out.push('');
  const shares = [...cost.lines]
    .filter((l) => l.perMillion > 0)
    .sort((a, b) => b.perMillion - a.perMillion)
    .slice(0, 3)
    .map((l) => `${l.item.replace(/ \(.*\)$/, '')} ${fmt((100 * l.perMillion) / cost.totalPerMillion, 0)} %`);
  const artifact = input.artifactCostPerMillion;
  out.push(
    `Largest shares: ${shares.join(', ')}.` +
      (artifact === undefined
        ? ''
        : ` For comparison, one artifact create (section 2) costs ${fmtUsd(artifact)} per million: a noop request costs ${fmt(cost.totalPerMillion / artifact, 2)}× that.`),
  );
  out.push('');
  out.push(renderRequestAccounting(lifecycle.accounting, cost.totalPerMillion));
  out.push('');
  out.push(
    [
      'Assumptions:',
      '',
      `- **Lambda invocations and duration are measured on the stack** in section 4 (requests one at a time, the worst case for batching): ` +
        `${input.costInput.functions.map((f) => `\`${f.name}\` ${n2(Math.round(f.invocationsPerRequest * 100) / 100)} per request`).join(', ')}. ` +
        'API Gateway requests are the API invocations (create, get-next, completed with the pull). Billed duration = the measured handler ' +
        'time rounded up to the ms, on this shared machine against local emulators: an estimate of AWS durations. arm64 prices, memory from `shared/manifest.ts`.',
      '- **No scheduling pass for an idle dispatch**: the create\'s offer assigns the request (counted in the create step), so no scheduler event ' +
        'is sent; a worker\'s completion sends none either. A request that finds no idle worker sends the event and costs one pass (section 6), ' +
        'batched up to 10 events per pass under load (section 5).',
      '- **SQS: the worker message is received once and deleted once** (counted above: 1 ReceiveMessage + 1 DeleteMessage), besides its ' +
        'SendMessage. Empty long polls are a fixed cost per poller, not ' +
        'per request: each idle worker makes one 20 s `ReceiveMessage` at a time (≈ 130,000 a month, $0.05), and Lambda\'s event source ' +
        'polls each queue likewise.',
      '- Not included: the 1-minute scheduler and watchdog ticks (≈ 43,800 invocations a month each, with their bounded reads), the ' +
        'worker\'s keep-alive every 5 minutes, a client polling `GET work-request/<id>/` for the result, CloudWatch Logs, data transfer, ' +
        'and storage of the completed request items.',
    ].join('\n'),
  );
  out.push('');
  const stepOf = (key: LifecycleStep['key']) => lifecycle.steps.find((s) => s.key === key);
  const stepWcu = (key: LifecycleStep['key']): number => stepOf(key)?.dynamo.wcu ?? Number.NaN;
  const createQueries = stepOf('create')?.dynamo.requests['QueryCommand'] ?? Number.NaN;
  const pullQueries = stepOf('complete')?.dynamo.requests['QueryCommand'] ?? Number.NaN;
  out.push(
    [
      'Observations from these counts:',
      '',
      `- Writes are ${fmt((100 * (cost.lines[3]?.perMillion ?? 0)) / cost.totalPerMillion, 0)} % of the cost. A one-item change is a conditional ` +
        '`PutItem` that rewrites the whole item and its index entries; the assignment and the completion are two plain conditional writes with the ' +
        `worker's slot. Creation, already assigned by the offer, ${n2(stepWcu('create'))} WCU (with the id counter), start ${n2(stepWcu('start'))}, completion ${n2(stepWcu('complete'))}.`,
      `- The creation with its offer sends ${n2(createQueries)} Queries (the candidate markers, the free-slot index, the Worker partitions the ` +
        `markers say may hold work, the worker's WebSocket connections); the completion with its pull sends ${n2(pullQueries)} (its own partitions among them). ` +
        'On AWS each empty Query is still billed half a read unit.',
    ].join('\n'),
  );
  out.push('');
  out.push(
    `Wall time of these parts: dispatch and throughput ${fmtMs(input.timings.dispatchMs)}, ` +
      `in-process request life ${fmtMs(input.timings.lifecycleMs)}, backlog fill and reads ${fmtMs(input.timings.readsMs)}.`,
  );
  out.push('');
  return out.join('\n');
}
