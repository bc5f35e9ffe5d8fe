/** The accounts API (/api/1.0/user/…, /api/1.0/admin/…) and the CLI commands on top of it, in-process. */
import { Command } from 'commander';
import { registerAdminCommands } from '../../cli/admin/commands';
import { parseQuotaAmount } from '../../cli/admin/accounts';
import { quotaTable } from '../../cli/client/accounts';
import { applyAccountingEvents } from '../../shared/app/accounting';
import { accountsRoutes } from '../../shared/http/routes/accounts';
import { createWorld, httpClient, sha256 } from '../support/world';

async function setup() {
  const w = await createWorld();
  const http = httpClient(w.deps, accountsRoutes(() => w.deps));
  return { ...w, http };
}

describe('/api/1.0/user/ and /api/1.0/admin/', () => {
  it('request → grant → the key works; a second request answers 409 problem+json', async () => {
    const { http, keys } = await setup();
    const requested = await http('POST', '/api/1.0/user/token/', { token: keys['viewer'], body: { comment: 'laptop' } });
    expect(requested.status).toBe(201);
    expect(requested.json).toMatchObject({ status: 'requested', purpose: 'user', comment: 'laptop', user: 'viewer' });
    expect(requested.json.key).toBeUndefined();
    const again = await http('POST', '/api/1.0/user/token/', { token: keys['viewer'], body: {} });
    expect(again.status).toBe(409);
    expect(again.headers['content-type']).toBe('application/problem+json');
    expect((await http('POST', '/api/1.0/admin/token/grant/', { token: keys['viewer'], body: { token: requested.json.id } })).status).toBe(403);
    const granted = await http('POST', '/api/1.0/admin/token/grant/', { token: keys['admin'], body: { token: requested.json.id } });
    expect(granted.status).toBe(200);
    expect(granted.json.key).toMatch(/^[0-9a-f]{64}$/);
    expect((await http('GET', '/api/1.0/whoami/', { token: granted.json.key })).json.user).toBe('viewer');
    const listed = await http('GET', '/api/1.0/user/token/', { token: keys['viewer'] });
    expect(listed.json.results.map((t: { status: string }) => t.status)).toEqual(expect.arrayContaining(['active']));
    expect(JSON.stringify(listed.json)).not.toContain(granted.json.key);
    const revoked = await http('POST', `/api/1.0/admin/token/${requested.json.id}/revoke/`, { token: keys['admin'] });
    expect(revoked.json.status).toBe('revoked');
    // Debusine's answer to a token that is no longer usable: 403.
    expect((await http('GET', '/api/1.0/whoami/', { token: granted.json.key })).status).toBe(403);
  });

  it('bad input is a 400 naming the field, and changes nothing', async () => {
    const { http, keys, deps } = await setup();
    const before = deps.audit.entries.length;
    const bad = await http('PUT', '/api/1.0/admin/quota/', { token: keys['admin'], body: { user: 'viewer', resource: 'gpu', limit: 5 } });
    expect(bad.status).toBe(400);
    expect(Object.keys(bad.json.validation_errors)).toContain('resource');
    const negative = await http('PUT', '/api/1.0/admin/quota/', { token: keys['admin'], body: { user: 'viewer', resource: 'disk', limit: -1 } });
    expect(negative.status).toBe(400);
    const both = await http('PUT', '/api/1.0/admin/quota/', { token: keys['admin'], body: { user: 'viewer', workspace: 'priv', resource: 'disk', limit: 1 } });
    expect(both.status).toBe(400);
    expect(deps.audit.entries.length).toBe(before);
  });

  it('a disabled user gets 403 on every token; admins disable and enable over the API', async () => {
    const { http, keys } = await setup();
    expect((await http('POST', '/api/1.0/admin/user/contributor/disable/', { token: keys['admin'] })).json.disabled).toBe(true);
    const refused = await http('GET', '/api/1.0/whoami/', { token: keys['contributor'] });
    expect(refused.status).toBe(403);
    expect(refused.json.detail).toMatch(/disabled/);
    await http('POST', '/api/1.0/admin/user/contributor/enable/', { token: keys['admin'] });
    expect((await http('GET', '/api/1.0/whoami/', { token: keys['contributor'] })).status).toBe(200);
  });

  it('an artifact over the disk quota answers 403 problem+json naming resource, usage and limit', async () => {
    const { http, keys, deps } = await setup();
    await http('PUT', '/api/1.0/admin/quota/', { token: keys['admin'], body: { user: 'uploader', resource: 'disk', limit: 1024 * 1024 } });
    const content = Buffer.alloc(900 * 1024, 1);
    const first = await http('POST', '/api/1.0/artifact/', {
      token: keys['uploader'],
      body: { category: 'testing', workspace: 'priv', data: {}, files: { a: { type: 'file', size: content.length, checksums: { sha256: sha256(content) } } } },
    });
    expect(first.status).toBe(201);
    // Upload the bytes, then let the accounting consumer run.
    const up = await http('PUT', `/api/1.0/artifact/${first.json.id}/files/a`, { token: keys['uploader'], rawBody: content });
    expect([200, 201]).toContain(up.status);
    await applyAccountingEvents(deps, deps.accountingQueue.events);
    const quota = await http('GET', '/api/1.0/user/quota/', { token: keys['uploader'] });
    expect(quota.json.quota.disk).toEqual({ usage: { raw: 900 * 1024, human_readable: '900 KiB' }, limit: { raw: 1048576, human_readable: '1 MiB' }, health: 'warning' });
    const small = Buffer.alloc(200 * 1024, 2);
    const refused = await http('POST', '/api/1.0/artifact/', {
      token: keys['uploader'],
      body: { category: 'testing', workspace: 'priv', data: {}, files: { b: { type: 'file', size: small.length, checksums: { sha256: sha256(small) } } } },
    });
    expect(refused.status).toBe(403);
    expect(refused.headers['content-type']).toBe('application/problem+json');
    expect(refused.json).toMatchObject({
      title: 'Quota exceeded',
      resource: 'disk',
      usage: { raw: 921600, human_readable: '900 KiB' },
      limit: { raw: 1048576, human_readable: '1 MiB' },
      requested: { raw: 204800, human_readable: '200 KiB' },
    });
    expect(refused.json.detail).toMatch(/delete artifacts you no longer need, or ask an administrator/);
  });

  it('admins read and set quotas and trigger the recompute', async () => {
    const { http, keys } = await setup();
    const set = await http('PUT', '/api/1.0/admin/quota/', { token: keys['admin'], body: { workspace: 'priv', resource: 'cpu', limit: 3_723_000 } });
    expect(set.json).toEqual({ scope: 'debusine', workspace: 'priv', quota: { cpu: { usage: { raw: 0, human_readable: '0s' }, limit: { raw: 3723000, human_readable: '1h 2m 3s' }, health: 'healthy' }, disk: { usage: { raw: 0, human_readable: '0 Bytes' } } } });
    expect((await http('GET', '/api/1.0/admin/quota/?workspace=priv', { token: keys['admin'] })).json).toEqual(set.json);
    expect((await http('GET', '/api/1.0/admin/quota/?workspace=priv', { token: keys['owner'] })).status).toBe(403);
    expect((await http('POST', '/api/1.0/admin/quota/recompute/', { token: keys['admin'] })).json).toEqual({ sources: 0, corrected: [] });
    expect((await http('GET', '/api/1.0/admin/user/', { token: keys['admin'] })).json.results.length).toBeGreaterThan(3);
  });
});

