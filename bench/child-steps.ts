/**
 * The orchestrator's child-finished step vs the number of children (10, 100, 1,000): DynamoDB
 * requests, items read and read units of one step, counted by the middleware of section 2, beside
 * the full recount of every child (what every step did before the child progress counts, and what
 * the reconcile sweep and the last step still do).
 *
 * Each size gets a running root workflow with that many running `Internal` children, written
 * through the repository (one transaction per 49 children: request, link and the progress count);
 * running Internal requests are in no scheduling index, so nothing else picks them up. Three
 * children are finished (`finish`, uncounted), each followed by its counted step
 * (`orchestrate(child-finished)`); the recount is `maybeFinishWorkflow(…, { recount: true })`.
 */
import { createAwsDeps } from '../shared/adapters/aws';
import { finish } from '../shared/app/lifecycle';
import { maybeFinishWorkflow, orchestrate } from '../shared/app/workflow-orchestration';
import { DEFAULT_SCOPE } from '../shared/domain/tenancy';
import { newWorkRequest, type WorkRequest } from '../shared/domain/work-requests';
import { createCountingDeps } from './capacity';
import { diff, sum, emptySnapshot, totalRequests, type TallySnapshot } from './counters';
import { fmt } from './stats';

export interface ChildStepRow {
  children: number;
  steps: number;
  /** Average of one child-finished step. */
  step: TallySnapshot;
  /** One full recount of the children. */
  recount: TallySnapshot;
}

const CHILDREN_PER_COMMIT = 49; // 2 items each (request, link) + the progress count: at most 100 per transaction

export async function measureChildSteps(env: Record<string, string>, options: { sizes: number[]; workspace: string; createdBy: string; progress: (m: string) => void }): Promise<ChildStepRow[]> {
  const plain = createAwsDeps({ ...env });
  const counting = createCountingDeps(env);
  const rows: ChildStepRow[] = [];
  for (const size of options.sizes) {
    const now = new Date().toISOString();
    const fields = { scope: DEFAULT_SCOPE, workspace: options.workspace, createdBy: options.createdBy, createdAt: now, taskData: {} };
    const root = newWorkRequest({ ...fields, id: await plain.sequences.next('work-request'), taskType: 'Workflow', taskName: 'bench-child-steps', status: 'running', startedAt: now });
    await plain.workRequests.commit({ create: [root] });
    const children: WorkRequest[] = [];
    for (let i = 0; i < size; i++) {
      children.push(
        newWorkRequest({ ...fields, id: await plain.sequences.next('work-request'), taskType: 'Internal', taskName: 'noop', parent: root.id, status: 'running', startedAt: now }),
      );
    }
    for (let i = 0; i < children.length; i += CHILDREN_PER_COMMIT) await plain.workRequests.commit({ create: children.slice(i, i + CHILDREN_PER_COMMIT) });
    const steps = Math.min(3, size - 1);
    let step = emptySnapshot();
    for (const child of children.slice(0, steps)) {
      await finish(plain, child, { status: 'completed', result: 'success' });
      const before = counting.dynamo.snapshot();
      await orchestrate(counting.deps, { rootId: root.id, kind: 'child-finished', workRequestId: child.id });
      step = sum(step, diff(counting.dynamo.snapshot(), before));
    }
    const before = counting.dynamo.snapshot();
    await maybeFinishWorkflow(counting.deps, root.id, { recount: true });
    const recount = diff(counting.dynamo.snapshot(), before);
    const row = { children: size, steps, step: scale(step, 1 / steps), recount };
    options.progress(
      `child-finished step with ${size} children: ${fmt(totalRequests(row.step), 2)} requests, ${fmt(row.step.itemsScanned, 2)} items read, ${fmt(row.step.rcuBilled, 2)} RRU; full recount ${totalRequests(recount)} requests, ${recount.itemsScanned} items`,
    );
    rows.push(row);
  }
  return rows;
}

function scale(s: TallySnapshot, k: number): TallySnapshot {
  const each = (r: Record<string, number>) => Object.fromEntries(Object.entries(r).map(([key, v]) => [key, v * k]));
  return { ...s, requests: each(s.requests), failures: each(s.failures), rcu: s.rcu * k, wcu: s.wcu * k, reportedWcu: s.reportedWcu * k, itemsReturned: s.itemsReturned * k, itemsScanned: s.itemsScanned * k, rcuBilled: s.rcuBilled * k };
}

export function renderChildStepsSection(rows: ChildStepRow[], command: string): string {
  const commands = (s: TallySnapshot) =>
    Object.entries(s.requests)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([c, n]) => `${c.replace(/Command$/, '')} ×${fmt(n, 2)}`)
      .join(', ') || '–';
  const first = rows[0];
  const last = rows[rows.length - 1];
  return [
    '## Workflows: orchestrator reads per child-finished step vs number of children',
    '',
    `\`${command}\`. A running root workflow with N running \`Internal\` children on the local stack's DynamoDB Local; a child is finished (uncounted), then its \`child-finished\` step is run in-process (\`orchestrate\`), counted by the middleware of section 2 (average of ${first?.steps ?? 0} steps). **Recount** = reading every child to judge the workflow (\`maybeFinishWorkflow(…, { recount: true })\`): what every step did before the child progress counts, and what the last step and the reconcile sweep still do.`,
    '',
    '| children | step: DynamoDB requests by command | requests | items read | RRU billed | recount: requests | items read | RRU billed |',
    '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.children.toLocaleString('en-US')} | ${commands(r.step)} | ${fmt(totalRequests(r.step), 2)} | ${fmt(r.step.itemsScanned, 2)} | **${fmt(r.step.rcuBilled, 2)}** | ${totalRequests(r.recount)} | ${r.recount.itemsScanned.toLocaleString('en-US')} | ${fmt(r.recount.rcuBilled, 2)} |`,
    ),
    '',
    first && last
      ? `- **Flat**: from ${first.children} to ${last.children.toLocaleString('en-US')} children a step reads ${fmt(first.step.itemsScanned, 2)} → ${fmt(last.step.itemsScanned, 2)} items (the finished child, and the workflow's progress item \`WR#<workflow>\` / \`PROGRESS\`); the recount grows with the children (${first.recount.itemsScanned} → ${last.recount.itemsScanned.toLocaleString('en-US')} items).`
      : '',
    '- The counts (`created`, `finished`, `unsuccessful`) move in the transactions that create and finish the children; a step reads every child only when none is in progress (to judge the outcome) or after a child failed (a sibling may be stranded, a delayed retry due).',
  ].join('\n');
}
