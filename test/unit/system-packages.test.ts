/**
 * bin/system-packages.mjs: the one declaration of the Debian packages the project needs. Run with a
 * PATH that holds only what each case provides, so the check sees exactly those commands (and no
 * apt-get, so it cannot try to install anything).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const SCRIPT = resolve(__dirname, '../../bin/system-packages.mjs');

function pathWith(commands: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'conveyor-syspkg-'));
  symlinkSync('/bin/sh', join(dir, 'sh'));
  for (const [name, script] of Object.entries(commands)) {
    writeFileSync(join(dir, name), `#!/bin/sh\n${script}\n`);
    chmodSync(join(dir, name), 0o755);
  }
  return dir;
}

function check(purpose: string, dir: string) {
  return spawnSync(process.execPath, [SCRIPT, purpose], { env: { PATH: dir }, encoding: 'utf8' });
}

const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

test('missing packages stop the run with one message naming each package and the install command', () => {
  const dir = pathWith({});
  dirs.push(dir);
  const run = check('test', dir);
  expect(run.status).toBe(1);
  for (const pkg of ['openjdk-17-jre-headless', 'lintian', 'git', 'chromium']) expect(run.stderr).toContain(pkg);
  expect(run.stderr).toContain('apt-get install -y --no-install-recommends openjdk-17-jre-headless lintian');
});

test('a Java older than 17 counts as missing', () => {
  const dir = pathWith({ java: 'echo \'java version "1.8.0_402"\' >&2' });
  dirs.push(dir);
  const run = check('start', dir);
  expect(run.status).toBe(1);
  expect(run.stderr).toContain('openjdk-17-jre-headless');
});

test('everything present passes silently', () => {
  const ok = 'exit 0';
  const dir = pathWith({
    java: 'echo \'openjdk version "17.0.15" 2025-04-15\' >&2',
    lintian: ok,
    'dpkg-deb': ok,
    git: ok,
    chromium: ok,
  });
  dirs.push(dir);
  const run = check('test', dir);
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
});

test('the benchmarks need Java and Chromium (their web UI section), and say how they are run', () => {
  const dir = pathWith({ java: 'echo \'openjdk version "17.0.15" 2025-04-15\' >&2' });
  dirs.push(dir);
  const run = check('bench', dir);
  expect(run.status).toBe(1);
  expect(run.stderr).toContain('`npm run bench` needs');
  expect(run.stderr).toContain('chromium (Debian package chromium)');
  expect(run.stderr).not.toContain('openjdk');
  expect(check('reliability', dir).status).toBe(0);
});
