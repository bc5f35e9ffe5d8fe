/**
 * `conveyor recurring-job create|list|show|request|try-again|suspend|results|events` through the REST
 * API (docs/api.md, "Recurring jobs").
 */
import type { Command } from 'commander';
import type { ClientContext } from './context';
import { formatTable } from './format';
import { addConnectionOptions, collectPages, commandHelpers, parseId } from './options';

export interface WireRecurringResult {
  sequence: number;
  status: string;
  log_excerpt: string | null;
  log_artifact: number | null;
  output_artifact: number | null;
  date_job_started: string;
  date_job_finished: string;
  machine: string;
}

export interface WireRecurringJob {
  id: number;
  workspace: string;
  kind: string;
  target: Record<string, unknown>;
  effective_update_interval: number;
  review_status: string;
  consecutive_failures: number;
  next_due: string | null;
  run: { id: number; state: string; date_due: string; requesting_user: string | null; machine: string | null; work_request: number | null } | null;
  last_results?: WireRecurringResult[];
}

export interface WireRecurringEvent {
  type: string;
  date: string;
  person: string | null;
  machine: string | null;
  items: Record<string, string>;
}

interface WirePage<T> {
  results: T[];
  cursor: string | null;
}

const target = (j: Pick<WireRecurringJob, 'target'>) => String(j.target['url'] ?? j.target['template'] ?? JSON.stringify(j.target));

export function describeRecurringJob(j: WireRecurringJob): string {
  const lines = [
    `Recurring job ${j.id}  ${j.kind}  ${target(j)}`,
    `  workspace         ${j.workspace}`,
    `  review status     ${j.review_status}`,
    `  interval          ${j.effective_update_interval} s`,
    `  failures in a row ${j.consecutive_failures}`,
    `  next due          ${j.next_due ?? '-'}`,
    `  run               ${j.run ? `${j.run.id} ${j.run.state}${j.run.machine ? ` on ${j.run.machine}` : ''}${j.run.requesting_user ? ` (requested by ${j.run.requesting_user})` : ''}${j.run.work_request ? ` work request ${j.run.work_request}` : ''}` : '-'}`,
  ];
  if (j.last_results?.length) {
    lines.push('Last results:');
    for (const r of j.last_results) lines.push(`  ${r.date_job_finished}  ${r.status}  ${r.machine}`);
  }
  return lines.join('\n') + '\n';
}

