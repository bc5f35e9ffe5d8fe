/**
 * `conveyor admin worker ...`: list, show, enable and disable workers, set their static
 * metadata and concurrency, and create activation tokens (debusine-admin worker ...).
 * Registered by registerAdminCommands with its `run` wrapper.
 */
import type { Command } from 'commander';
import type { Worker } from '../../shared/domain/workers';
import type { Deps } from '../../shared/ports';
import type { WorkerView } from '../../shared/app/workers';

/**
 * The worker use cases, loaded when a command runs: they bring the scheduler, the task definitions
 * and zod, which registering the commands (and `conveyor --help`) does not need.
 */
const workerUseCases = (): typeof import('../../shared/app/workers') => require('../../shared/app/workers');
import { formatTable, yesNo } from '../client/format';

/** What registerAdminCommands' `run` hands each command body. */
export interface AdminRunEnvironment<O> {
  deps: Deps;
  actor: string;
  options: O;
  print: (json: unknown, human: () => string) => void;
}

export type AdminRun = <O extends object = object, A extends string[] = []>(
  body: (env: AdminRunEnvironment<O>, ...args: A) => Promise<void>,
) => (...actionArgs: unknown[]) => Promise<void>;

/** Declares `<group> list`: prints what `list` reads, as JSON (each item as `view` shows it) or as `table`. */
export function adminListCommand<T>(
  group: Command,
  run: AdminRun,
  description: string,
  list: (deps: Deps) => Promise<T[]>,
  table: (items: T[]) => string,
  view: (item: T) => unknown = (item) => item,
): Command {
  return group
    .command('list')
    .description(description)
    .action(run(async ({ deps, print }) => {
      const items = await list(deps);
      print(items.map(view), () => table(items));
    }));
}

/** What `--json` shows of a worker: never the token hash. */
export function publicWorkerView<W extends Worker>(worker: W): Omit<W, 'tokenHash' | 'version'> {
  const { tokenHash: _hash, version: _version, ...visible } = worker;
  return visible;
}

function shortTime(iso: string | undefined | null): string {
  return iso ? iso.replace(/\.\d{3}Z$/, 'Z') : '-';
}

export function workersTable(workers: WorkerView[]): string {
  if (workers.length === 0) return 'No workers.\n';
  return formatTable(
    ['NAME', 'TYPE', 'ENABLED', 'CONNECTED', 'CONCURRENCY', 'ASSIGNED', 'LAST SEEN', 'CURRENT WORK'],
    [...workers]
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((w) => [
        w.name,
        w.workerType,
        yesNo(w.enabled),
        yesNo(w.connected),
        String(w.concurrency),
        String(w.assigned),
        shortTime(w.lastSeenAt),
        w.currentWork.length ? w.currentWork.join(',') : '-',
      ]),
  );
}

export function describeWorker(w: WorkerView): string {
  const fields: [string, string][] = [
    ['type', w.workerType],
    ['enabled', yesNo(w.enabled)],
    ['connected', w.connected ? `yes (since ${shortTime(w.connectedAt)})` : 'no'],
    ['registered', shortTime(w.registeredAt)],
    ['last seen', shortTime(w.lastSeenAt)],
    ['concurrency', `${w.concurrency} (${w.assigned} assigned)`],
    ['current work', w.currentWork.length ? w.currentWork.join(', ') : '-'],
    ['static metadata', JSON.stringify(w.staticMetadata, null, 2)],
    ['dynamic metadata', `${JSON.stringify(w.dynamicMetadata, null, 2)}${w.dynamicMetadataUpdatedAt ? `\n(reported ${shortTime(w.dynamicMetadataUpdatedAt)})` : ''}`],
  ];
  const width = Math.max(...fields.map(([label]) => label.length)) + 2;
  const lines = [`Worker ${w.name}`];
  for (const [label, value] of fields) lines.push(`  ${label.padEnd(width)}${value.split('\n').join(`\n  ${' '.repeat(width)}`)}`);
  return lines.join('\n') + '\n';
}

