/**
 * `conveyor work-request ...`: create, list, show (and follow), retry, abort, unblock and
 * re-prioritise work requests through the REST API (docs/api.md "Work requests").
 */
import { Command, Option } from 'commander';
import type { ClientContext } from './context';
import { formatJson, formatTable } from './format';
import { addConnectionOptions, addLimitOptions, collectPages, commandHelpers, listLimit, listText, parseId, readJsonDataOption, addDataOptions } from './options';
import type { WireWorkRequest } from './wire';

export interface WorkRequestCommandContext extends ClientContext {
  /** Pause between polls of `show --follow` (tests pass a fake). */
  sleep?: (ms: number) => Promise<void>;
}

export const FOLLOW_INTERVAL_MS = 2000;

const STATUSES = ['blocked', 'pending', 'running', 'completed', 'aborted'];

function statusText(wr: Pick<WireWorkRequest, 'status' | 'result'>): string {
  return wr.result ? `${wr.status} (${wr.result})` : wr.status;
}

function isFinished(wr: Pick<WireWorkRequest, 'status'>): boolean {
  return wr.status === 'completed' || wr.status === 'aborted';
}

function indentBlock(value: string, width: number): string {
  return value.split('\n').join(`\n  ${' '.repeat(width)}`);
}

export function describeWorkRequest(wr: WireWorkRequest): string {
  const fields: [string, string][] = [
    ['workspace', `${wr.scope}/${wr.workspace}`],
    ['status', statusText(wr)],
    ['worker', wr.worker_name ?? '-'],
    ['created', `${wr.created_at} by ${wr.created_by}`],
    ['started', wr.started_at ?? '-'],
    ['completed', wr.completed_at ?? '-'],
    ['duration', wr.duration === null ? '-' : `${wr.duration}s`],
    ['priority', `${wr.effective_priority} (base ${wr.priority_base}, adjustment ${wr.priority_adjustment})`],
  ];
  if (wr.aborted_by) fields.push(['aborted by', wr.aborted_by]);
  if (wr.dependencies.length) fields.push(['depends on', wr.dependencies.join(', ')]);
  if (wr.parent !== null) fields.push(['parent', String(wr.parent)]);
  if (wr.supersedes !== null || wr.superseded_by !== null || wr.retry_count) {
    fields.push(['retries', `${wr.retry_count}; supersedes ${wr.supersedes ?? '-'}, superseded by ${wr.superseded_by ?? '-'}`]);
  }
  fields.push(['artifacts', wr.artifacts.length ? wr.artifacts.join(', ') : '-']);
  fields.push(['task data', JSON.stringify(wr.task_data, null, 2)]);
  if (wr.output_data) fields.push(['output data', JSON.stringify(wr.output_data, null, 2)]);
  const width = Math.max(...fields.map(([label]) => label.length)) + 2;
  const lines = [`Work request ${wr.id}  ${wr.task_name} (${wr.task_type})`];
  for (const [label, value] of fields) lines.push(`  ${label.padEnd(width)}${indentBlock(value, width)}`);
  if (wr.logtail.length) {
    lines.push(`Log tail${wr.heartbeat_at ? ` (heartbeat at ${wr.heartbeat_at})` : ''}:`);
    for (const line of wr.logtail) lines.push(`  ${line}`);
  }
  return lines.join('\n') + '\n';
}

/**
 * The lines of `next` that were not in `previous`: each heartbeat carries only the last few log
 * lines, so the new ones follow the longest end of `previous` that starts `next`.
 */
export function newLogLines(previous: string[], next: string[]): string[] {
  for (let overlap = Math.min(previous.length, next.length); overlap > 0; overlap -= 1) {
    const tail = previous.slice(previous.length - overlap);
    if (tail.every((line, i) => line === next[i])) return next.slice(overlap);
  }
  return next;
}

