/** Notification channels: the use cases (validation, audit) and `conveyor admin notification-channel`. */
import { Command } from 'commander';
import { registerAdminCommands } from '../../cli/admin/commands';
import { createMemoryDeps, type MemoryDeps } from '../../shared/adapters/memory';
import { createChannel, listChannels } from '../../shared/app/channels';
import { ConflictError, ValidationError } from '../../shared/domain/errors';

let deps: MemoryDeps;
beforeEach(() => {
  deps = createMemoryDeps();
});

describe('createChannel / listChannels', () => {
  it('stores an e-mail channel and audits it', async () => {
    const { channel, replaced } = await createChannel(deps, 'admin-cli:root', {
      name: 'ops',
      to: ['ops@example.org', ' Lead <lead@example.org> '],
      cc: ['cc@example.org'],
      from: 'ci@example.org',
    });
    expect(replaced).toBe(false);
    expect(channel).toEqual({
      name: 'ops',
      method: 'email',
      data: { to: ['ops@example.org', 'Lead <lead@example.org>'], cc: ['cc@example.org'], from: 'ci@example.org' },
    });
    expect(await deps.channels.get('ops')).toEqual(channel);
    const audit = (await deps.audit.list({ limit: 10 })).items;
    expect(audit).toEqual([
      expect.objectContaining({ actor: 'admin-cli:root', action: 'notification-channel.create', details: { name: 'ops', method: 'email', data: channel.data } }),
    ]);
  });

  it('refuses to replace a channel unless asked, and audits the replacement with the previous data', async () => {
    await createChannel(deps, 'a', { name: 'ops', to: ['one@example.org'] });
    await expect(createChannel(deps, 'a', { name: 'ops', to: ['two@example.org'] })).rejects.toThrow(ConflictError);
    const { replaced } = await createChannel(deps, 'a', { name: 'ops', to: ['two@example.org'], replace: true });
    expect(replaced).toBe(true);
    expect((await deps.channels.get('ops'))!.data).toEqual({ to: ['two@example.org'] });
    expect((await deps.audit.list({ limit: 10 })).items[0]).toMatchObject({
      action: 'notification-channel.update',
      details: { previous: { to: ['one@example.org'] } },
    });
  });

  it.each([
    [{ name: '', to: ['a@example.org'] }, 'name'],
    [{ name: 'has space', to: ['a@example.org'] }, 'name'],
    [{ name: 'ok', to: [] }, 'to'],
    [{ name: 'ok', to: ['not-an-address'] }, 'to'],
    [{ name: 'ok', to: ['a@example.org\nBcc: x@example.org'] }, 'to'],
    [{ name: 'ok', to: ['a@example.org'], cc: ['nope'] }, 'cc'],
    [{ name: 'ok', to: ['a@example.org'], from: 'nobody' }, 'from'],
  ])('refuses %j (field %s) and writes nothing', async (input, field) => {
    const err = await createChannel(deps, 'a', input).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(Object.keys((err as ValidationError).fieldErrors)).toEqual([field]);
    expect(await deps.channels.list()).toEqual([]);
    expect((await deps.audit.list({ limit: 10 })).items).toEqual([]);
  });

  it('lists by name', async () => {
    await createChannel(deps, 'a', { name: 'qa', to: ['qa@example.org'] });
    await createChannel(deps, 'a', { name: 'ops', to: ['ops@example.org'] });
    expect((await listChannels(deps)).map((c) => c.name)).toEqual(['ops', 'qa']);
  });
});

describe('conveyor admin notification-channel', () => {
  let stdout: string;
  const admin = async (...args: string[]): Promise<string> => {
    stdout = '';
    const program = new Command().exitOverride().configureOutput({ writeErr: () => {} });
    registerAdminCommands(program, {
      stdout: { write: (s: string) => (stdout += s) },
      actor: () => 'admin-cli:tester',
      createDeps: async () => ({ deps, source: { kind: 'environment' } }),
    });
    await program.parseAsync(['admin', ...args], { from: 'user' });
    return stdout;
  };

  it('creates with repeated or comma-separated --to and --cc, and lists', async () => {
    expect(
      await admin('notification-channel', 'create', 'ops', '--to', 'a@example.org', '--to', 'b@example.org,c@example.org', '--cc', 'd@example.org', '--from', 'ci@example.org'),
    ).toBe('Created notification channel ops (to a@example.org, b@example.org, c@example.org)\n');
    expect(await deps.channels.get('ops')).toEqual({
      name: 'ops',
      method: 'email',
      data: { to: ['a@example.org', 'b@example.org', 'c@example.org'], cc: ['d@example.org'], from: 'ci@example.org' },
    });
    expect((await deps.audit.list({ limit: 1 })).items[0]).toMatchObject({ actor: 'admin-cli:tester', action: 'notification-channel.create' });

    await admin('notification-channel', 'create', 'qa', '--to', 'qa@example.org');
    const table = await admin('notification-channel', 'list');
    expect(table.split('\n')[0]).toMatch(/^NAME\s+METHOD\s+FROM\s+TO\s+CC$/);
    expect(table).toMatch(/\nops\s+email\s+ci@example\.org\s+a@example\.org, b@example\.org, c@example\.org\s+d@example\.org\n/);
    expect(table).toMatch(/\nqa\s+email\s+\(default\)\s+qa@example\.org\s+-\n/);
    expect(JSON.parse(await admin('--json', 'notification-channel', 'list')).map((c: { name: string }) => c.name)).toEqual(['ops', 'qa']);
  });

  it('needs --to, refuses an existing name without --replace, and says when it replaced', async () => {
    await expect(admin('notification-channel', 'create', 'ops')).rejects.toThrow(/--to/);
    await admin('notification-channel', 'create', 'ops', '--to', 'a@example.org');
    await expect(admin('notification-channel', 'create', 'ops', '--to', 'b@example.org')).rejects.toThrow(/exists/);
    expect(await admin('notification-channel', 'create', 'ops', '--to', 'b@example.org', '--replace')).toMatch(/^Replaced notification channel ops/);
    expect(await admin('notification-channel', 'list')).toContain('b@example.org');
  });

  it('says so when there is none', async () => {
    expect(await admin('notification-channel', 'list')).toBe('No notification channels.\n');
  });
});
