import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { normalizeServerUrl, resolveClientConfig, type ConfigEnvironment } from '../../cli/client/config';

describe('client configuration', () => {
  let root: string;
  let home: string;
  let cwd: string;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'conveyor-cli-config-'));
    home = join(root, 'home');
    cwd = join(root, 'project');
    mkdirSync(home, { recursive: true });
    mkdirSync(cwd, { recursive: true });
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const where = (env: NodeJS.ProcessEnv = {}): ConfigEnvironment => ({ env, homeDir: home, cwd });
  const writeUserConfig = (value: object): void => {
    mkdirSync(join(home, '.config', 'conveyor'), { recursive: true });
    writeFileSync(join(home, '.config', 'conveyor', 'config.json'), JSON.stringify(value));
  };
  const writeLocalStack = (value: object, dir = join(cwd, '.conveyor')): void => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'local.json'), JSON.stringify(value));
  };

  it('takes flags over environment over config file over local stack', () => {
    writeUserConfig({ server: 'https://file.example', token: 'file-token', scope: 'file-scope' });
    writeLocalStack({ url: 'http://127.0.0.1:8080', adminToken: 'local-token' });
    const env = { CONVEYOR_SERVER: 'https://env.example', CONVEYOR_TOKEN: 'env-token', CONVEYOR_SCOPE: 'env-scope' };

    expect(resolveClientConfig({ server: 'https://flag.example', token: 'flag-token', scope: 'flag-scope' }, where(env))).toMatchObject({
      server: 'https://flag.example',
      token: 'flag-token',
      scope: 'flag-scope',
      sources: { server: 'flag', token: 'flag', scope: 'flag' },
    });
    expect(resolveClientConfig({}, where(env))).toMatchObject({
      server: 'https://env.example',
      token: 'env-token',
      scope: 'env-scope',
      sources: { server: 'env', token: 'env', scope: 'env' },
    });
    expect(resolveClientConfig({}, where())).toMatchObject({
      server: 'https://file.example',
      token: 'file-token',
      scope: 'file-scope',
      sources: { server: 'config-file', token: 'config-file', scope: 'config-file' },
    });
  });

  it('falls back to the local stack file, honouring CONVEYOR_DATA_DIR', () => {
    const dataDir = join(root, 'elsewhere');
    writeLocalStack({ url: 'http://127.0.0.1:9999/', adminToken: 'a'.repeat(64) }, dataDir);
    expect(resolveClientConfig({}, where({ CONVEYOR_DATA_DIR: dataDir }))).toEqual({
      server: 'http://127.0.0.1:9999',
      token: 'a'.repeat(64),
      scope: undefined,
      sources: { server: 'local-stack', token: 'local-stack', scope: undefined },
    });
  });

  it('reads the config file named by CONVEYOR_CONFIG and fails if it is missing', () => {
    const file = join(root, 'custom.json');
    writeFileSync(file, JSON.stringify({ server: 'https://custom.example', token: 't' }));
    expect(resolveClientConfig({}, where({ CONVEYOR_CONFIG: file })).server).toBe('https://custom.example');
    expect(() => resolveClientConfig({}, where({ CONVEYOR_CONFIG: join(root, 'missing.json') }))).toThrow(/CONVEYOR_CONFIG.*does not exist/);
  });

  it('mixes sources per setting: a token from the file serves a server from the environment', () => {
    writeUserConfig({ token: 'file-token' });
    expect(resolveClientConfig({}, where({ CONVEYOR_SERVER: 'https://env.example' }))).toMatchObject({
      server: 'https://env.example',
      token: 'file-token',
    });
  });

  it('never sends a file token to a server other than the one that file names', () => {
    writeLocalStack({ url: 'http://127.0.0.1:8080', adminToken: 'local-admin-token' });
    const config = resolveClientConfig({ server: 'https://somewhere-else.example' }, where());
    expect(config.server).toBe('https://somewhere-else.example');
    expect(config.token).toBeUndefined();
    // The same server, spelt with the API suffix, still gets it.
    expect(resolveClientConfig({ server: 'http://127.0.0.1:8080/api/1.0/' }, where()).token).toBe('local-admin-token');
  });

  it('explains how to configure a server when none is known', () => {
    expect(() => resolveClientConfig({}, where())).toThrow(/No Conveyor server configured: pass --server URL, set CONVEYOR_SERVER/);
  });

  it('rejects a config file that is not a JSON object', () => {
    mkdirSync(join(home, '.config', 'conveyor'), { recursive: true });
    writeFileSync(join(home, '.config', 'conveyor', 'config.json'), '["nope"]');
    expect(() => resolveClientConfig({}, where())).toThrow(/must hold a JSON object/);
  });

  it('normalizes server URLs', () => {
    expect(normalizeServerUrl('https://x.example/')).toBe('https://x.example');
    expect(normalizeServerUrl('https://x.example/api/1.0/')).toBe('https://x.example');
    expect(normalizeServerUrl('https://x.example/prefix')).toBe('https://x.example/prefix');
  });
});
