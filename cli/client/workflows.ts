/**
 * `conveyor workflow-template ...` (create, list, show, delete) and `conveyor workflow ...` (start,
 * show the tree of a run, retry, abort) through the REST API. Task data comes from `--data JSON` or
 * `--data-file F`: `.json` files are JSON, anything else is YAML (a superset of JSON; the `yaml`
 * package parses it, because workflow parameters are usually written by hand).
 */
import { Command } from 'commander';
import { extname } from 'node:path';
import type { ClientContext } from './context';
import { formatTable } from './format';
import { addConnectionOptions, addDataOptions, commandHelpers, parseId, readDataFile } from './options';
import type { WireWorkRequest } from './wire';

export interface WireWorkflowTemplate {
  id: number;
  url: string;
  name: string;
  scope: string;
  workspace: string;
  task_name: string;
  task_data: Record<string, unknown>;
  priority: number;
}

export interface WireRun {
  name: string;
  number: string;
  status: string;
}

/** A work request as the workflow endpoints return it: with the run of a root workflow. */
export type WireWorkflowRequest = WireWorkRequest & { run?: WireRun | null; internal_collection?: number | null };

export interface WireWorkflowTreeNode {
  work_request: WireWorkflowRequest;
  children: WireWorkflowTreeNode[];
}

export interface WireWorkflowTree {
  workflow: WireWorkflowRequest;
  children: WireWorkflowTreeNode[];
}

function asObject(parsed: unknown, from: string): Record<string, unknown> {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`${from} must be a JSON object (a YAML mapping)`);
  return parsed as Record<string, unknown>;
}

