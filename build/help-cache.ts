/**
 * `conveyor [COMMAND...] --help` without loading the CLI bundle, from the second time on.
 *
 * A help text is a pure function of the bundle (the commands it registers), the words before
 * `--help` and how commander formats for this output (terminal width, colours). So dist/cli.js
 * keeps what the bundle printed for such a request in `.v8-cache/` beside the bundle, keyed by all
 * of these, and prints it again for the same request: a few KB read instead of the 1 MB bundle read,
 * compiled and every command registered (issue 12: `conveyor --help` ≤ 200 ms).
 *
 * Kept only when the run printed to stdout alone and exited 0. `-h` is not taken: a command may use
 * it for an option of its own. Not taken either where a colour switch is set in the environment
 * (commander reads NO_COLOR, FORCE_COLOR and CLICOLOR_FORCE). A rebuilt bundle has another size or
 * modification time, so an old text is never shown for it. Where the directory is not writable,
 * every request simply runs the bundle.
 */
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Words before `--help` that can name commands (anything else runs the bundle). */
const COMMAND_WORD = /^[a-z][a-z0-9-]{0,40}$/;
const MAX_WORDS = 4;

/** The cache file for this help request, or undefined when it is not one the cache may answer. */
export function helpCacheFile(bundle: string, argv: readonly string[], env: NodeJS.ProcessEnv, stdout: { isTTY?: boolean; columns?: number; hasColors?: () => boolean }): string | undefined {
  if (argv[argv.length - 1] !== '--help') return undefined;
  const words = argv.slice(0, -1);
  if (words.length > MAX_WORDS || !words.every((w) => COMMAND_WORD.test(w))) return undefined;
  if (env['NO_COLOR'] !== undefined || env['FORCE_COLOR'] !== undefined || env['CLICOLOR_FORCE'] !== undefined) return undefined;
  let identity: string;
  try {
    const { size, mtimeMs } = statSync(bundle);
    identity = `${size}-${Math.round(mtimeMs)}`;
  } catch {
    return undefined;
  }
  const output = stdout.isTTY ? `tty${stdout.columns ?? 0}${stdout.hasColors?.() ? 'c' : ''}` : 'pipe';
  return join(dirname(bundle), '.v8-cache', `help-${bundle.replace(/^.*[\\/]/, '')}-${identity}-${output}-${words.join('+') || '(program)'}.txt`);
}

/**
 * Prints the kept help text for this request and answers true; otherwise answers false, and when the
 * request is a help request, keeps what the bundle (run next by the caller) prints for it.
 */
export function replayOrKeepHelp(bundle: string): boolean {
  const file = helpCacheFile(bundle, process.argv.slice(2), process.env, process.stdout);
  if (!file) return false;
  let kept: string | undefined;
  try {
    kept = readFileSync(file, 'utf8');
  } catch {
    kept = undefined;
  }
  if (kept !== undefined) {
    process.stdout.write(kept);
    process.exitCode = 0;
    return true;
  }
  keepWhatIsPrinted(file);
  return false;
}

function keepWhatIsPrinted(file: string): void {
  const printed: string[] = [];
  let clean = true;
  const stdoutWrite = process.stdout.write.bind(process.stdout) as (...args: unknown[]) => boolean;
  const stderrWrite = process.stderr.write.bind(process.stderr) as (...args: unknown[]) => boolean;
  process.stdout.write = ((chunk: unknown, ...rest: unknown[]) => {
    if (typeof chunk === 'string') printed.push(chunk);
    else clean = false;
    return stdoutWrite(chunk, ...rest);
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: unknown, ...rest: unknown[]) => {
    clean = false;
    return stderrWrite(chunk, ...rest);
  }) as typeof process.stderr.write;
  process.once('exit', (code) => {
    if (!clean || code !== 0 || printed.length === 0) return;
    try {
      mkdirSync(dirname(file), { recursive: true });
      const partial = `${file}.${process.pid}.tmp`;
      writeFileSync(partial, printed.join(''));
      renameSync(partial, file);
    } catch {
      // A read-only install: every help request runs the bundle.
    }
  });
}
