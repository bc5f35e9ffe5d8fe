/**
 * build/help-cache.ts: which requests dist/cli.js may answer with a help text kept from an earlier run,
 * under which key, and that only a clean run (stdout only, exit 0) is kept.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../../build/compile';
import { helpCacheFile } from '../../build/help-cache';

jest.setTimeout(60_000);

let dir: string;
let bundle: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'conveyor-help-cache-'));
  bundle = join(dir, 'cli.bundle.js');
  writeFileSync(bundle, '');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const pipe = { isTTY: false };

describe('helpCacheFile', () => {
  it('takes `[COMMAND...] --help` only: not -h, not options or odd words before it, not --help elsewhere', () => {
    expect(helpCacheFile(bundle, ['--help'], {}, pipe)).toMatch(/help-cli\.bundle\.js-0-\d+-pipe-\(program\)\.txt$/);
    expect(helpCacheFile(bundle, ['artifact', 'create', '--help'], {}, pipe)).toMatch(/-pipe-artifact\+create\.txt$/);
    for (const argv of [[], ['-h'], ['worker', '-h'], ['help'], ['--help', 'worker'], ['worker', '--server', 'x', '--help'], ['../x', '--help'], ['Worker', '--help'], ['a', 'b', 'c', 'd', 'e', '--help']]) {
      expect({ argv, file: helpCacheFile(bundle, argv, {}, pipe) }).toEqual({ argv, file: undefined });
    }
  });

  it('keys on the output: a pipe, a terminal of each width, with or without colours; none with a colour switch set', () => {
    const files = new Set([
      helpCacheFile(bundle, ['--help'], {}, pipe),
      helpCacheFile(bundle, ['--help'], {}, { isTTY: true, columns: 80, hasColors: () => false }),
      helpCacheFile(bundle, ['--help'], {}, { isTTY: true, columns: 120, hasColors: () => false }),
      helpCacheFile(bundle, ['--help'], {}, { isTTY: true, columns: 120, hasColors: () => true }),
    ]);
    expect(files.size).toBe(4);
    for (const name of ['NO_COLOR', 'FORCE_COLOR', 'CLICOLOR_FORCE']) expect(helpCacheFile(bundle, ['--help'], { [name]: '' }, pipe)).toBeUndefined();
  });

  it('keys on the bundle: another size or modification time is another file; no bundle, no file', () => {
    const before = helpCacheFile(bundle, ['--help'], {}, pipe);
    const t = new Date(Date.now() - 60_000);
    utimesSync(bundle, t, t);
    expect(helpCacheFile(bundle, ['--help'], {}, pipe)).not.toBe(before);
    expect(helpCacheFile(join(dir, 'missing.js'), ['--help'], {}, pipe)).toBeUndefined();
  });
});

describe('a launcher with the help cache', () => {
  let launcherDir: string;
  beforeAll(async () => {
    // The launcher of build/compile.ts, for a stand-in bundle that prints and exits as its arguments say.
    launcherDir = mkdtempSync(join(tmpdir(), 'conveyor-help-launcher-'));
    writeFileSync(
      join(launcherDir, 'cli.bundle.js'),
      `const words = process.argv.slice(2, -1);
       if (words.includes('warns')) process.stderr.write('a warning\\n');
       process.stdout.write('help for ' + words.join(' ') + ' ' + Date.now() + '\\n');
       process.exit(words.includes('fails') ? 1 : 0);`,
    );
    const esbuild = await import('esbuild');
    await esbuild.build({
      bundle: true,
      platform: 'node',
      format: 'cjs',
      logLevel: 'error',
      stdin: { contents: `const bundle = require('node:path').join(__dirname, 'cli.bundle.js'); if (!require('./help-cache').replayOrKeepHelp(bundle)) require(bundle);`, resolveDir: join(REPO_ROOT, 'build'), loader: 'ts' },
      outfile: join(launcherDir, 'cli.js'),
    });
  });
  afterAll(() => rmSync(launcherDir, { recursive: true, force: true }));
  const run = (...args: string[]) => spawnSync(process.execPath, [join(launcherDir, 'cli.js'), ...args], { encoding: 'utf8' });
  const kept = () => (existsSync(join(launcherDir, '.v8-cache')) ? readdirSync(join(launcherDir, '.v8-cache')) : []);

  it('keeps a clean run and prints it again', () => {
    const first = run('ok', '--help');
    expect(first).toMatchObject({ status: 0, stderr: '' });
    expect(run('ok', '--help')).toMatchObject({ status: 0, stdout: first.stdout, stderr: '' });
    expect(kept().filter((f) => f.endsWith('-pipe-ok.txt'))).toHaveLength(1);
  });

  it('keeps nothing from a run that failed or wrote to stderr: each such request runs the bundle again', () => {
    for (const word of ['fails', 'warns']) {
      const first = run(word, '--help');
      const second = run(word, '--help');
      expect(second.stdout).not.toBe(first.stdout);
      expect(second.stderr).toBe(first.stderr);
      expect(kept().filter((f) => f.includes(word))).toEqual([]);
    }
  });
});
