/**
 * `conveyor admin user disable|enable`, `admin token grant`, `admin quota set|show|recompute`
 * (REANA's reana-admin user and quota commands). Registered by registerAdminCommands with its
 * `run` wrapper; `user` and `token` extend the groups it already made.
 */
import { Argument, type Command } from 'commander';
import { recomputeUsageInBulk as recomputeUsage } from '../../shared/app/bulk-recompute';
import { quotaView, setQuotaLimit, showQuota } from '../../shared/app/quotas';
import { grantToken, setUserDisabled } from '../../shared/app/tokens';
import { DEFAULT_SCOPE } from '../../shared/domain/tenancy';
import { RESOURCES, type Account } from '../../shared/domain/quotas';
import { quotaTable } from '../client/accounts';
import type { AdminRun } from './workers';

function group(admin: Command, name: string): Command {
  const found = admin.commands.find((c) => c.name() === name);
  if (!found) throw new Error(`admin ${name} must be registered first`);
  return found;
}

interface AccountOptions {
  user?: string;
  workspace?: string;
  scope: string;
}

function accountOf(options: AccountOptions): Account {
  if ((options.user === undefined) === (options.workspace === undefined)) throw new Error('Give exactly one of --user or --workspace');
  return options.user !== undefined ? { kind: 'user', username: options.user } : { kind: 'workspace', scope: options.scope, workspace: options.workspace! };
}

/** Bytes or milliseconds, with the usual suffixes: 1.5GiB, 900KiB, 1h, 30m, 45s, or a plain number. */
export function parseQuotaAmount(resource: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([A-Za-z]*)$/.exec(value.trim());
  if (!m) throw new Error(`Invalid limit "${value}": expected a number, e.g. 1GiB or 2h`);
  const n = Number(m[1]);
  const unit = m[2]!.toLowerCase();
  const bytes: Record<string, number> = { '': 1, b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4, kb: 1000, mb: 1000 ** 2, gb: 1000 ** 3, tb: 1000 ** 4 };
  const ms: Record<string, number> = { '': 1, ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  const factor = (resource === 'disk' ? bytes : ms)[unit];
  if (factor === undefined) throw new Error(`Invalid unit "${m[2]}" for ${resource}: use ${resource === 'disk' ? 'B, KiB, MiB, GiB, TiB' : 'ms, s, m, h, d'}`);
  return Math.round(n * factor);
}

export function registerAdminAccountCommands(admin: Command, run: AdminRun): void {
  const user = group(admin, 'user');
  for (const [verb, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    user
      .command(verb)
      .description(disabled ? 'disable a user: every token refused (403), their pending work not started' : 'enable a disabled user again')
      .argument('<name>', 'username')
      .action(
        run<object, [string]>(async ({ deps, actor, print }, name) => {
          const updated = await setUserDisabled(deps, actor, name, disabled);
          print({ username: updated.username, disabled: Boolean(updated.disabled) }, () => `${disabled ? 'Disabled' : 'Enabled'} user ${updated.username}\n`);
        }),
      );
  }

  group(admin, 'token')
    .command('grant')
    .description("grant a user's requested token (or create the user token) and print its key once")
    .argument('<id-or-user>', 'a requested token id, or with --user a username')
    .option('--user', 'the argument is a username: grant their requested token, or create one')
    .action(
      run<{ user?: boolean }, [string]>(async ({ deps, actor, options, print }, target) => {
        const { token, key } = await grantToken(deps, actor, options.user ? { username: target } : { tokenId: target });
        print({ id: token.id, user: token.username ?? null, status: token.status, key }, () =>
          [`Granted token ${token.id} to ${token.username}`, `Key: ${key}`, 'Save the key now: only its hash is stored, so it cannot be shown again.', ''].join('\n'),
        );
      }),
    );

  const quota = admin.command('quota').description('quotas: limits, usage and the recompute');
  const withAccount = (cmd: Command) =>
    cmd.option('--user <name>', 'a user').option('--workspace <name>', 'a workspace').option('--scope <scope>', 'scope of --workspace', DEFAULT_SCOPE);
  withAccount(
    quota
      .command('set')
      .description('set a limit (0 = unlimited): disk in bytes (or 1.5GiB, 900KiB...), cpu in milliseconds (or 2h, 30m...)')
      .addArgument(new Argument('<resource>', 'resource').choices([...RESOURCES]))
      .argument('<limit>', 'the limit'),
  ).action(
    run<AccountOptions, [string, string]>(async ({ deps, actor, options, print }, resource, limit) => {
      const account = accountOf(options);
      const updated = await setQuotaLimit(deps, actor, account, resource, parseQuotaAmount(resource, limit));
      const view = quotaView(account, updated);
      print(view, () => quotaTable(view));
    }),
  );
  withAccount(quota.command('show').description("show a user's or a workspace's usage, limits and health")).action(
    run<AccountOptions>(async ({ deps, options, print }) => {
      const account = accountOf(options);
      const view = quotaView(account, await showQuota(deps, account));
      print(view, () => quotaTable(view));
    }),
  );
  quota
    .command('recompute')
    .description('recompute every usage from the artifacts and work requests, correcting drift')
    .action(
      run(async ({ deps, actor, print }) => {
        const summary = await recomputeUsage(deps, { actor });
        print(summary, () => `Recomputed usage from ${summary.sources} source(s); ${summary.corrected.length} value(s) corrected\n`);
      }),
    );
}
