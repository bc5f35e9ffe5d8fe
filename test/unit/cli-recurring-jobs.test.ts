/**
 * `conveyor recurring-job ...` and `conveyor admin worker online|offline|quiesce` end to end in-process:
 * the CLI's fetch goes to the real HTTP handler over memory adapters.
 */
import { Command } from 'commander';
import { registerRecurringJobCommands } from '../../cli/client/recurring-jobs';
import { registerAdminMachineCommands } from '../../cli/admin/machines';
import { DEFAULT_UPLOAD_TUNING } from '../../cli/client/upload';
import { recurringJobRoutes } from '../../shared/http/routes/recurring-jobs';
import { createSchedulingWorld, type SchedulingWorld } from '../support/scheduling';
import { httpClient } from '../support/world';

let world: SchedulingWorld;
let stdout: string;

async function cli(user: string, ...args: string[]): Promise<string> {
  stdout = '';
  const http = httpClient(world.deps, recurringJobRoutes(() => world.deps));
  const program = new Command().exitOverride().configureOutput({ writeErr: () => {} });
  registerRecurringJobCommands(program, {
    env: { CONVEYOR_SERVER: 'https://c.example', CONVEYOR_TOKEN: world.keys[user]! },
    cwd: () => '/',
    homeDir: '/nonexistent',
    stdout: { write: (chunk: string) => (stdout += chunk) },
    stderr: { write: () => true },
    fetch: async (input, init) => {
      const url = new URL(String(input));
      const headers = Object.fromEntries(new Headers(init?.headers as ConstructorParameters<typeof Headers>[0]).entries());
      const res = await http(init?.method ?? 'GET', url.pathname + url.search, { token: headers['token'], headers, ...(typeof init?.body === 'string' ? { body: init.body } : {}) });
      return new Response(res.json === undefined ? null : JSON.stringify(res.json), { status: res.status, headers: res.headers });
    },
    uploadTuning: DEFAULT_UPLOAD_TUNING,
  });
  await program.parseAsync(args, { from: 'user' });
  return stdout;
}

beforeEach(async () => {
  world = await createSchedulingWorld();
});

test('create, list, show, request, suspend, results and events', async () => {
  expect(await cli('owner', 'recurring-job', 'create', '--workspace', 'priv', '--kind', 'git-import', '--url', 'file:///srv/r.git', '--interval', '3600')).toMatch(/^Created recurring job 1 \(REVIEWED\), next due /);
  expect(await cli('viewer', 'recurring-job', 'list', '--workspace', 'priv')).toMatch(/1\s+git-import\s+file:\/\/\/srv\/r.git\s+REVIEWED/);
  expect(await cli('contributor', 'recurring-job', 'request', '1')).toMatch(/requested by user:contributor/);
  await expect(cli('contributor', 'recurring-job', 'request', '1')).rejects.toThrow(/CodeImportAlreadyRequested/);
  expect(await cli('owner', 'recurring-job', 'suspend', '1')).toMatch(/review status\s+SUSPENDED/);
  await expect(cli('owner', 'recurring-job', 'try-again', '1')).rejects.toThrow(/CodeImportNotFailing/);
  expect(await cli('viewer', 'recurring-job', 'results', '1')).toBe('No results yet.\n');
  const events = JSON.parse(await cli('viewer', 'recurring-job', 'events', '1', '--json'));
  expect(events.map((e: { type: string }) => e.type)).toEqual(['CREATE', 'REQUEST', 'MODIFY']);
  expect(JSON.parse(await cli('viewer', 'recurring-job', 'show', '1', '--json'))).toMatchObject({ id: 1, review_status: 'SUSPENDED', next_due: null });
});

test('admin worker quiesce / offline / online change the machine state', async () => {
  const worker = await world.addWorker('bee.lan');
  const run = async (...args: string[]) => {
    let out = '';
    const admin = new Command().exitOverride();
    registerAdminMachineCommands(admin, (body) => async (...actionArgs: unknown[]) => {
      const options = actionArgs[actionArgs.length - 2] as never;
      await body({ deps: world.deps, actor: 'cli:test', options, print: (_json, human) => (out += human()) }, ...(actionArgs.slice(0, -2) as never));
    });
    await admin.parseAsync(args, { from: 'user' });
    return out;
  };
  expect(await run('quiesce', worker.name, '--message', 'upgrade')).toBe(`Worker ${worker.name} is OFFLINE (QUIESCED)\n`);
  expect(await run('online', worker.name)).toBe(`Worker ${worker.name} is ONLINE\n`);
  expect(await run('offline', worker.name)).toBe(`Worker ${worker.name} is OFFLINE (STOPPED)\n`);
  await expect(run('quiesce', worker.name)).rejects.toThrow(/only an ONLINE machine/);
});
