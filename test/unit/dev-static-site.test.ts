/** The local gateway serves the web UI's files for GETs no API route matches, and nothing outside web/. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, type Gateway } from '../../cli/dev/gateway';
import { findWebDir, staticFile, WEB_DIR } from '../../cli/dev/static-site';
import type { FunctionSpec } from '../../shared/manifest';

let dir: string;
let gateway: Gateway;
const api: FunctionSpec = {
  name: 'identity-api',
  entry: 'x.ts',
  description: 'test',
  timeoutSeconds: 5,
  memoryMb: 128,
  routes: ['GET /api/1.0/whoami/'],
  uses: { tables: {} },
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'conveyor-static-'));
  mkdirSync(join(dir, 'web'));
  writeFileSync(join(dir, 'web', 'index.html'), '<!doctype html><title>ui</title>');
  writeFileSync(join(dir, 'web', 'app.js'), 'export {};');
  writeFileSync(join(dir, 'secret.js'), 'outside');
  gateway = await startGateway({
    functions: [api],
    loadHandler: async () => async () => ({ statusCode: 200, headers: { 'content-type': 'application/json' }, body: '{"user":null}' }),
    port: 0,
    staticDir: join(dir, 'web'),
    log: () => undefined,
  });
});
afterAll(async () => {
  await gateway.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('web UI files on the local gateway', () => {
  it('serves / as index.html and the modules with their content types', async () => {
    const index = await fetch(`${gateway.url}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await index.text()).toContain('<title>ui</title>');
    const js = await fetch(`${gateway.url}/app.js`);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toBe('no-cache');
  });

  it('still routes the API, and answers 404 problems for unknown files, API paths and escapes', async () => {
    expect(await (await fetch(`${gateway.url}/api/1.0/whoami/`)).json()).toEqual({ user: null });
    for (const path of ['/missing.js', '/api/1.0/nothing/', '/%2e%2e/secret.js', '/..%2fsecret.js', '/index.html%00']) {
      const res = await fetch(`${gateway.url}${path}`);
      expect({ path, status: res.status, type: res.headers.get('content-type') }).toEqual({ path, status: 404, type: 'application/problem+json' });
    }
    await expect(staticFile(join(dir, 'web'), 'POST', '/')).resolves.toBeUndefined();
    await expect(staticFile(join(dir, 'web'), 'GET', '/../secret.js')).resolves.toBeUndefined();
    expect((await staticFile(join(dir, 'web'), 'HEAD', '/'))?.body.length).toBe(0);
  });
});

describe('the web folder', () => {
  it('is found from the sources (cli/dev) and from the compiled CLI (dist/) alike', () => {
    const root = join(__dirname, '..', '..');
    expect(findWebDir(join(root, 'cli', 'dev'))).toBe(join(root, 'web'));
    expect(findWebDir(join(root, 'dist'))).toBe(join(root, 'web'));
    expect(WEB_DIR).toBe(join(root, 'web'));
  });
});
