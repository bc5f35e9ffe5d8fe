/**
 * `conveyor admin ...`: administration straight against the database, like
 * debusine-admin. These commands need the deployment's environment variables (or the
 * local stack's local.json), not an API token: whoever can run them already holds the
 * AWS credentials.
 */
import { Argument, Command, Option } from 'commander';
import { userInfo } from 'node:os';
import { ROLES } from '../../shared/domain/roles';
import { DEFAULT_SCOPE, type AuditEntry, type RoleGrant, type Token, type User, type Workspace } from '../../shared/domain/tenancy';
import type { Deps } from '../../shared/ports';
import {
  createToken,
  createUser,
  createWorkspace,
  grantRole,
  listAudit,
  listRoles,
  listTokens,
  listUsers,
  listWorkspaces,
  revokeRole,
  revokeToken,
  setTokenEnabled,
  updateWorkspace,
} from '../../shared/app/admin';
import { initDatabase } from '../../shared/app/bootstrap';
import { formatJson, formatTable, yesNo } from '../client/format';
import { prepareAdminEnvironment, type AdminEnvironmentSource } from './environment';
import { adminListCommand, registerAdminWorkerCommands } from './workers';
import { registerAdminMachineCommands } from './machines';
import { registerAdminChannelCommands } from './channels';
import { registerAdminExpireCommand } from './expire';
import { registerAdminAccountCommands } from './accounts';
import { registerAdminMigrationCommands } from './migrations';

/** Everything the admin commands take from the process, so tests can run them on in-memory deps. */
export interface AdminContext {
  stdout: { write(chunk: string): unknown };
  actor: () => string;
  /** Builds the use cases' dependencies, once per command. */
  createDeps: () => Promise<{ deps: Deps; source: AdminEnvironmentSource }>;
}

export function defaultAdminContext(): AdminContext {
  return {
    stdout: process.stdout,
    actor: () => `admin-cli:${currentOsUser()}`,
    createDeps: async () => {
      const source = prepareAdminEnvironment(process.env, process.cwd());
      // Loaded on demand: the AWS SDK costs startup time that client commands should not pay.
      const { createAwsDeps } = await import('../../shared/adapters/aws');
      return { deps: createAwsDeps(process.env), source };
    },
  };
}

function currentOsUser(): string {
  try {
    return userInfo().username;
  } catch {
    // No passwd entry (some containers): fall back to the environment.
    return process.env.USER || process.env.LOGNAME || 'unknown';
  }
}

/** Timestamps to the second: milliseconds only widen the tables. */
function shortTime(iso: string | undefined | null): string {
  return iso ? iso.replace(/\.\d{3}Z$/, 'Z') : '-';
}

function parseSeconds(value: string, option: string): number {
  if (!/^\d+$/.test(value)) throw new Error(`Invalid ${option} "${value}": expected a whole number of seconds (0 keeps artifacts forever)`);
  return Number(value);
}

function parseLimit(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 1000) throw new Error(`Invalid --limit "${value}": expected 1 to 1000`);
  return Number(value);
}

/** What `token list` and `--json` show of a token: never the hash, which would let anyone test guesses offline. */
export function publicTokenView(token: Token): Omit<Token, 'hash' | 'version'> {
  const { hash: _hash, version: _version, ...visible } = token;
  return visible;
}

function usersTable(users: User[]): string {
  if (users.length === 0) return 'No users.\n';
  return formatTable(
    ['USERNAME', 'EMAIL', 'ADMIN', 'CREATED'],
    users.map((u) => [u.username, u.email ?? '-', yesNo(u.isAdmin), shortTime(u.createdAt)]),
  );
}

export function tokensTable(tokens: Token[]): string {
  if (tokens.length === 0) return 'No tokens.\n';
  return formatTable(
    ['ID', 'USER', 'PURPOSE', 'STATUS', 'ENABLED', 'CREATED', 'EXPIRES', 'LAST SEEN', 'COMMENT'],
    tokens.map((t) => [
      t.id,
      t.username ?? '-',
      t.purpose,
      t.status,
      yesNo(t.enabled),
      shortTime(t.createdAt),
      shortTime(t.expireAt),
      shortTime(t.lastSeenAt),
      t.comment || '-',
    ]),
  );
}

