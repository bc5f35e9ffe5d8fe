/**
 * `conveyor token request|list` and `conveyor quota show`: a user's own tokens and quota
 * (REANA's `reana-client` token and quota commands) over /api/1.0/user/.
 */
import type { Command } from 'commander';
import type { ClientContext } from './context';
import { formatTable } from './format';
import { addConnectionOptions, commandHelpers } from './options';

export interface WireToken {
  id: string;
  user: string | null;
  purpose: string;
  status: string;
  enabled: boolean;
  comment: string;
  created_at: string;
  expire_at: string | null;
  last_seen_at: string | null;
}

interface WireResourceQuota {
  usage: { raw: number; human_readable: string };
  limit?: { raw: number; human_readable: string };
  health?: string;
}

export interface WireQuota {
  user?: string;
  scope?: string;
  workspace?: string;
  quota: Record<'cpu' | 'disk', WireResourceQuota>;
}

export function tokensTable(tokens: WireToken[]): string {
  if (tokens.length === 0) return 'No tokens.\n';
  return formatTable(
    ['ID', 'PURPOSE', 'STATUS', 'CREATED', 'LAST SEEN', 'COMMENT'],
    tokens.map((t) => [t.id, t.purpose, t.status, t.created_at.replace(/\.\d{3}Z$/, 'Z'), t.last_seen_at?.replace(/\.\d{3}Z$/, 'Z') ?? '-', t.comment || '-']),
  );
}

/** REANA's quota table: usage, limit (or unlimited) and health per resource. */
export function quotaTable(q: WireQuota): string {
  const owner = q.user !== undefined ? `user ${q.user}` : `workspace ${q.scope}/${q.workspace}`;
  const rows = (['cpu', 'disk'] as const).map((r) => {
    const x = q.quota[r];
    const pct = x.limit ? ` (${Math.round((x.usage.raw / x.limit.raw) * 100)}%)` : '';
    return [r, x.usage.human_readable + pct, x.limit?.human_readable ?? 'unlimited', x.health ?? '-'];
  });
  return `Quota of ${owner}\n` + formatTable(['RESOURCE', 'USED', 'LIMIT', 'HEALTH'], rows);
}

export function registerAccountCommands(program: Command, ctx: ClientContext): void {
  const { connect, print } = commandHelpers(ctx);
  const token = addConnectionOptions(program.command('token').description('your access tokens: request one, list them'));
  token
    .command('request')
    .description('ask for a user token; an administrator grants it (`conveyor admin token grant`) and hands you the key')
    .option('--comment <text>', 'what the token is for')
    .action(async (cmdOpts: { comment?: string }, cmd: Command) => {
      const { api, opts } = connect(cmd);
      const created = (await api.json<WireToken>('POST', 'user/token/', cmdOpts.comment !== undefined ? { comment: cmdOpts.comment } : {})).body;
      print(opts, created, () => `Requested token ${created.id}: an administrator must grant it (conveyor admin token grant ${created.id})\n`);
    });
  token
    .command('list')
    .description('list your tokens (keys are never shown)')
    .action(async (_cmdOpts: unknown, cmd: Command) => {
      const { api, opts } = connect(cmd);
      const list = (await api.json<{ results: WireToken[] }>('GET', 'user/token/')).body.results;
      print(opts, list, () => tokensTable(list));
    });

  const quota = addConnectionOptions(program.command('quota').description('your quota: cpu time and disk space used against your limits'));
  quota
    .command('show')
    .description('show your usage, limits and health')
    .action(async (_cmdOpts: unknown, cmd: Command) => {
      const { api, opts } = connect(cmd);
      const shown = (await api.json<WireQuota>('GET', 'user/quota/')).body;
      print(opts, shown, () => quotaTable(shown));
    });
}
