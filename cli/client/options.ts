/**
 * What the client command groups (`artifact`, `whoami`, `work-request`, `workflow-template`,
 * `workflow`) share: the connection options and --json, accepted on the group before or after the
 * subcommand; turning them into a client configuration and an API client; printing JSON or text;
 * ids and JSON task data given on the command line.
 */
import { Option, type Command } from 'commander';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConveyorApi } from './api';
import type { ClientContext } from './context';
import { resolveClientConfig, type ClientConfig } from './config';
import { formatJson } from './format';

export interface GlobalOptions {
  server?: string;
  token?: string;
  scope?: string;
  json?: boolean;
}

/** Adds --server, --token, --scope and --json to a command (group). */
export function addConnectionOptions(cmd: Command): Command {
  return cmd
    .option('--server <url>', 'Conveyor server URL (else $CONVEYOR_SERVER, the config file, or the local stack)')
    .option('--token <key>', 'API token (else $CONVEYOR_TOKEN or the config file)')
    .option('--scope <name>', 'scope, sent as X-Debusine-Scope (default: the server default, "debusine")')
    .option('--json', 'print machine-readable JSON');
}

export interface Connection {
  api: ConveyorApi;
  /** The options of the command and of the groups above it. */
  opts: GlobalOptions;
  config: ClientConfig;
}

export interface CommandHelpers {
  /** The options a command was given (its own and its groups'), the configuration they resolve to and an API client for it. */
  connect(cmd: Command): Connection;
  /** Writes `json` as JSON with --json, else the text `human()` makes. */
  print(opts: GlobalOptions, json: unknown, human: () => string): void;
  /**
   * Declares `<group> <name> <id>`, a command of one id argument (`what` names it in the help and
   * in the error for a bad one): `act` is called with the API and the id, and what it returns is
   * printed, as JSON or as `human(value, idText)`.
   */
  idCommand<T>(group: Command, declaration: IdCommand, act: (api: ConveyorApi, id: number) => Promise<T>, human: (value: T, idText: string) => string): Command;
  /**
   * A commander action that connects before it acts: `act` gets the connection, then the command's
   * arguments and options (commander's trailing Command is taken off).
   */
  connected<A extends unknown[]>(act: (connection: Connection, ...args: A) => Promise<void>): (...args: unknown[]) => Promise<void>;
  /** An `idCommand` that deletes the `noun` with this id and prints `{deleted: id}` or "Deleted <noun> <id>". */
  deleteCommand(group: Command, declaration: IdCommand, remove: (api: ConveyorApi, id: number) => Promise<unknown>, noun: string): Command;
}

/** A command of `idCommand`: its name, help line and argument (`<id>` unless given). */
export interface IdCommand {
  name: string;
  description: string;
  what: string;
  argument?: string;
}

/** Commander calls an action with the arguments, the options and last the Command: connect with it, then act. */
function connectedAction<A extends unknown[]>(connect: (cmd: Command) => Connection, act: (connection: Connection, ...args: A) => Promise<void>) {
  return async (...args: unknown[]) => act(connect(args[args.length - 1] as Command), ...(args.slice(0, -1) as A));
}

export function commandHelpers(ctx: ClientContext): CommandHelpers {
  const helpers: CommandHelpers = {
    connect(cmd) {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      const config = resolveClientConfig({ server: opts.server, token: opts.token, scope: opts.scope }, { env: ctx.env, homeDir: ctx.homeDir, cwd: ctx.cwd() });
      return { api: new ConveyorApi(config, ctx.fetch), opts, config };
    },
    print(opts, json, human) {
      ctx.stdout.write(opts.json ? formatJson(json) : human());
    },
    idCommand(group, { name, description, what, argument = '<id>' }, act, human) {
      return group
        .command(name)
        .description(description)
        .argument(argument, what)
        .action(async (idText: string, _cmdOpts: unknown, cmd: Command) => {
          const { api, opts } = helpers.connect(cmd);
          const value = await act(api, parseId(idText, what));
          helpers.print(opts, value, () => human(value, idText));
        });
    },
    connected: (act) => connectedAction((cmd) => helpers.connect(cmd), act),
    deleteCommand(group, declaration, remove, noun) {
      return helpers.idCommand(group, declaration, async (api, id) => (await remove(api, id), { deleted: id }), ({ deleted }) => `Deleted ${noun} ${deleted}\n`);
    },
  };
  return helpers;
}

