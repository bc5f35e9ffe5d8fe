/**
 * What `dist/cli.js` and `dist/task-registry.js` are: a few lines that run or load the real bundle beside
 * them (`cli.bundle.js`, `task-registry.bundle.js`) with V8's code cache, so that a start does not parse
 * and compile the whole bundle again (for `conveyor --help` that was about a third of its time).
 *
 * Node 22.1 has `module.enableCompileCache()`; Node 20, which Conveyor supports, does not, so this does
 * the same by hand: the bundle is compiled as a `vm.Script` with the cached data of an earlier run, and
 * after a run without usable cached data (the first, or after a Node upgrade) the data is written back.
 * The cache file is named after the bundle's size and modification time and the Node version, since V8
 * itself only checks the source's length; it is written to a temporary file and renamed, so processes
 * starting at once (a worker's task processes) never read half a file. Where the directory is not
 * writable, every start simply compiles, as plain `node bundle.js` would.
 */
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';

interface InternalModule {
  _nodeModulePaths(from: string): string[];
  _cache: Record<string, NodeModule>;
  wrap(source: string): string;
}

/** Runs `bundle` as the main module of this process, with a V8 code cache kept in `<dir of bundle>/.v8-cache/`. */
export function runWithCodeCache(bundle: string): void {
  loadWithCodeCache(bundle, true);
}

/**
 * Loads `bundle` as a CommonJS module (the main module when `asMain`), compiled from the V8 code cache
 * when there is a usable one, and returns its exports.
 */
export function loadWithCodeCache(bundle: string, asMain = false): unknown {
  const source = readFileSync(bundle, 'utf8');
  const { size, mtimeMs } = statSync(bundle);
  const cacheDir = join(dirname(bundle), '.v8-cache');
  const cacheFile = join(cacheDir, `${bundle.replace(/^.*[\\/]/, '')}-${size}-${Math.round(mtimeMs)}-${process.version}-${process.arch}.bin`);
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  const internal = Module as unknown as InternalModule;
  const script = new Script(internal.wrap(source), { filename: bundle, ...(cachedData ? { cachedData } : {}) });
  if (!cachedData || script.cachedDataRejected) {
    // After the run, when the functions it used are compiled too (and so in the cache).
    process.once('exit', () => writeCache(cacheDir, cacheFile, script));
  }
  const mod = new Module(bundle, module) as NodeModule & { paths: string[]; filename: string };
  mod.filename = bundle;
  mod.paths = internal._nodeModulePaths(dirname(bundle));
  internal._cache[bundle] = mod;
  const requireFromBundle = Module.createRequire(bundle);
  // A main bundle starts its program under `require.main === module`, as when node runs it directly.
  if (asMain) requireFromBundle.main = mod;
  const wrapper = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: NodeModule, filename: string, dirname: string) => void;
  wrapper.call(mod.exports, mod.exports, requireFromBundle, mod, bundle, dirname(bundle));
  mod.loaded = true;
  return mod.exports;
}

function writeCache(cacheDir: string, cacheFile: string, script: Script): void {
  try {
    mkdirSync(cacheDir, { recursive: true });
    const partial = `${cacheFile}.${process.pid}.tmp`;
    writeFileSync(partial, script.createCachedData());
    renameSync(partial, cacheFile);
  } catch {
    // A read-only install: no cache, every start compiles.
  }
}
