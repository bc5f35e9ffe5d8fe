/** `conveyor admin worker ...` on in-memory deps. */
import { Command } from 'commander';
import { registerAdminCommands } from '../../cli/admin/commands';
import { createMemoryDeps, type MemoryDeps } from '../../shared/adapters/memory';
import { hashTokenKey } from '../../shared/app/auth';
import { initDatabase } from '../../shared/app/bootstrap';
import { registerWorker } from '../../shared/app/workers';

describe('conveyor admin worker', () => {
  let deps: MemoryDeps;

  beforeEach(async () => {
    deps = createMemoryDeps();
    await initDatabase(deps);
  });

  const admin = async (...args: string[]): Promise<string> => {
    let stdout = '';
    const program = new Command().exitOverride().configureOutput({ writeErr: () => {} });
    registerAdminCommands(program, {
      stdout: { write: (s: string) => (stdout += s) },
      actor: () => 'admin-cli:tester',
      createDeps: async () => ({ deps, source: { kind: 'environment' } }),
    });
    await program.parseAsync(['admin', ...args], { from: 'user' });
    return stdout;
  };

  const KEY = 'd'.repeat(64);

  it('lists, shows, enables and disables workers, never showing the token hash', async () => {
    expect(await admin('worker', 'list')).toBe('No workers.\n');
    const registered = await registerWorker(deps, { tokenKey: KEY, fqdn: 'builder.example.org' });
    expect(registered.enabled).toBe(false);

    const listed = await admin('worker', 'list');
    expect(listed).toMatch(/^NAME\s+TYPE\s+ENABLED\s+CONNECTED\s+CONCURRENCY\s+ASSIGNED\s+LAST SEEN\s+CURRENT WORK\n/);
    expect(listed).toMatch(/builder-example-org\s+external\s+no\s+no\s+1\s+0\s+-\s+-/);
    const json = await admin('--json', 'worker', 'list');
    expect(json).not.toContain(registered.tokenHash);
    expect(JSON.parse(json)).toEqual([expect.objectContaining({ name: 'builder-example-org', enabled: false, currentWork: [] })]);

    expect(await admin('worker', 'enable', 'builder-example-org')).toBe('Enabled worker builder-example-org\n');
    expect((await deps.identity.getTokenByHash(hashTokenKey(KEY)))?.enabled).toBe(true);
    const shown = await admin('worker', 'show', 'builder-example-org');
    expect(shown).toContain('Worker builder-example-org\n');
    expect(shown).toMatch(/enabled\s+yes/);
    expect(await admin('worker', 'disable', 'builder-example-org')).toBe('Disabled worker builder-example-org\n');
    expect((await deps.identity.getTokenByHash(hashTokenKey(KEY)))?.enabled).toBe(false);
    await expect(admin('worker', 'enable', 'nobody')).rejects.toThrow(/no worker "nobody"/);
  });

  it('sets static metadata and concurrency', async () => {
    await registerWorker(deps, { tokenKey: KEY, fqdn: 'w1' });
    expect(await admin('worker', 'set-static-metadata', 'w1', '{"tasks_denylist": ["lintian"]}')).toBe('Set the static metadata of worker w1\n');
    expect((await deps.workers.get('w1'))?.staticMetadata).toEqual({ tasks_denylist: ['lintian'] });
    expect(await admin('worker', 'show', 'w1')).toContain('"tasks_denylist"');
    await expect(admin('worker', 'set-static-metadata', 'w1', '[]')).rejects.toThrow('The metadata must be a JSON object');
    await expect(admin('worker', 'set-static-metadata', 'w1', '{')).rejects.toThrow('The metadata is not valid JSON');

    expect(await admin('worker', 'set-concurrency', 'w1', '4')).toBe('Worker w1 now runs up to 4 request(s) at once\n');
    expect((await deps.workers.get('w1'))?.concurrency).toBe(4);
    await expect(admin('worker', 'set-concurrency', 'w1', '0')).rejects.toThrow('Invalid concurrency "0"');
  });

  it('creates an activation token that registers a worker enabled', async () => {
    const out = await admin('worker', 'activation-token');
    const key = /Key: ([0-9a-f]{64})/.exec(out)?.[1];
    expect(key).toBeDefined();
    expect(out).toMatch(/^Created activation token \S+ \(expires /);
    const worker = await registerWorker(deps, { tokenKey: KEY, fqdn: 'pool-1' }, key);
    expect(worker.enabled).toBe(true);
    const json = JSON.parse(await admin('--json', 'worker', 'activation-token')) as { key: string; expire_at: string };
    expect(json.key).toMatch(/^[0-9a-f]{64}$/);
    expect(Date.parse(json.expire_at) - deps.clock.now().getTime()).toBe(15 * 60 * 1000);
  });
});