/** `--data` (JSON) or `--data-file` (`.json`: JSON; otherwise YAML); undefined when neither is given. */
export function readTaskDataOption(opts: { data?: string; dataFile?: string }, cwd: string): Record<string, unknown> | undefined {
  if (opts.data !== undefined && opts.dataFile !== undefined) throw new Error('Give --data or --data-file, not both');
  if (opts.data !== undefined) {
    try {
      return asObject(JSON.parse(opts.data), '--data');
    } catch (err) {
      if (err instanceof SyntaxError) throw new Error(`--data is not valid JSON: ${err.message}`);
      throw err;
    }
  }
  if (opts.dataFile === undefined) return undefined;
  const text = readDataFile(opts.dataFile, cwd);
  const from = `--data-file ${opts.dataFile}`;
  if (extname(opts.dataFile).toLowerCase() === '.json') {
    try {
      return asObject(JSON.parse(text), from);
    } catch (err) {
      if (err instanceof SyntaxError) throw new Error(`${from} is not valid JSON: ${err.message}`);
      throw err;
    }
  }
  let parsed: unknown;
  try {
    // Loaded here: the YAML parser is the biggest part of the CLI that only this command needs.
    parsed = (require('yaml') as typeof import('yaml')).parse(text);
  } catch (err) {
    throw new Error(`${from} is not valid YAML: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
  }
  return asObject(parsed, from);
}

function statusText(wr: Pick<WireWorkRequest, 'status' | 'result'>): string {
  return wr.result ? `${wr.status} (${wr.result})` : wr.status;
}

function runText(run: WireRun | null | undefined): string {
  return run ? `run ${run.name}.${run.number} ${run.status}` : '';
}

function nodeLine(wr: WireWorkflowRequest): string {
  const parts = [`${wr.id}`, `${wr.task_type}/${wr.task_name}`, statusText(wr)];
  const label = typeof wr.workflow_data?.display_name === 'string' ? wr.workflow_data.display_name : undefined;
  if (label) parts.push(JSON.stringify(label));
  if (wr.workflow_data?.allow_failure === true) parts.push('[allow failure]');
  if (wr.superseded_by !== null) parts.push(`[superseded by ${wr.superseded_by}]`);
  if (wr.dependencies.length) parts.push(`[after ${wr.dependencies.join(', ')}]`);
  return parts.join('  ');
}

/** The tree of a run: the workflow, then every child indented under its parent, with status and result. */
export function describeWorkflowTree(tree: WireWorkflowTree): string {
  const wf = tree.workflow;
  const header = [`Workflow ${wf.id}  ${wf.task_name}`, statusText(wf), runText(wf.run)].filter(Boolean).join('  ');
  const lines = [header];
  if (wf.workflow_data?.workflow_template_name) lines.push(`  template  ${String(wf.workflow_data.workflow_template_name)}`);
  lines.push(`  workspace ${wf.scope}/${wf.workspace}`);
  if (tree.children.length === 0) {
    lines.push('  (no children yet)');
  } else {
    const walk = (nodes: WireWorkflowTreeNode[], depth: number): void => {
      for (const n of nodes) {
        lines.push(`${'  '.repeat(depth + 1)}${nodeLine(n.work_request)}`);
        walk(n.children, depth + 1);
      }
    };
    lines.push('Children:');
    walk(tree.children, 0);
  }
  return lines.join('\n') + '\n';
}

export function describeTemplate(t: WireWorkflowTemplate): string {
  const fields: [string, string][] = [
    ['workspace', `${t.scope}/${t.workspace}`],
    ['task name', t.task_name],
    ['priority', String(t.priority)],
    ['task data', JSON.stringify(t.task_data, null, 2)],
  ];
  const width = Math.max(...fields.map(([label]) => label.length)) + 2;
  const lines = [`Workflow template ${t.id}  ${t.name}`];
  for (const [label, value] of fields) lines.push(`  ${label.padEnd(width)}${value.split('\n').join(`\n  ${' '.repeat(width)}`)}`);
  return lines.join('\n') + '\n';
}

/** A workflow's id, status and run, one line. */
function workflowStatusLine(wr: WireWorkflowRequest): string {
  return `Workflow ${wr.id}: ${statusText(wr)}${wr.run ? `  ${runText(wr.run)}` : ''}\n`;
}

export function registerWorkflowCommands(program: Command, ctx: ClientContext): void {
  const { connect, connected, print, idCommand, deleteCommand } = commandHelpers(ctx);

  // ---- templates ----
  const templates = addConnectionOptions(program.command('workflow-template').description('create, list, show and delete workflow templates'));

  addDataOptions(
    templates
      .command('create')
      .description('register a workflow template in a workspace (workspace owners)')
      .argument('<name>', 'template name (also the name of its runs: NAME.1, NAME.2, ...)')
      .requiredOption('--task-name <workflow>', 'the workflow it starts, e.g. noop'),
    'fixed task data',
    { yaml: true },
  )
    .option('--priority <n>', 'priority of its runs (above 0 needs an administrator)', '0')
    .requiredOption('--workspace <name>', 'workspace')
    .action(async (name: string, cmdOpts: { taskName: string; data?: string; dataFile?: string; priority: string; workspace: string }, cmd: Command) => {
      const { api, opts } = connect(cmd);
      if (!/^[+-]?\d+$/.test(cmdOpts.priority)) throw new Error(`Invalid --priority "${cmdOpts.priority}": expected a whole number`);
      const created = (
        await api.json<WireWorkflowTemplate>('POST', 'workflow-template/', {
          name,
          task_name: cmdOpts.taskName,
          task_data: readTaskDataOption(cmdOpts, ctx.cwd()) ?? {},
          priority: Number(cmdOpts.priority),
          workspace: cmdOpts.workspace,
        })
      ).body;
      print(opts, created, () => `Created workflow template ${created.id} "${created.name}" in ${created.workspace}\n`);
    });

  templates
    .command('list')
    .description('list the workflow templates of a workspace')
    .requiredOption('--workspace <name>', 'workspace')
    .action(async (cmdOpts: { workspace: string }, cmd: Command) => {
      const { api, opts } = connect(cmd);
      // The list is paged (docs/api.md): follow the cursors to the last page.
      const list: WireWorkflowTemplate[] = [];
      for (let cursor: string | null | undefined; cursor !== null; ) {
        const params = new URLSearchParams({ workspace: cmdOpts.workspace, ...(cursor ? { cursor } : {}) });
        const page = (await api.json<{ results: WireWorkflowTemplate[]; cursor: string | null }>('GET', `workflow-template/?${params}`)).body;
        list.push(...page.results);
        cursor = page.cursor;
      }
      print(opts, list, () =>
        list.length === 0
          ? 'No workflow templates.\n'
          : formatTable(
              ['ID', 'NAME', 'TASK', 'PRIORITY', 'TASK DATA'],
              list.map((t) => [String(t.id), t.name, t.task_name, String(t.priority), JSON.stringify(t.task_data)]),
            ),
      );
    });

  idCommand(
    templates,
    { name: 'show', description: 'show a workflow template', what: 'template id' },
    async (api, id) => (await api.json<WireWorkflowTemplate>('GET', `workflow-template/${id}/`)).body,
    describeTemplate,
  );

  deleteCommand(
    templates,
    { name: 'delete', description: 'delete a workflow template (its past runs stay)', what: 'template id' },
    async (api, id) => (await api.request('DELETE', `workflow-template/${id}/`)).body?.cancel(),
    'workflow template',
  );

  // ---- runs ----
  const workflows = addConnectionOptions(program.command('workflow').description('start workflows, show their progress, retry or abort them'));

  addDataOptions(
    workflows
      .command('start')
      .description('start a workflow from a template (prints the workflow id and run)')
      .argument('<template>', 'template name')
      .requiredOption('--workspace <name>', 'workspace'),
    'run-time task data',
    { yaml: true, note: 'the template wins on shared keys' },
  )
    .action(async (template: string, cmdOpts: { workspace: string; data?: string; dataFile?: string }, cmd: Command) => {
      const { api, opts } = connect(cmd);
      const started = (
        await api.json<WireWorkflowRequest>('POST', 'workflow/', {
          template_name: template,
          workspace: cmdOpts.workspace,
          task_data: readTaskDataOption(cmdOpts, ctx.cwd()) ?? {},
        })
      ).body;
      print(opts, started, () => `Started workflow ${started.id}${started.run ? ` (${started.run.name}.${started.run.number})` : ''}\n`);
    });

  workflows
    .command('show')
    .description('show a workflow and the tree of its children (by id, or by run: NAME, NAME.N, NAME.N.M)')
    .argument('<workflow>', 'workflow id, or run name with an optional run number')
    .option('--workspace <name>', 'workspace of a run looked up by name (default: the server default, "System")')
    .action(connected(async ({ api, opts }, ref: string, cmdOpts: { workspace?: string }) => {
      let id: number;
      if (/^\d+$/.test(ref)) {
        id = parseId(ref, 'workflow id');
      } else {
        const params = new URLSearchParams({ name: ref });
        if (cmdOpts.workspace) params.set('workspace', cmdOpts.workspace);
        id = (await api.json<WireWorkflowRequest>('GET', `workflow/?${params}`)).body.id;
      }
      const tree = (await api.json<WireWorkflowTree>('GET', `workflow/${id}/`)).body;
      print(opts, tree, () => describeWorkflowTree(tree));
    }));

  idCommand(
    workflows,
    { name: 'retry', description: 'retry a failed or aborted workflow: it runs again (run N.M+1), retrying its failed children', what: 'workflow id' },
    async (api, id) => (await api.json<WireWorkflowRequest>('POST', `work-request/${id}/retry/`, {})).body,
    workflowStatusLine,
  );

  idCommand(
    workflows,
    { name: 'abort', description: 'abort a workflow and every unfinished child', what: 'workflow id' },
    async (api, id) => (await api.json<WireWorkflowRequest>('POST', `work-request/${id}/abort/`, {})).body,
    workflowStatusLine,
  );
}