export function registerWorkRequestCommands(program: Command, ctx: WorkRequestCommandContext): void {
  const sleep = ctx.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const { connect, connected, print, idCommand } = commandHelpers(ctx);

  const group = addConnectionOptions(program.command('work-request').description('create, list, show, retry, abort and unblock work requests'));

  addDataOptions(group.command('create').description('create a work request and print its id').argument('<task-name>', 'task to run, e.g. noop or lintian'), 'task data')
    .option('--workspace <name>', 'workspace (default: the server default, "System")')
    .action(connected(async ({ api, opts }, taskName: string, cmdOpts: { data?: string; dataFile?: string; workspace?: string }) => {
      const taskData = readJsonDataOption(cmdOpts, ctx.cwd()) ?? {};
      const created = await api.createWorkRequest({
        task_name: taskName,
        task_data: taskData,
        ...(cmdOpts.workspace ? { workspace: cmdOpts.workspace } : {}),
      });
      print(opts, created, () => `${created.id}\n`);
    }));

  const list = group
    .command('list')
    .description('list work requests, newest first')
    .option('--workspace <name>', 'workspace (default: the server default, "System")')
    .addOption(new Option('--status <status>', 'only requests in this status').choices(STATUSES))
    .option('--task <name>', 'only requests of this task');
  addLimitOptions(list, 'request').action(async (cmdOpts: { workspace?: string; status?: string; task?: string; limit: string; all?: boolean }, cmd: Command) => {
    const { api, opts } = connect(cmd);
    const { results, more } = await collectPages<WireWorkRequest>(listLimit(cmdOpts), (pageLimit, cursor) =>
      api.listWorkRequests({ workspace: cmdOpts.workspace, status: cmdOpts.status, taskName: cmdOpts.task, limit: pageLimit, cursor }),
    );
    const row = (wr: WireWorkRequest) => [String(wr.id), wr.task_name, wr.status, wr.result || '-', wr.worker_name ?? '-', wr.created_at, wr.created_by];
    print(opts, results, () => listText(results, more, 'No work requests.\n', () => formatTable(['ID', 'TASK', 'STATUS', 'RESULT', 'WORKER', 'CREATED', 'CREATED BY'], results.map(row))));
  });

  group
    .command('show')
    .description('show a work request; --follow prints its log and status changes until it finishes')
    .argument('<id>', 'work request id')
    .option('--follow', `poll every ${FOLLOW_INTERVAL_MS / 1000}s until the request is completed or aborted`)
    .action(async (idText: string, cmdOpts: { follow?: boolean }, cmd: Command) => {
      const { api, opts } = connect(cmd);
      const id = parseId(idText, 'work request id');
      let current = await api.getWorkRequest(id);
      if (!cmdOpts.follow) {
        print(opts, current, () => describeWorkRequest(current));
        return;
      }
      if (!opts.json) {
        ctx.stdout.write(`Work request ${current.id} (${current.task_name}): ${statusText(current)}${current.worker_name ? ` on ${current.worker_name}` : ''}\n`);
        for (const line of current.logtail) ctx.stdout.write(`  ${line}\n`);
      }
      while (!isFinished(current)) {
        await sleep(FOLLOW_INTERVAL_MS);
        const next = await api.getWorkRequest(id);
        if (!opts.json) {
          const changed = next.status !== current.status || next.result !== current.result || next.worker_name !== current.worker_name;
          const statusLine = `Work request ${id}: ${statusText(next)}${next.worker_name ? ` on ${next.worker_name}` : ''}\n`;
          // A new status comes before the lines logged under it; the final one after the last lines.
          if (changed && !isFinished(next)) ctx.stdout.write(statusLine);
          if (next.heartbeat_at !== current.heartbeat_at || next.logtail.join('\n') !== current.logtail.join('\n')) {
            for (const line of newLogLines(current.logtail, next.logtail)) ctx.stdout.write(`  ${line}\n`);
          }
          if (changed && isFinished(next)) ctx.stdout.write(statusLine);
        }
        current = next;
      }
      if (opts.json) ctx.stdout.write(formatJson(current));
    });

  idCommand(
    group,
    { name: 'retry', description: 'retry an aborted or failed work request (prints the new id)', what: 'work request id' },
    (api, id) => api.retryWorkRequest(id),
    (retried, idText) => `Retried work request ${idText} as ${retried.id}\n`,
  );

  idCommand(
    group,
    { name: 'abort', description: 'abort a pending, blocked or running work request (and its descendants)', what: 'work request id' },
    (api, id) => api.abortWorkRequest(id),
    (aborted) => `Work request ${aborted.id}: ${statusText(aborted)}\n`,
  );

  group
    .command('unblock')
    .description('review a blocked work request: accept or reject it, with notes')
    .argument('<id>', 'work request id')
    .addOption(new Option('--accept', 'let it run').conflicts('reject'))
    .option('--reject', 'abort it')
    .option('--notes <text>', 'review notes')
    .action(connected(async ({ api, opts }, idText: string, cmdOpts: { accept?: boolean; reject?: boolean; notes?: string }) => {
      if (!cmdOpts.accept && !cmdOpts.reject && cmdOpts.notes === undefined) throw new Error('Give --accept, --reject or --notes');
      const updated = await api.unblockWorkRequest(parseId(idText, 'work request id'), {
        ...(cmdOpts.accept ? { action: 'accept' as const } : cmdOpts.reject ? { action: 'reject' as const } : {}),
        ...(cmdOpts.notes !== undefined ? { notes: cmdOpts.notes } : {}),
      });
      print(opts, updated, () => `Work request ${updated.id}: ${statusText(updated)}\n`);
    }));

  group
    .command('priority')
    .description("set a work request's priority adjustment (raising it above 0 needs an administrator)")
    .argument('<id>', 'work request id')
    .argument('<adjustment>', 'the new adjustment, e.g. 10 or -5')
    .action(connected(async ({ api, opts }, idText: string, adjustmentText: string) => {
      if (!/^[+-]?\d+$/.test(adjustmentText)) throw new Error(`Invalid priority adjustment "${adjustmentText}": expected a whole number`);
      const updated = await api.setWorkRequestPriority(parseId(idText, 'work request id'), Number(adjustmentText));
      print(opts, updated, () => `Work request ${updated.id}: priority ${updated.effective_priority} (adjustment ${updated.priority_adjustment})\n`);
    }));
}