function workspacesTable(workspaces: Workspace[]): string {
  if (workspaces.length === 0) return 'No workspaces.\n';
  return formatTable(
    ['SCOPE', 'NAME', 'PUBLIC', 'DEFAULT EXPIRATION', 'CREATED'],
    workspaces.map((w) => [w.scope, w.name, yesNo(w.public), w.defaultExpirationDelay ? `${w.defaultExpirationDelay}s` : 'never', shortTime(w.createdAt)]),
  );
}

function rolesTable(grants: RoleGrant[]): string {
  if (grants.length === 0) return 'No roles granted.\n';
  return formatTable(
    ['USER', 'ROLE', 'GRANTED'],
    grants.map((g) => [g.username, g.role, shortTime(g.grantedAt)]),
  );
}

function auditTable(entries: AuditEntry[]): string {
  if (entries.length === 0) return 'No audit entries.\n';
  return formatTable(
    ['AT', 'ACTOR', 'ACTION', 'DETAILS'],
    entries.map((e) => [shortTime(e.at), e.actor, e.action, JSON.stringify(e.details)]),
  );
}

/** Adds a hint to failures that are probably a stopped local stack. */
function explainConnectionFailure(err: unknown, source: AdminEnvironmentSource): unknown {
  if (source.kind !== 'local-stack' || !(err instanceof Error)) return err;
  const text = `${err.name} ${err.message} ${String((err as { code?: unknown }).code ?? '')}`;
  if (!/ECONNREFUSED|connect|socket hang up/i.test(text)) return err;
  return new Error(`${err.message} (using the local stack settings from ${source.path}: is \`conveyor dev\` running?)`);
}

interface RunEnvironment<O> {
  deps: Deps;
  actor: string;
  options: O;
  print: (json: unknown, human: () => string) => void;
}

