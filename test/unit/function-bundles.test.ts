/**
 * Every Lambda function's bundle, made as the CDK stack makes it (LAMBDA_BUNDLE_OPTIONS: minified
 * CommonJS for Node.js 22, the AWS SDK left to the runtime), stays within its size budget; and each
 * function is wired (awsDeps in functions/*.ts) with every port its code uses, so that bundling only
 * the wired adapters (docs/decisions.md, "Per-function adapters") cannot leave a port out.
 *
 * All functions are bundled in one esbuild call (shared modules parsed once), twice: as deployed,
 * and a probe build with the wiring module replaced by an empty one and npm packages left out, whose
 * output holds only Conveyor's own code. Minification keeps property names, so a port the code
 * uses appears there as `deps.workRequests` (`e.workRequests`) or `"workRequests" in e` (Deps are
 * never destructured). The check errs on the safe side: any `.files` (an artifact's files too)
 * counts as a use of the files port.
 */
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { BuildOptions, Metafile, OutputFile } from 'esbuild';
import { LAMBDA_BUNDLE_OPTIONS, REPO_ROOT } from '../../build/compile';
import { AWS_PORTS, type AwsPort } from '../../shared/adapters/aws-adapters';
import { FUNCTIONS } from '../../shared/manifest';

/**
 * Bytes (the issue's "≤ 300 KB each"), for every function, with no exception: work-requests-api came back
 * under it (302,006 → 293,988 bytes) once quota enforcement read through the QuotaReader port instead of
 * bundling the whole accounts repository, and again (300,212 → 289,175) once the recurring-run hooks were
 * queued to recurring-release and the machine-event append got a port of its own (docs/decisions.md,
 * "Per-function adapters and the bundle size budget").
 */
const BUNDLE_BUDGET = 300_000;
const WIRING_MODULE = /shared[\\/]adapters[\\/]aws-[a-z-]+\.ts$/;

jest.setTimeout(180_000);

interface Built {
  bytes: Map<string, number>;
  texts: Map<string, string>;
  metafile: Metafile;
}

async function bundleAll(extra: BuildOptions = {}): Promise<Built> {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    ...LAMBDA_BUNDLE_OPTIONS,
    ...extra,
    entryPoints: Object.fromEntries(FUNCTIONS.map((f) => [f.name, join(REPO_ROOT, f.entry)])),
    outdir: join(REPO_ROOT, '.bundle-test-out'),
    write: false,
    metafile: true,
    logLevel: 'error',
  });
  const byName = new Map<string, OutputFile>(result.outputFiles.filter((o) => o.path.endsWith('.js')).map((o) => [o.path.replace(/^.*[\\/]/, '').replace(/\.js$/, ''), o]));
  return {
    bytes: new Map([...byName].map(([name, o]) => [name, o.contents.length])),
    texts: new Map([...byName].map(([name, o]) => [name, o.text])),
    metafile: result.metafile,
  };
}

/** The ports a function's own code uses, from its probe bundle. */
function portsUsed(text: string): AwsPort[] {
  return AWS_PORTS.filter((port) => new RegExp(`${PORT_USE_PATTERN[port] ?? `\\.${port}\\b`}|"${port}"in\\b`).test(text));
}

/**
 * Ports whose name is also a common property: `schema` is every task and workflow definition's zod
 * schema (`def.schema.parse(…)`), so only a call of the schema store's own methods counts as a use.
 */
const PORT_USE_PATTERN: Partial<Record<AwsPort, string>> = {
  schema: '\\.schema\\.(?:current|move|history|moveWorkRequestListing)\\(',
};

/** The ports a function is wired with: the keys of its `awsDeps({ ... })`. */
function portsWired(entry: string): AwsPort[] | undefined {
  const source = readFileSync(join(REPO_ROOT, entry), 'utf8');
  const call = /awsDeps\(\{([^}]*)\}/.exec(source);
  if (!call) return undefined;
  return call[1]!
    .split(',')
    .map((part) => part.split(':')[0]!.trim())
    .filter((name): name is AwsPort => name !== '');
}

/** The biggest inputs of one function's bundle, for the failure message. */
function biggestInputs(metafile: Metafile, name: string): string {
  const output = Object.entries(metafile.outputs).find(([path]) => path.endsWith(`${name}.js`))?.[1];
  if (!output) return '';
  return Object.entries(output.inputs)
    .sort((a, b) => b[1].bytesInOutput - a[1].bytesInOutput)
    .slice(0, 12)
    .map(([path, input]) => `  ${String(input.bytesInOutput).padStart(7)} ${relative(REPO_ROOT, join(REPO_ROOT, path))}`)
    .join('\n');
}

let deployed: Built;
let probe: Built;

beforeAll(async () => {
  deployed = await bundleAll();
  probe = await bundleAll({
    packages: 'external',
    plugins: [
      {
        name: 'no-wiring',
        setup(build) {
          // Same export names, no adapters: what is left is the functions' own code.
          build.onLoad({ filter: WIRING_MODULE }, (args) => {
            const names = [...readFileSync(args.path, 'utf8').matchAll(/^export (?:const|function|async function) (\w+)/gm)].map((m) => m[1]);
            return { contents: names.map((n) => `export const ${n} = (() => () => ({})) as any;`).join('\n'), loader: 'ts' };
          });
        },
      },
    ],
  });
});

describe.each(FUNCTIONS.map((f) => [f.name, f.entry] as const))('%s', (name, entry) => {
  it(`bundles to at most ${BUNDLE_BUDGET} bytes`, () => {
    const bytes = deployed.bytes.get(name);
    expect(bytes).toBeDefined();
    if (bytes! > BUNDLE_BUDGET) throw new Error(`${name}: ${bytes} bytes > ${BUNDLE_BUDGET}; biggest inputs:\n${biggestInputs(deployed.metafile, name)}`);
  });

  it('is wired with every port its code uses, through awsDeps', () => {
    const wired = portsWired(entry);
    if (!wired) throw new Error(`${entry} builds its deps without awsDeps({ ...ports }): it would bundle every adapter`);
    const unknown = wired.filter((p) => !AWS_PORTS.includes(p));
    expect(unknown).toEqual([]);
    const missing = portsUsed(probe.texts.get(name)!).filter((p) => !wired.includes(p));
    expect(missing).toEqual([]);
  });

  it('requires only the AWS SDK packages of its ports at cold start', () => {
    const wired = portsWired(entry) ?? [];
    const required = new Set([...deployed.texts.get(name)!.matchAll(/require\("(@aws-sdk\/[^"]+)"\)/g)].map((m) => m[1]));
    const onlyFor: [string, AwsPort][] = [
      ['@aws-sdk/client-s3', 'files'],
      ['@aws-sdk/s3-request-presigner', 'files'],
      ['@aws-sdk/lib-storage', 'files'],
      ['@aws-sdk/client-sesv2', 'notifier'],
      ['@aws-sdk/client-sts', 'workerChannels'],
      ['@aws-sdk/client-apigatewaymanagementapi', 'sockets'],
    ];
    const stray = onlyFor.filter(([pkg, port]) => required.has(pkg) && !wired.includes(port)).map(([pkg]) => pkg);
    expect(stray).toEqual([]);
  });
});

it('no function bundles the in-memory adapters, the CLI or the local stack', () => {
  for (const [path, output] of Object.entries(deployed.metafile.outputs)) {
    const strays = Object.keys(output.inputs).filter((input) => /^(shared\/adapters\/memory|cli|bench|test|infra)\//.test(input));
    expect({ path, strays }).toEqual({ path, strays: [] });
  }
});