export function registerRecurringJobCommands(program: Command, ctx: ClientContext): void {
  const { connect, print, idCommand } = commandHelpers(ctx);
  const group = addConnectionOptions(program.command('recurring-job').description('recurring jobs: git mirrors and nightly workflows (Launchpad code-import model)'));
  const post = async (cmd: Command, path: string, body?: unknown) => {
    const { api, opts } = connect(cmd);
    const job = (await api.json<WireRecurringJob>(body === undefined ? 'POST' : 'PATCH', path, body ?? {})).body;
    print(opts, job, () => describeRecurringJob(job));
  };

  group
    .command('create')
    .description('create a recurring job (contributors; an owner\'s job is REVIEWED at once, a contributor\'s waits for review)')
    .requiredOption('--workspace <name>', 'workspace')
    .requiredOption('--kind <kind>', 'git-import or workflow')
    .option('--url <url>', 'git-import: the repository to mirror')
    .option('--template <name>', 'workflow: the template to start on every run')
    .option('--parameters <json>', 'workflow: fixed parameters, a JSON object', '{}')
    .option('--interval <seconds>', 'seconds between runs (default: 6 h for git-import, 12 h for workflow)')
    .action(async (o: { workspace: string; kind: string; url?: string; template?: string; parameters: string; interval?: string }, cmd: Command) => {
      const { api, opts } = connect(cmd);
      let parameters: unknown;
      try {
        parameters = JSON.parse(o.parameters);
      } catch {
        throw new Error('--parameters is not valid JSON');
      }
      if (o.interval !== undefined && !/^\d+$/.test(o.interval)) throw new Error(`Invalid --interval "${o.interval}": expected whole seconds`);
      const body = {
        workspace: o.workspace,
        kind: o.kind,
        target: o.kind === 'workflow' ? { template: o.template, parameters } : { url: o.url },
        ...(o.interval !== undefined ? { update_interval: Number(o.interval) } : {}),
      };
      const job = (await api.json<WireRecurringJob>('POST', 'recurring-job/', body)).body;
      print(opts, job, () => `Created recurring job ${job.id} (${job.review_status}), next due ${job.next_due ?? '-'}\n`);
    });

  group
    .command('list')
    .description('list the recurring jobs of a workspace')
    .requiredOption('--workspace <name>', 'workspace')
    .option('--limit <n>', 'at most this many', '100')
    .action(async (o: { workspace: string; limit: string }, cmd: Command) => {
      const { api, opts } = connect(cmd);
      const { results, more } = await collectPages<WireRecurringJob>(Number(o.limit), async (limit, cursor) => {
        const q = new URLSearchParams({ workspace: o.workspace, limit: String(limit), ...(cursor ? { cursor } : {}) });
        return (await api.json<WirePage<WireRecurringJob>>('GET', `recurring-job/?${q}`)).body;
      });
      print(opts, results, () => {
        if (results.length === 0) return 'No recurring jobs.\n';
        const table = formatTable(
          ['ID', 'KIND', 'TARGET', 'STATUS', 'NEXT DUE', 'RUN'],
          results.map((j) => [String(j.id), j.kind, target(j), j.review_status, j.next_due ?? '-', j.run ? j.run.state : '-']),
        );
        return more ? `${table}(more: raise --limit)\n` : table;
      });
    });

  idCommand(
    group,
    { name: 'show', description: 'show a recurring job: its run, next due date and last results', what: 'job id' },
    async (api, id) => (await api.json<WireRecurringJob>('GET', `recurring-job/${id}/`)).body,
    describeRecurringJob,
  );

  group
    .command('request')
    .description('run it now (a second request before it runs is refused)')
    .argument('<id>', 'job id')
    .action((id: string, _o: unknown, cmd: Command) => post(cmd, `recurring-job/${parseId(id, 'job id')}/request/`));

  group
    .command('try-again')
    .description('bring a FAILING job back: REVIEWED, with a run requested now (owners)')
    .argument('<id>', 'job id')
    .action((id: string, _o: unknown, cmd: Command) => post(cmd, `recurring-job/${parseId(id, 'job id')}/try-again/`));

  group
    .command('suspend')
    .description('suspend a job: no run is scheduled until an owner sets it REVIEWED again (owners)')
    .argument('<id>', 'job id')
    .action((id: string, _o: unknown, cmd: Command) => post(cmd, `recurring-job/${parseId(id, 'job id')}/`, { review_status: 'SUSPENDED' }));

  /** `results` and `events`: one page of a job's sub-listing, as a table or JSON. */
  const subListing = <T>(name: string, description: string, defaultLimit: string, empty: string, header: string[], row: (t: T) => string[]) =>
    group
      .command(name)
      .description(description)
      .argument('<id>', 'job id')
      .option('--limit <n>', 'at most this many', defaultLimit)
      .action(async (id: string, o: { limit: string }, cmd: Command) => {
        const { api, opts } = connect(cmd);
        const page = (await api.json<WirePage<T>>('GET', `recurring-job/${parseId(id, 'job id')}/${name}/?limit=${Number(o.limit)}`)).body;
        print(opts, page.results, () => (page.results.length === 0 ? empty : formatTable(header, page.results.map(row))));
      });

  subListing<WireRecurringResult>('results', 'the results of its runs, newest first', '20', 'No results yet.\n', ['#', 'STATUS', 'STARTED', 'FINISHED', 'MACHINE', 'LOG'], (r) => [
    String(r.sequence),
    r.status,
    r.date_job_started,
    r.date_job_finished,
    r.machine,
    r.log_artifact === null ? '-' : `artifact ${r.log_artifact}`,
  ]);
  subListing<WireRecurringEvent>('events', 'its events (CREATE, MODIFY, REQUEST, START, FINISH, RECLAIM), oldest first', '100', 'No events.\n', ['DATE', 'EVENT', 'BY', 'MACHINE', 'ITEMS'], (e) => [
    e.date,
    e.type,
    e.person ?? '-',
    e.machine ?? '-',
    Object.entries(e.items)
      .map(([k, v]) => `${k}=${v}`)
      .join(' '),
  ]);
}