export function registerAdminCommands(program: Command, ctx: AdminContext = defaultAdminContext()): void {
  const admin = program
    .command('admin')
    .description('administration straight against the database (users, tokens, workspaces, roles, audit)')
    .option('--json', 'print machine-readable JSON');

  /**
   * Wraps an action: commander passes (...arguments, options, command); the body gets fresh
   * deps, the actor, this command's options and a printer that honours --json.
   */
  const run =
    <O extends object = object, A extends string[] = []>(body: (env: RunEnvironment<O>, ...args: A) => Promise<void>) =>
    async (...actionArgs: unknown[]): Promise<void> => {
      const cmd = actionArgs[actionArgs.length - 1] as Command;
      const options = actionArgs[actionArgs.length - 2] as O;
      const positional = actionArgs.slice(0, -2) as A;
      const json = Boolean(cmd.optsWithGlobals<{ json?: boolean }>().json);
      const print = (value: unknown, human: () => string): void => {
        ctx.stdout.write(json ? formatJson(value) : human());
      };
      const { deps, source } = await ctx.createDeps();
      try {
        await body({ deps, actor: ctx.actor(), options, print }, ...positional);
      } catch (err) {
        throw explainConnectionFailure(err, source);
      }
    };

  const db = admin.command('db').description('database setup');
  db.command('init')
    .description('create the default scope, the System workspace and the admin user (idempotent)')
    .action(
      run(async ({ deps, print }) => {
        const { created } = await initDatabase(deps);
        print({ created }, () => (created.length ? `Created: ${created.join(', ')}\n` : 'Already initialised: nothing to create.\n'));
      }),
    );

  const user = admin.command('user').description('users');
  user
    .command('create')
    .description('create a user')
    .argument('<name>', 'username')
    .option('--email <email>', 'e-mail address')
    .option('--admin', 'make the user an administrator (owner of every workspace)')
    .action(
      run<{ email?: string; admin?: boolean }, [string]>(async ({ deps, actor, options, print }, name) => {
        const created = await createUser(deps, actor, { username: name, email: options.email, isAdmin: Boolean(options.admin) });
        print(created, () => `Created user ${created.username}${created.isAdmin ? ' (admin)' : ''}\n`);
      }),
    );
  adminListCommand(user, run, 'list users', listUsers, usersTable);

  const token = admin.command('token').description('API tokens');
  token
    .command('create')
    .description('create an enabled token for a user and print its key once')
    .argument('<user>', 'owning user')
    .option('--comment <text>', 'what the token is for')
    .option('--expire-at <iso-date>', 'expiry, an ISO 8601 date')
    .option('--disabled', 'create it disabled (requested); enable it later with `admin token enable`')
    .addOption(new Option('--purpose <purpose>', 'api: a named API token; user: the one user token').choices(['api', 'user']).default('api'))
    .action(
      run<{ comment?: string; expireAt?: string; disabled?: boolean; purpose: 'api' | 'user' }, [string]>(async ({ deps, actor, options, print }, username) => {
        if (options.expireAt !== undefined && Number.isNaN(Date.parse(options.expireAt))) {
          throw new Error(`Invalid --expire-at "${options.expireAt}": expected an ISO 8601 date`);
        }
        const { token: created, key } = await createToken(deps, actor, {
          username,
          purpose: options.purpose,
          comment: options.comment,
          // debusine-admin creates tokens ready to use; --disabled leaves one waiting for `token enable`.
          enabled: !options.disabled,
          expireAt: options.expireAt,
        });
        print({ ...publicTokenView(created), key }, () =>
          [
            `Created token ${created.id} for ${username} (${created.enabled ? 'enabled' : 'disabled'}, ${created.purpose}${created.expireAt ? `, expires ${shortTime(created.expireAt)}` : ''})`,
            `Key: ${key}`,
            'Save the key now: only its hash is stored, so it cannot be shown again.',
            '',
          ].join('\n'),
        );
      }),
    );
  // enable, disable, revoke: one token by id, each printed the same way.
  const tokenChanges: [name: string, description: string, done: string, change: (deps: Deps, actor: string, id: string) => Promise<Token>][] = [
    ['enable', 'enable a token (grants a requested one)', 'Enabled', (deps, actor, id) => setTokenEnabled(deps, actor, id, true)],
    ['disable', 'disable a token (it can be enabled again)', 'Disabled', (deps, actor, id) => setTokenEnabled(deps, actor, id, false)],
    ['revoke', 'revoke a token for good', 'Revoked', revokeToken],
  ];
  for (const [name, description, done, change] of tokenChanges) {
    token
      .command(name)
      .description(description)
      .argument('<id>', 'token id')
      .action(
        run<object, [string]>(async ({ deps, actor, print }, id) => {
          const updated = await change(deps, actor, id);
          print(publicTokenView(updated), () => `${done} token ${updated.id}
`);
        }),
      );
  }
  token
    .command('list')
    .description('list tokens (keys are never shown)')
    .option('--user <name>', 'only the tokens of this user')
    .action(
      run<{ user?: string }>(async ({ deps, options, print }) => {
        const tokens = await listTokens(deps, options.user);
        print(tokens.map(publicTokenView), () => tokensTable(tokens));
      }),
    );

  const workspace = admin.command('workspace').description('workspaces');
  workspace
    .command('create')
    .description('create a workspace (private unless --public)')
    .argument('<name>', 'workspace name')
    .option('--public', 'anyone may read it, even without a token')
    .option('--default-expiration-delay <seconds>', 'artifacts expire after this many seconds by default (0: never)')
    .option('--expiration-delay <seconds>', 'delete the workspace this many seconds after its last work request finished (0: never)')
    .option('--scope <scope>', 'scope', DEFAULT_SCOPE)
    .action(
      run<{ public?: boolean; defaultExpirationDelay?: string; expirationDelay?: string; scope: string }, [string]>(async ({ deps, actor, options, print }, name) => {
        const created = await createWorkspace(deps, actor, {
          scope: options.scope,
          name,
          public: Boolean(options.public),
          ...(options.defaultExpirationDelay !== undefined
            ? { defaultExpirationDelay: parseSeconds(options.defaultExpirationDelay, '--default-expiration-delay') }
            : {}),
          ...(options.expirationDelay !== undefined ? { expirationDelay: parseSeconds(options.expirationDelay, '--expiration-delay') } : {}),
        });
        print(created, () => `Created ${created.public ? 'public' : 'private'} workspace ${created.scope}/${created.name}\n`);
      }),
    );
  workspace
    .command('update')
    .description("change a workspace's visibility or default expiration")
    .argument('<name>', 'workspace name')
    .addOption(new Option('--public', 'make it readable by anyone').conflicts('private'))
    .option('--private', 'make it visible to its members only')
    .option('--default-expiration-delay <seconds>', 'artifacts expire after this many seconds by default (0: never)')
    .option('--expiration-delay <seconds>', 'delete the workspace this many seconds after its last work request finished (0: never)')
    .option('--scope <scope>', 'scope', DEFAULT_SCOPE)
    .action(
      run<{ public?: boolean; private?: boolean; defaultExpirationDelay?: string; expirationDelay?: string; scope: string }, [string]>(async ({ deps, actor, options, print }, name) => {
        if (options.public === undefined && options.private === undefined && options.defaultExpirationDelay === undefined && options.expirationDelay === undefined) {
          throw new Error('Nothing to change: give --public, --private, --default-expiration-delay or --expiration-delay');
        }
        const updated = await updateWorkspace(deps, actor, {
          scope: options.scope,
          name,
          ...(options.public ? { public: true } : options.private ? { public: false } : {}),
          ...(options.defaultExpirationDelay !== undefined
            ? { defaultExpirationDelay: parseSeconds(options.defaultExpirationDelay, '--default-expiration-delay') }
            : {}),
          ...(options.expirationDelay !== undefined ? { expirationDelay: parseSeconds(options.expirationDelay, '--expiration-delay') } : {}),
        });
        print(updated, () => {
          const expiration = updated.defaultExpirationDelay ? `${updated.defaultExpirationDelay}s` : 'never';
          return `Updated workspace ${updated.scope}/${updated.name}: ${updated.public ? 'public' : 'private'}, default expiration ${expiration}\n`;
        });
      }),
    );
  workspace
    .command('list')
    .description('list workspaces')
    .option('--scope <scope>', 'scope', DEFAULT_SCOPE)
    .action(
      run<{ scope: string }>(async ({ deps, options, print }) => {
        const workspaces = await listWorkspaces(deps, options.scope);
        print(workspaces, () => workspacesTable(workspaces));
      }),
    );

  const role = admin.command('role').description('workspace roles');
  role
    .command('grant')
    .description(`give USER a ROLE in WORKSPACE (${ROLES.join(', ')}), replacing any previous role`)
    .argument('<workspace>', 'workspace name')
    .argument('<user>', 'username')
    .addArgument(new Argument('<role>', 'role').choices([...ROLES]))
    .option('--scope <scope>', 'scope', DEFAULT_SCOPE)
    .action(
      run<{ scope: string }, [string, string, string]>(async ({ deps, actor, options, print }, workspaceName, username, roleName) => {
        const grant = await grantRole(deps, actor, { scope: options.scope, workspace: workspaceName, username, role: roleName });
        print(grant, () => `${grant.username} is now ${grant.role} of ${grant.scope}/${grant.workspace}\n`);
      }),
    );
  role
    .command('revoke')
    .description("remove USER's role in WORKSPACE")
    .argument('<workspace>', 'workspace name')
    .argument('<user>', 'username')
    .option('--scope <scope>', 'scope', DEFAULT_SCOPE)
    .action(
      run<{ scope: string }, [string, string]>(async ({ deps, actor, options, print }, workspaceName, username) => {
        await revokeRole(deps, actor, { scope: options.scope, workspace: workspaceName, username });
        print({ scope: options.scope, workspace: workspaceName, username, revoked: true }, () => `Revoked the role of ${username} in ${options.scope}/${workspaceName}\n`);
      }),
    );
  role
    .command('list')
    .description('list the roles granted in a workspace')
    .argument('<workspace>', 'workspace name')
    .option('--scope <scope>', 'scope', DEFAULT_SCOPE)
    .action(
      run<{ scope: string }, [string]>(async ({ deps, options, print }, workspaceName) => {
        const grants = await listRoles(deps, { scope: options.scope, workspace: workspaceName });
        print(grants, () => rolesTable(grants));
      }),
    );

  const audit = admin.command('audit').description('audit log');
  audit
    .command('list')
    .description('list audit entries, newest first')
    .option('--limit <n>', 'entries to show', '50')
    .option('--cursor <cursor>', 'continue from a previous listing')
    .action(
      run<{ limit: string; cursor?: string }>(async ({ deps, options, print }) => {
        const page = await listAudit(deps, { limit: parseLimit(options.limit), ...(options.cursor ? { cursor: options.cursor } : {}) });
        print({ results: page.items, cursor: page.next ?? null }, () => auditTable(page.items) + (page.next ? `(more: --cursor ${page.next})\n` : ''));
      }),
    );
  registerAdminWorkerCommands(admin, run);
  registerAdminMachineCommands(admin.commands.find((c) => c.name() === 'worker')!, run);
  registerAdminChannelCommands(admin, run);
  registerAdminExpireCommand(admin, run);
  registerAdminAccountCommands(admin, run);
  registerAdminMigrationCommands(admin, run);
}
