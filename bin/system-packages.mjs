#!/usr/bin/env node
// The one place that declares the Debian packages Conveyor needs besides npm's, and checks them.
// `npm test`, `npm start`, `npm run bench` and `npm run reliability` run it first: a missing package
// is installed where that is possible (root or password-less sudo, with apt-get), otherwise it stops
// with one message naming the packages and the command that installs them. Plain JavaScript so it
// runs before anything is built.
import { spawnSync } from 'node:child_process';

/** For each purpose, the commands that must exist and the Debian package that provides each. */
export const SYSTEM_PACKAGES = {
  // DynamoDB Local (the local stack's database) is a Java 17 program.
  start: [{ command: 'java', pkg: 'openjdk-17-jre-headless', why: 'DynamoDB Local (the local stack)' }],
  test: [
    { command: 'java', pkg: 'openjdk-17-jre-headless', why: 'DynamoDB Local (integration and e2e tests)' },
    { command: 'lintian', pkg: 'lintian', why: 'the worker\'s lintian task (e2e tests)' },
    { command: 'dpkg-deb', pkg: 'dpkg', why: 'the worker\'s mkdeb task (e2e tests)' },
    { command: 'git', pkg: 'git', why: 'the worker\'s git-import task (e2e tests)' },
    { command: 'chromium', pkg: 'chromium', why: 'browser tests of the web UI' },
  ],
  bench: [
    { command: 'java', pkg: 'openjdk-17-jre-headless', why: 'DynamoDB Local (the benchmarks\' local stack)' },
    { command: 'chromium', pkg: 'chromium', why: 'the web UI section (time to interactive in a browser)' },
  ],
  reliability: [{ command: 'java', pkg: 'openjdk-17-jre-headless', why: 'DynamoDB Local (the reliability runs\' local stack)' }],
};

function has(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

function javaIsAtLeast17() {
  const run = spawnSync('java', ['-version'], { encoding: 'utf8' });
  return parseJavaMajor(`${run.stdout ?? ''}${run.stderr ?? ''}`);
}

function parseJavaMajor(text) {
  // `java -version` prints to stderr: openjdk version "17.0.15" (or "1.8.0_x" for Java 8).
  const match = /version "(\d+)(?:\.(\d+))?/.exec(text);
  if (!match) return false;
  const major = match[1] === '1' ? Number(match[2]) : Number(match[1]);
  return major >= 17;
}

export function missingPackages(purpose) {
  const wanted = SYSTEM_PACKAGES[purpose];
  if (!wanted) throw new Error(`unknown purpose ${purpose}; known: ${Object.keys(SYSTEM_PACKAGES).join(', ')}`);
  return wanted.filter(({ command }) => !has(command) || (command === 'java' && !javaIsAtLeast17()));
}

function installCommand(pkgs) {
  return `apt-get install -y --no-install-recommends ${pkgs.join(' ')}`;
}

function tryInstall(pkgs) {
  if (!has('apt-get')) return false;
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const sudo = !asRoot && has('sudo') && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0;
  if (!asRoot && !sudo) return false;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const run = (args) =>
    spawnSync(sudo ? 'sudo' : args[0], sudo ? ['-n', ...args] : args.slice(1), { stdio: 'inherit', env }).status === 0;
  console.error(`conveyor: installing system packages: ${pkgs.join(' ')}`);
  return run(['apt-get', 'update', '-qq']) && run(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', ...pkgs]);
}

/** How the README runs each purpose: `npm test` and `npm start` are npm's own; the others are `npm run`. */
function npmCommand(purpose) {
  return purpose === 'test' || purpose === 'start' ? `npm ${purpose}` : `npm run ${purpose}`;
}

function main() {
  const purpose = process.argv[2] ?? 'test';
  const missing = missingPackages(purpose);
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map((m) => m.pkg))];
  if (tryInstall(pkgs) && missingPackages(purpose).length === 0) return;
  const lines = missing.map((m) => `  ${m.command} (Debian package ${m.pkg}): ${m.why}`);
  console.error(
    `conveyor: \`${npmCommand(purpose)}\` needs these system packages, which are missing:\n${lines.join('\n')}\n` +
      `Install them with:\n  sudo ${installCommand(pkgs)}\n`,
  );
  process.exit(1);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
