/** Section 8 of BENCHMARKS.md: workflows (populate cost, orchestration latency, redelivery). */
import { commonSequence, renderSteps } from './completion-trace';
import { FUNCTIONS } from '../shared/manifest';
import { failedConditionalWrites } from './capacity';
import { emptySnapshot, sum, type TallySnapshot } from './counters';
import { fmt, fmtMs, mean, percentile } from './stats';
import type { WorkflowResults } from './workflows';

const ORCHESTRATOR = FUNCTIONS.find((f) => f.name === 'orchestrator');

function table(header: string[], rows: string[][], align?: ('l' | 'r')[]): string {
  const sep = header.map((_, i) => ((align?.[i] ?? 'l') === 'r' ? '---:' : '---'));
  return [header, sep, ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

function n2(n: number): string {
  if (!Number.isFinite(n)) return 'n/a';
  return Number.isInteger(n) ? n.toLocaleString('en-US') : fmt(n, 2);
}

function totalOf(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

function commands(counts: Record<string, number>, divisor = 1): string {
  const entries = Object.entries(counts).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return '–';
  return entries.map(([name, v]) => `${name.replace(/Command$/, '')} ×${n2(Math.round((v / divisor) * 100) / 100)}`).join(', ');
}

function statsRow(label: string, samples: number[]): string[] {
  const finite = samples.filter((s) => Number.isFinite(s));
  return [label, fmtMs(percentile(finite, 50)), fmtMs(percentile(finite, 95)), fmtMs(mean(finite)), fmtMs(Math.min(...finite)), fmtMs(Math.max(...finite))];
}

function costCells(d: TallySnapshot, calls: number): string[] {
  const requests = totalOf(d.requests);
  return [
    commands(d.requests),
    n2(requests),
    n2(Math.round((requests / calls) * 100) / 100),
    n2(d.itemsScanned),
    n2(d.rcu),
    n2(d.rcuBilled),
    n2(d.wcu),
    n2(failedConditionalWrites(d)),
  ];
}

export function renderWorkflowSection(r: WorkflowResults): string {
  const out: string[] = [];
  const n = r.children;
  const chain = r.populate.find((p) => p.shape === 'chain');
  const flat = r.populate.find((p) => p.shape === 'flat');
  const rd = r.redelivery;
  const lat = r.latency;

  out.push('## 8. Workflows: populate cost, orchestration latency, redelivery');
  out.push('');
  out.push(
    `A bench workflow, \`bench-fanout\` (bench/workflows.ts, added with \`registerWorkflow\`), makes ${n} \`noop\` children: a **chain** ` +
      '(child i depends on child i−1, `ctx.addDependency`) or **flat** (no dependencies). Templates are created by a workspace owner ' +
      '(`createTemplate`), runs started by the contributor of sections 4–7 (`startWorkflow`), and the scheduling pass that starts the root ' +
      '(`schedule`) runs in-process. The orchestrator is driven directly: the deps\' `queues` are wrapped so that `enqueueOrchestration` and ' +
      '`enqueueSchedulerEvent` are captured in memory instead of sent, and the benchmark calls `orchestrate(deps, message)` on the captured ' +
      'messages itself, in FIFO order (the root is the message group). Children run on the in-process worker of sections 6–7 (concurrency 1): ' +
      'scheduling pass → `getNextForWorker` → `completeWorkRequest` with its worker caller. DynamoDB is the local stack\'s DynamoDB Local; ' +
      'requests and units are counted by the middleware of section 2 (exact, and the same on AWS), times are local.' +
      (r.restarts > 0 ? ` ${r.restarts} run(s) were started again because the stack's own 1-minute scheduler tick started the root first.` : ''),
  );
  out.push('');

  // ------------------------------------------------------------------ 8.1
  out.push(`### 8.1 DynamoDB cost of populating a ${n}-child workflow`);
  out.push('');
  out.push(
    'Only the one `orchestrate(deps, { kind: "populate" })` call is counted: `populate()` of the definition (children created with ' +
      '`ensureChild`, dependencies with `addDependency`), then `populateWorkflow` letting the children whose dependencies are met go ' +
      '(`settleDependent`). Starting the run and the pass that starts the root are not included. The time column is the same populate ' +
      'with the uncounted client (the counting client reads every written item back), on DynamoDB Local.',
  );
  out.push('');
  const popRows = r.populate.map((p) => {
    const requests = totalOf(p.dynamo.requests);
    return [
      `${p.shape} (${p.shape === 'chain' ? `${p.pending} pending, ${p.blocked} blocked` : `${p.pending} pending`} after populate)`,
      n2(p.children),
      commands(p.dynamo.requests),
      n2(requests),
      n2(Math.round((requests / p.children) * 100) / 100),
      n2(p.dynamo.itemsScanned),
      n2(p.dynamo.rcu),
      n2(p.dynamo.rcuBilled),
      n2(Math.round((p.dynamo.rcuBilled / p.children) * 100) / 100),
      n2(p.dynamo.wcu),
      n2(Math.round((p.dynamo.wcu / p.children) * 100) / 100),
      n2(failedConditionalWrites(p.dynamo)),
      `${p.sent.scheduler} / ${p.sent.orchestration}`,
      fmtMs(p.plainMs),
    ];
  });
  out.push(
    table(
      ['workflow', 'children', 'DynamoDB requests by command', 'requests', 'per child', 'items read', 'RCU reported', 'RRU billed', 'RRU per child', 'WCU', 'WCU per child', 'failed conditional writes', 'scheduler events / orchestration messages sent', 'time (local, uncounted)'],
      popRows,
      ['l', 'r', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
  );
  out.push('');
  const perChild = (p: typeof chain) => (p ? commands(p.dynamo.requests, p.children) : '–');
  const bullets: string[] = [];
  if (chain && flat) {
    bullets.push(
      `- Per child: flat ${perChild(flat)}; chain ${perChild(chain)}. Each child costs an \`UpdateItem\` of the id sequence and one ` +
        '`TransactWriteItems` (the request and its `CHILD#` link, `ensureChild`). A chained child adds `addDependency`: `GetItem`s (the child ' +
        'again, the dependency\'s parent for `rootWorkflowOf`, the dependency) and a second `TransactWriteItems` (the whole child item rewritten ' +
        'with the dependency, plus the `RDEP#` link). The children are created uncounted: after `populate()`, `populateWorkflow` reads every child ' +
        '(`Query` + `BatchGetItem`), raises the workflow\'s child count once (`GetItem` of the count, one `UpdateItem`: `raiseChildrenCreated`), and ' +
        're-evaluates each blocked one (`settleDependent`: `GetItem` of the child, `BatchGetItem` of its dependencies); each child it unblocks is ' +
        'one more `PutItem`. `maybeFinishWorkflow` then reads every child once more.',
    );
    bullets.push(
      `- The chain costs ${fmt(chain.dynamo.wcu / flat.dynamo.wcu, 2)}× the WCU and ${fmt(totalOf(chain.dynamo.requests) / totalOf(flat.dynamo.requests), 2)}× ` +
        'the requests of the flat workflow: every dependency rewrites the whole child item inside a transaction (2 units per KB, plus its index entries).',
    );
    bullets.push(
      `- The flat populate sends ${flat.sent.scheduler} scheduler events (the chain sends ${chain.sent.scheduler}): the children let go share one ` +
        'batch (`startUnblockBatch`, `shared/app/lifecycle.ts`): one event at the first unblock, so the first child goes at once, and one after ' +
        'the batch closes (its candidate markers set once more, after every commit), so a pass then sees them all; not one per child. ' +
        'Each pass can assign only as many children as there are free slots; busy workers take the next one at their completion.',
    );
    const requests = totalOf(chain.dynamo.requests);
    bullets.push(
      `- One populate is one orchestrator invocation sending its ${n2(requests)} requests (chain) one after another: ${fmtMs(chain.plainMs)} here ` +
        `(${fmtMs(chain.plainMs / requests)} per request on DynamoDB Local). On AWS, at a few ms per request, it stays linear in the number of children ` +
        `and has to fit in the orchestrator's ${ORCHESTRATOR?.timeoutSeconds ?? 120} s timeout (\`shared/manifest.ts\`); a failed or timed-out populate ` +
        'holds back the root\'s message group until it is redelivered (it is idempotent: see 8.3).',
    );
  }
  out.push(bullets.join('\n'));
  out.push('');

  // ------------------------------------------------------------------ 8.2
  const samples = lat.samples;
  const beforeReturn = samples.filter((s) => s.pendingBeforeReturn).length;
  out.push('### 8.2 Orchestration latency: a child completes → its dependent is pending');
  out.push('');
  out.push(
    `A chain run of ${lat.children} children with the **uncounted** client; the first ${samples.length} completions that have a dependent are timed. ` +
      'Each: the in-process worker gets the child (`getNextForWorker`), then `completeWorkRequest` (what `PUT completed/` runs) is timed; the ' +
      'repository\'s `commit` is wrapped to record when the dependent\'s blocked → pending write is acknowledged; the captured `child-finished` ' +
      'message is then processed (`orchestrate`, timed). The run is aborted after the last timed completion.',
  );
  out.push('');
  out.push(
    table(
      ['', 'p50', 'p95', 'mean', 'min', 'max'],
      [
        statsRow('**completion start → dependent pending** (commit acknowledged)', samples.map((s) => s.toPendingMs)),
        statsRow('`completeWorkRequest` (finish + release slot, unblock dependents, enqueue events)', samples.map((s) => s.completionMs)),
        statsRow('`orchestrate(child-finished)`, first delivery', samples.map((s) => s.childFinishedMs)),
        statsRow('**sum of the in-process steps**: completion + child-finished orchestration', samples.map((s) => s.completionMs + s.childFinishedMs)),
        statsRow('for reference, the next hop: the scheduling pass that assigns the dependent', samples.map((s) => s.nextPassMs)),
      ],
      ['l', 'r', 'r', 'r', 'r', 'r'],
    ),
  );
  out.push('');
  out.push(
    [
      `- **These times exclude SQS queueing delay.** They are the in-process steps only, on DynamoDB Local on this shared machine. On AWS each queue hop adds`,
      `  its own delay: a FIFO hop (the orchestrator queue: batch ${ORCHESTRATOR?.queue?.batchSize ?? 1}, batching window ${ORCHESTRATOR?.queue?.maxBatchingWindowSeconds ?? 0} s) typically tens of ms; on the local stack see`,
      '  section 4 (the scheduler queue\'s 1 s batching window dominates dispatch).',
      `- **The dependent is unblocked by the completion itself**, not by the orchestrator: in ${beforeReturn} of ${samples.length} samples it was already pending when`,
      '  `completeWorkRequest` returned (`followUpFinish` → `afterFinish` → `settleDependentsOf` in `shared/app/lifecycle.ts`, alongside the',
      '  `child-finished` message, not after it). The `child-finished` step only decides whether the workflow is complete (`maybeFinishWorkflow`). So the',
      '  orchestrator queue is not on the path from a completion to the next child: the scheduler event (batching window) → scheduling pass',
      '  → worker queue → get-next is (section 4).',
      ...completionSequenceBullet(samples.map((s) => s.stepsToPending)),
      ...dynamoSpeedBullet(chain, percentile(samples.map((s) => s.toPendingMs).filter((v) => Number.isFinite(v)), 50)),
    ].join('\n'),
  );
  out.push('');

  // ------------------------------------------------------------------ 8.3
  const replayCount = rd.replays.immediate + rd.replays.late;
  const wholeRun = rd.steps.filter((s) => s.label !== 'replays').reduce((acc, s) => acc + totalOf(s.dynamo.requests), 0);
  const replayRequests = totalOf(rd.replayTotal.requests);
  out.push('### 8.3 Message redelivery: duplicate children');
  out.push('');
  out.push(
    `A whole chain run of ${rd.children} children, every child started and completed by the worker loop, with the counting client. Every ` +
      'orchestration message (the populate and each `child-finished`) is processed **twice** in a row (a message processed but not deleted ' +
      `before its visibility timeout comes back), and after every ${r.replayEvery}th message the (up to) ${r.replayWindow} messages before it are processed ` +
      'once more in shuffled order (seeded): earlier messages of the group arriving again after later ones, as producer-side re-sends do (every ' +
      'orchestration enqueue has its own deduplication id, so FIFO deduplication does not drop them). Messages the replays send are queued ' +
      'like any other.',
  );
  out.push('');
  out.push(
    table(
      ['', ''],
      [
        ['children the workflow defines', n2(rd.children)],
        ['**children at the end** (every one, superseded included)', `**${n2(rd.childrenAtEnd)}**`],
        ['**duplicate children**', `**${n2(rd.duplicates)}**`],
        ['children not completed with success, or superseded', n2(rd.notSucceeded)],
        ['root workflow at the end', rd.rootStatus],
        ['orchestration messages (first deliveries)', n2(rd.firstDeliveries)],
        ['deliveries beyond the first', `${n2(replayCount)} (${n2(rd.replays.immediate)} immediate duplicates, ${n2(rd.replays.late)} late and shuffled)`],
        ['messages sent by the replays (orchestration / scheduler events)', `${rd.sentByReplays.orchestration} / ${rd.sentByReplays.scheduler}`],
      ],
      ['l', 'r'],
    ),
  );
  out.push('');
  out.push('DynamoDB of the whole run, by step (a call = one use case or one message delivery):');
  out.push('');
  const stepRows = rd.steps.filter((s) => s.label !== 'replays').map((s) => [s.label, n2(s.calls), ...costCells(s.dynamo, s.calls)]);
  const runTotal = rd.steps
    .filter((s) => s.label !== 'replays')
    .reduce((acc, s) => ({ calls: acc.calls + s.calls, dynamo: sum(acc.dynamo, s.dynamo) }), { calls: 0, dynamo: emptySnapshot() });
  stepRows.push([`**whole run without replays** (per child: ${n2(Math.round((wholeRun / rd.children) * 10) / 10)} requests)`, n2(runTotal.calls), ...costCells(runTotal.dynamo, runTotal.calls)]);
  stepRows.push(['**replays (the extra)**', n2(replayCount), ...costCells(rd.replayTotal, Math.max(1, replayCount))]);
  for (const [kind, v] of Object.entries(rd.replayByKind).sort(([a], [b]) => a.localeCompare(b))) {
    stepRows.push([`  of which \`${kind}\` replays`, n2(v.calls), ...costCells(v.dynamo, v.calls)]);
  }
  out.push(
    table(
      ['step', 'calls', 'DynamoDB requests by command', 'requests', 'per call', 'items read', 'RCU reported', 'RRU billed', 'WCU', 'failed conditional writes'],
      stepRows,
      ['l', 'r', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
  );
  out.push('');
  const cf = rd.steps.find((s) => s.label === 'orchestrate(child-finished), first delivery');
  const notes: string[] = [
    `- **${rd.duplicates === 0 ? 'No duplicates' : `${rd.duplicates} duplicates`}**: ${n2(rd.childrenAtEnd)} children for ${n2(rd.children)} steps after ${n2(replayCount)} redeliveries. ` +
      '`ensureChild` finds the existing child (same type, name, task data and workflow data), `addDependency` skips a dependency already there, and ' +
      '`orchestrate` ignores a populate or child-finished whose workflow is no longer running.',
    `- The replays cost ${n2(replayRequests)} extra DynamoDB requests (${fmt((100 * replayRequests) / Math.max(1, wholeRun), 1)} % on top of the run's ${n2(wholeRun)}; ` +
      `${n2(Math.round((replayRequests / Math.max(1, replayCount)) * 10) / 10)} per redelivery), ${n2(rd.replayTotal.rcuBilled)} RRU and ${n2(rd.replayTotal.wcu)} WCU: ` +
      'a replay reads and finds nothing to write.',
  ];
  if (cf) {
    notes.push(
      `- \`child-finished\` reads every child of the workflow (\`maybeFinishWorkflow\` → \`children()\`: a \`Query\` of the \`CHILD#\` links and a strongly ` +
        `consistent \`BatchGetItem\` of all ${n2(rd.children)} items): ${n2(Math.round((cf.dynamo.rcuBilled / cf.calls) * 10) / 10)} RRU per message here, ` +
        `${n2(cf.dynamo.rcuBilled)} RRU for the run (${fmt((100 * cf.dynamo.rcuBilled) / Math.max(1, runTotal.dynamo.rcuBilled), 0)} % of its reads). ` +
        'The reads of a whole run therefore grow with the square of the number of children; a count of unfinished children kept on the ' +
        'workflow item would make the check one `GetItem`.',
    );
  }
  out.push(notes.join('\n'));
  out.push('');
  out.push(`Wall time of this section: ${fmt(r.ms / 1000, 1)} s.`);
  return out.join('\n');
}

/**
 * DynamoDB Local's speed just before the samples (the latency run's own populate, its requests sent one
 * after another), and the p50 in that unit: a hint when two runs of one code differ, not a fixed unit
 * (it moved from 6.9 to 9.2 between two runs of nearly the same code; docs/decisions.md).
 */
function dynamoSpeedBullet(chain: WorkflowResults['populate'][number] | undefined, toPendingP50: number): string[] {
  const requests = chain ? totalOf(chain.dynamo.requests) : 0;
  if (!chain || requests === 0 || !(chain.plainMs > 0) || !Number.isFinite(toPendingP50)) return [];
  const perRequest = chain.plainMs / requests;
  return [
    `- **DynamoDB Local's speed in this run**: the latency run's own chain populate, just before these samples, took ${fmtMs(perRequest)} per request`,
    `  (${n2(requests)} requests one after another in ${fmtMs(chain.plainMs)}); the completion → dependent pending p50 is ${fmt(toPendingP50 / perRequest, 1)} of those.`,
    '  This machine\'s speed moves every time of this section by 20 to 30 % between runs, not all by the same factor, so this ratio moves too; only runs',
    '  of two codes alternated on the machine compare them (docs/decisions.md, "Section 8.2 against the 22 Nov code again").',
  ];
}

/** The round trips from completion start to the dependent's pending write (exact, unlike the times). */
function completionSequenceBullet(sequences: string[][][]): string[] {
  const traced = sequences.filter((s) => s.length > 0);
  const common = commonSequence(traced);
  if (!common) return [];
  const byCount = new Map<number, number>();
  for (const s of traced) byCount.set(s.length, (byCount.get(s.length) ?? 0) + 1);
  const counts = [...byCount].sort((a, b) => a[0] - b[0]).map(([steps, n]) => `${steps} in ${n}`).join(', ');
  return [
    `- **Sequential round trips from completion start to the dependent's pending write** (the longest chain of requests each sent after the`,
    `  previous one's answer, bench/completion-trace.ts; a request's own timing decides which of two parallel ones the chain goes through):`,
    `  ${counts} of ${traced.length} samples. Most common (${common.samples} samples; ‖ = under way at the same time): ${renderSteps(common.steps)}.`,
  ];
}
