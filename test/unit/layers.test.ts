/**
 * The import check `npm test` runs (dependency-cruiser with .dependency-cruiser.cjs): it passes on a
 * tree that follows the layers and fails, naming the rule, on an added cycle or a forbidden arrow.
 * The trees are small fixtures in a temporary directory, laid out like the repository.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';

const ROOT = resolve(__dirname, '../..');
const DEPCRUISE = join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');

/** A tree that keeps every rule: domain ← support ← lifecycle ← orchestration ← use case ← http ← function. */
const CLEAN: Record<string, string> = {
  'shared/domain/work-requests.ts': 'export const bump = (v: number) => v + 1;\n',
  'shared/ports/index.ts': "import type {} from '../domain/work-requests';\nexport interface Deps { now(): Date }\n",
  'shared/app/concurrency.ts': "import { bump } from '../domain/work-requests';\nexport const withRetries = () => bump(1);\n",
  'shared/app/lifecycle.ts': "import { withRetries } from './concurrency';\nexport const finish = () => withRetries();\n",
  'shared/app/workflow-orchestration.ts': "import { finish } from './lifecycle';\nexport const orchestrate = () => finish();\n",
  'shared/app/work-requests.ts': "import { finish } from './lifecycle';\nimport { orchestrate } from './workflow-orchestration';\nexport const abort = () => [finish(), orchestrate()];\n",
  'shared/adapters/memory.ts': "import type { Deps } from '../ports';\nexport const deps: Deps = { now: () => new Date() };\n",
  'shared/http/routes.ts': "import { abort } from '../app/work-requests';\nexport const routes = { abort };\n",
  'functions/api.ts': "import { deps } from '../shared/adapters/memory';\nimport { routes } from '../shared/http/routes';\nexport const handler = () => [deps, routes];\n",
  'cli/a.ts': "import { b } from './b';\nexport const a = () => b;\n",
  'cli/b.ts': 'export const b = 1;\n',
  'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'preserve', moduleResolution: 'bundler', strict: true } }),
};

async function check(changes: Record<string, string>): Promise<{ ok: boolean; output: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'conveyor-layers-'));
  try {
    for (const [path, text] of Object.entries({ ...CLEAN, ...changes })) {
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await writeFile(join(dir, path), text);
    }
    const run = promisify(execFile);
    try {
      const { stdout } = await run(process.execPath, [DEPCRUISE, 'shared', 'cli', 'functions', '--config', CONFIG, '--output-type', 'err'], { cwd: dir });
      return { ok: true, output: stdout };
    } catch (err) {
      const failed = err as { stdout?: string; stderr?: string };
      return { ok: false, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('the import check of npm test', () => {
  jest.setTimeout(120_000);

  it('passes a tree whose imports point one way', async () => {
    const result = await check({});
    expect(result.output).toContain('no dependency violations');
    expect(result.ok).toBe(true);
  });

  it('fails on an added cycle', async () => {
    const result = await check({ 'cli/b.ts': "import { a } from './a';\nexport const b = () => a;\n" });
    expect(result.ok).toBe(false);
    expect(result.output).toMatch(/no-circular: cli\/(a|b)\.ts/);
  });

  it('fails on a lower layer importing a higher one (lifecycle → orchestration), even without a cycle', async () => {
    const result = await check({
      'shared/app/lifecycle.ts': "import { withRetries } from './concurrency';\nimport type {} from './workflow-orchestration';\nexport const finish = () => withRetries();\n",
      'shared/app/workflow-orchestration.ts': 'export const orchestrate = () => 1;\n',
    });
    expect(result.ok).toBe(false);
    expect(result.output).toContain('layer-lifecycle: shared/app/lifecycle.ts → shared/app/workflow-orchestration.ts');
    expect(result.output).not.toContain('no-circular');
  });

  it('fails on a use case reaching an adapter, and on the domain reaching the app', async () => {
    const result = await check({
      'shared/app/work-requests.ts': "import { deps } from '../adapters/memory';\nexport const abort = () => deps;\n",
      'shared/domain/work-requests.ts': "import type {} from '../app/concurrency';\nexport const bump = (v: number) => v + 1;\n",
    });
    expect(result.ok).toBe(false);
    expect(result.output).toContain('app-uses-ports-not-adapters: shared/app/work-requests.ts → shared/adapters/memory.ts');
    expect(result.output).toContain('domain-is-pure: shared/domain/work-requests.ts → shared/app/concurrency.ts');
  });
});