export function parseId(value: string, what = 'id'): number {
  if (!/^\d+$/.test(value) || Number(value) <= 0 || !Number.isSafeInteger(Number(value))) {
    throw new Error(`Invalid ${what} "${value}": expected a positive whole number`);
  }
  return Number(value);
}

function parseJsonObject(text: string, from: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`${from} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`${from} must be a JSON object`);
  return parsed as Record<string, unknown>;
}

/**
 * Declares `--data <json>` and `--data-file <file>` (not both) on `cmd`, read by readJsonDataOption
 * (or, with `yaml`, a file read as YAML unless it ends in .json). `what` names the data in the help.
 */
export function addDataOptions(cmd: Command, what: string, opts: { yaml?: boolean; note?: string } = {}): Command {
  return cmd
    .addOption(new Option('--data <json>', `${what}, a JSON object${opts.note ? ` (${opts.note})` : ''}`).conflicts('dataFile'))
    .option('--data-file <file>', opts.yaml ? `${what} from a file (.json: JSON, else YAML)` : `${what} from a JSON file`);
}

/** `--data` (a JSON object) or `--data-file` (a file holding one, relative to `cwd`); undefined when neither is given. */
export function readJsonDataOption(opts: { data?: string; dataFile?: string }, cwd: string): Record<string, unknown> | undefined {
  if (opts.data !== undefined && opts.dataFile !== undefined) throw new Error('Give --data or --data-file, not both');
  if (opts.data !== undefined) return parseJsonObject(opts.data, '--data');
  if (opts.dataFile === undefined) return undefined;
  return parseJsonObject(readDataFile(opts.dataFile, cwd), `--data-file ${opts.dataFile}`);
}

/** The text of the `--data-file` (relative to `cwd`). */
export function readDataFile(dataFile: string, cwd: string): string {
  try {
    return readFileSync(resolve(cwd, dataFile), 'utf8');
  } catch (err) {
    throw new Error(`Cannot read --data-file ${dataFile}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * Follows a listing's cursor in pages of at most 50 (the documented page size) until `limit`
 * items are collected or the listing ends; `more` says whether anything was left out.
 */
export async function collectPages<T>(
  limit: number,
  fetchPage: (pageLimit: number, cursor: string | undefined) => Promise<{ results: T[]; cursor: string | null }>,
): Promise<{ results: T[]; more: boolean }> {
  const results: T[] = [];
  let cursor: string | undefined;
  let more = false;
  for (;;) {
    const page = await fetchPage(Math.min(50, limit - results.length), cursor);
    const room = limit - results.length;
    results.push(...page.results.slice(0, room));
    more = page.results.length > room || Boolean(page.cursor);
    if (!page.cursor || results.length >= limit) break;
    cursor = page.cursor;
  }
  return { results, more };
}

/** Adds --limit N (default 50) and --all to a list command; `what` names one item in the help of --all. */
export function addLimitOptions(cmd: Command, what: string): Command {
  return cmd.option('--limit <n>', 'show at most this many', '50').option('--all', `show every matching ${what}`);
}

/** How many items a list command collects: all of them with --all, else --limit. */
export function listLimit(cmdOpts: { limit: string; all?: boolean }): number {
  return cmdOpts.all ? Number.POSITIVE_INFINITY : parseId(cmdOpts.limit, '--limit');
}

/** A collected list as text: `none` when it is empty, else the table, with a note when more were left out. */
export function listText(results: unknown[], more: boolean, none: string, table: () => string): string {
  if (results.length === 0) return none;
  const text = table();
  return more ? `${text}(more: raise --limit or use --all)\n` : text;
}
