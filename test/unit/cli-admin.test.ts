import { Command } from 'commander';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerAdminCommands } from '../../cli/admin/commands';
import { prepareAdminEnvironment } from '../../cli/admin/environment';
import { createMemoryDeps, type MemoryDeps } from '../../shared/adapters/memory';
import { hashTokenKey } from '../../shared/app/auth';

describe('conveyor admin commands (on in-memory deps)', () => {
  let deps: MemoryDeps;
  let stdout: string;

  beforeEach(() => {
    deps = createMemoryDeps();
    stdout = '';
  });

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

  it('initialises the database once', async () => {
    expect(await admin('db', 'init')).toBe('Created: scope debusine, workspace System, user admin\n');
    expect(await admin('db', 'init')).toBe('Already initialised: nothing to create.\n');
  });

  it('creates enabled tokens, shows the key once, and never lists keys or hashes', async () => {
    await admin('db', 'init');
    await admin('user', 'create', 'alice', '--email', 'alice@example.org');
    const created = await admin('token', 'create', 'alice', '--comment', 'ci', '--expire-at', '2030-01-01T00:00:00Z');
    const key = /Key: ([0-9a-f]{64})/.exec(created)?.[1];
    expect(key).toBeDefined();
    expect(created).toMatch(/^Created token \S+ for alice \(enabled, api, expires 2030-01-01T00:00:00Z\)\n/);
    expect(created).toContain('cannot be shown again');
    const stored = await deps.identity.getTokenByHash(hashTokenKey(key!));
    expect(stored).toMatchObject({ username: 'alice', status: 'active', enabled: true, comment: 'ci' });

    const listed = await admin('token', 'list', '--user', 'alice');
    expect(listed).toMatch(/^ID\s+USER\s+PURPOSE\s+STATUS\s+ENABLED\s+CREATED\s+EXPIRES\s+LAST SEEN\s+COMMENT\n/);
    expect(listed).toContain(stored!.id);
    expect(listed).not.toContain(key!);
    expect(listed).not.toContain(stored!.hash);
    const listedJson = await admin('--json', 'token', 'list');
    expect(listedJson).not.toContain(stored!.hash);
    expect(JSON.parse(listedJson)).toEqual([expect.not.objectContaining({ hash: expect.anything() })]);
  });

  it('creates disabled tokens on request and enables, disables and revokes them', async () => {
    await admin('db', 'init');
    const created = JSON.parse(await admin('token', 'create', 'admin', '--disabled', '--json')) as { id: string; key: string; status: string; enabled: boolean };
    expect(created).toMatchObject({ status: 'requested', enabled: false });
    expect(created.key).toMatch(/^[0-9a-f]{64}$/);
    expect(await admin('token', 'enable', created.id)).toBe(`Enabled token ${created.id}\n`);
    expect((await deps.identity.getTokenById(created.id))?.enabled).toBe(true);
    await admin('token', 'disable', created.id);
    expect((await deps.identity.getTokenById(created.id))?.enabled).toBe(false);
    await admin('token', 'revoke', created.id);
    expect((await deps.identity.getTokenById(created.id))?.status).toBe('revoked');
    await expect(admin('token', 'enable', created.id)).rejects.toThrow(/revoked/);
    await expect(admin('token', 'create', 'admin', '--expire-at', 'next tuesday')).rejects.toThrow(/Invalid --expire-at/);
  });

  it('manages workspaces and roles, and records who did it', async () => {
    await admin('db', 'init');
    await admin('user', 'create', 'bob');
    expect(await admin('workspace', 'create', 'team', '--public', '--default-expiration-delay', '86400')).toBe('Created public workspace debusine/team\n');
    expect(await admin('workspace', 'update', 'team', '--private')).toBe('Updated workspace debusine/team: private, default expiration 86400s\n');
    await expect(admin('workspace', 'update', 'team')).rejects.toThrow(/Nothing to change/);
    await expect(admin('workspace', 'update', 'team', '--public', '--private')).rejects.toThrow(/cannot be used with option '--private'/);
    const workspaces = await admin('workspace', 'list');
    expect(workspaces).toMatch(/debusine\s+team\s+no\s+86400s/);
    expect(workspaces).toMatch(/debusine\s+System\s+no\s+never/);

    expect(await admin('role', 'grant', 'team', 'bob', 'uploader')).toBe('bob is now uploader of debusine/team\n');
    await expect(admin('role', 'grant', 'team', 'bob', 'emperor')).rejects.toThrow(/Allowed choices are viewer, uploader, contributor, owner/);
    expect(await admin('role', 'list', 'team')).toMatch(/^USER\s+ROLE\s+GRANTED\nbob\s+uploader\s+2026-01-01T00:00:00Z\n$/);
    await admin('role', 'revoke', 'team', 'bob');
    expect(await admin('role', 'list', 'team')).toBe('No roles granted.\n');

    const audit = JSON.parse(await admin('audit', 'list', '--limit', '100', '--json')) as { results: { actor: string; action: string }[] };
    expect(audit.results.filter((e) => e.actor === 'admin-cli:tester').map((e) => e.action).sort()).toEqual(
      ['role.grant', 'role.revoke', 'user.create', 'workspace.create', 'workspace.update'].sort(),
    );
  });
});

describe('admin environment', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'conveyor-cli-admin-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('uses the shell environment when CONVEYOR_TABLE_MAIN is set', () => {
    const env: NodeJS.ProcessEnv = { CONVEYOR_TABLE_MAIN: 'prod-main' };
    expect(prepareAdminEnvironment(env, root)).toEqual({ kind: 'environment' });
    expect(env).toEqual({ CONVEYOR_TABLE_MAIN: 'prod-main' });
  });

  it("applies the local stack's env map otherwise, over the shell's values", () => {
    mkdirSync(join(root, '.conveyor'));
    const path = join(root, '.conveyor', 'local.json');
    writeFileSync(path, JSON.stringify({ url: 'http://127.0.0.1:8080', adminToken: 'x', env: { CONVEYOR_TABLE_MAIN: 'local-main', AWS_REGION: 'us-east-1' } }));
    const env: NodeJS.ProcessEnv = { AWS_REGION: 'eu-west-1' };
    expect(prepareAdminEnvironment(env, root)).toEqual({ kind: 'local-stack', path });
    expect(env).toMatchObject({ CONVEYOR_TABLE_MAIN: 'local-main', AWS_REGION: 'us-east-1' });
  });

  it('explains what to set when there is neither', () => {
    expect(() => prepareAdminEnvironment({ CONVEYOR_DATA_DIR: join(root, 'none') }, root)).toThrow(
      /Set CONVEYOR_TABLE_MAIN, CONVEYOR_TABLE_AUDIT, CONVEYOR_BUCKET, CONVEYOR_QUEUE_FILE_VERIFICATION_URL, CONVEYOR_QUEUE_SCHEDULER_URL, .* from the CDK stack outputs, or start the local stack with `conveyor dev`/,
    );
  });
});