describe('conveyor admin user/token/quota', () => {
  it('disables and enables users, grants tokens, sets, shows and recomputes quotas', async () => {
    const w = await createWorld();
    let stdout = '';
    const admin = async (...args: string[]) => {
      stdout = '';
      const program = new Command().exitOverride().configureOutput({ writeErr: () => {} });
      registerAdminCommands(program, { stdout: { write: (s: string) => (stdout += s) }, actor: () => 'admin-cli:tester', createDeps: async () => ({ deps: w.deps, source: { kind: 'environment' } }) });
      await program.parseAsync(['admin', ...args], { from: 'user' });
      return stdout;
    };
    expect(await admin('user', 'disable', 'viewer')).toBe('Disabled user viewer\n');
    await expect(w.caller('viewer')).rejects.toThrow(/disabled/);
    expect(await admin('user', 'enable', 'viewer')).toBe('Enabled user viewer\n');
    const granted = await admin('token', 'grant', '--user', 'outsider');
    expect(granted).toMatch(/Key: [0-9a-f]{64}/);
    await expect(admin('token', 'grant', '--user', 'outsider')).rejects.toThrow(/already has a user token/);
    expect(await admin('quota', 'set', 'disk', '1.5GiB', '--user', 'viewer')).toContain('1.5 GiB');
    const shown = JSON.parse(await admin('--json', 'quota', 'show', '--user', 'viewer'));
    expect(shown.quota.disk.limit).toEqual({ raw: 1610612736, human_readable: '1.5 GiB' });
    await expect(admin('quota', 'show')).rejects.toThrow(/exactly one of --user or --workspace/);
    expect(await admin('quota', 'recompute')).toMatch(/Recomputed usage from 0 source\(s\); 0 value\(s\) corrected/);
    expect(w.deps.audit.entries.map((e) => e.action)).toEqual(expect.arrayContaining(['user.disable', 'user.enable', 'grant_token', 'quota.set']));
  });

  it('parses limits with units and prints REANA-style tables', () => {
    expect(parseQuotaAmount('disk', '900KiB')).toBe(921600);
    expect(parseQuotaAmount('cpu', '2h')).toBe(7_200_000);
    expect(parseQuotaAmount('cpu', '1500')).toBe(1500);
    expect(() => parseQuotaAmount('disk', '5h')).toThrow(/Invalid unit/);
    expect(quotaTable({ user: 'a', quota: { cpu: { usage: { raw: 0, human_readable: '0s' } }, disk: { usage: { raw: 900, human_readable: '900 Bytes' }, limit: { raw: 1000, human_readable: '1000 Bytes' }, health: 'warning' } } })).toMatch(
      /disk\s+900 Bytes \(90%\)\s+1000 Bytes\s+warning/,
    );
  });
});