function parseMetadata(text: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`The metadata is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('The metadata must be a JSON object');
  return parsed as Record<string, unknown>;
}

function parseConcurrency(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new Error(`Invalid concurrency "${text}": expected a positive whole number`);
  return Number(text);
}

export function registerAdminWorkerCommands(admin: Command, run: AdminRun): void {
  const worker = admin.command('worker').description('workers: list, enable, disable, metadata, concurrency, activation tokens');

  adminListCommand(worker, run, 'list workers', (deps) => workerUseCases().listWorkers(deps), workersTable, publicWorkerView);

  worker
    .command('show')
    .description('show a worker and its metadata')
    .argument('<name>', 'worker name')
    .action(
      run<object, [string]>(async ({ deps, print }, name) => {
        const shown = await workerUseCases().getWorker(deps, name);
        print(publicWorkerView(shown), () => describeWorker(shown));
      }),
    );

  worker
    .command('enable')
    .description('enable a worker (its token starts working)')
    .argument('<name>', 'worker name')
    .option('--fingerprint <hex>', 'the start of sha256 of the worker token, as shown on the machine (needed when a name is contested)')
    .action(
      run<{ fingerprint?: string }, [string]>(async ({ deps, actor, print, options }, name) => {
        const updated = await workerUseCases().enableWorker(deps, actor, name, options.fingerprint);
        print(publicWorkerView(updated), () => `Enabled worker ${updated.name}\n`);
      }),
    );

  worker
    .command('disable')
    .description('disable a worker (its token stops working; its pending and running work goes back to the queue)')
    .argument('<name>', 'worker name')
    .action(
      run<object, [string]>(async ({ deps, actor, print }, name) => {
        const updated = await workerUseCases().disableWorker(deps, actor, name);
        print(publicWorkerView(updated), () => `Disabled worker ${updated.name}\n`);
      }),
    );

  /** `worker <command> NAME VALUE`: one change to a worker, printed as the worker or as `done`. */
  const setting = (command: string, description: string, value: [string, string], change: (deps: Deps, actor: string, name: string, value: string) => Promise<Worker>, done: (w: Worker) => string) =>
    worker
      .command(command)
      .description(description)
      .argument('<name>', 'worker name')
      .argument(...value)
      .action(run<object, [string, string]>(async ({ deps, actor, print }, name, given) => {
        const updated = await change(deps, actor, name, given);
        print(publicWorkerView(updated), () => done(updated));
      }));
  setting(
    'set-static-metadata',
    "replace a worker's static metadata (it wins over what the worker reports), e.g. '{\"tasks_denylist\": [\"lintian\"]}'",
    ['<json>', 'a JSON object'],
    (deps, actor, name, json) => workerUseCases().setWorkerStaticMetadata(deps, actor, name, parseMetadata(json)),
    (updated) => `Set the static metadata of worker ${updated.name}\n`,
  );
  setting(
    'set-concurrency',
    'how many requests the scheduler gives the worker at once',
    ['<n>', 'a positive whole number'],
    (deps, actor, name, n) => workerUseCases().setWorkerConcurrency(deps, actor, name, parseConcurrency(n)),
    (updated) => `Worker ${updated.name} now runs up to ${updated.concurrency} request(s) at once\n`,
  );

  worker
    .command('activation-token')
    .description('create a short-lived activation token: a worker registering with it is enabled at once (prints the key once)')
    .action(
      run(async ({ deps, actor, print }) => {
        const { token, key } = await workerUseCases().createActivationToken(deps, actor);
        print({ id: token.id, expire_at: token.expireAt ?? null, key }, () =>
          [
            `Created activation token ${token.id}${token.expireAt ? ` (expires ${shortTime(token.expireAt)})` : ''}`,
            `Key: ${key}`,
            'Give it to the new worker: conveyor worker --activation-token KEY (or $CONVEYOR_ACTIVATION_TOKEN).',
            'Save the key now: only its hash is stored, so it cannot be shown again.',
            '',
          ].join('\n'),
        );
      }),
    );
}
