import 'aws-cdk-lib/testhelpers/jest-autoclean';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ConveyorFunction } from '../../infra/constructs/conveyor-function';
import type { FunctionSpec } from '../../shared/manifest';
import { CDK_JSON, REPO_ROOT, resources, synth } from './helpers';

describe('cdk.json', () => {
  it('runs infra/app.ts with tsx, with notices and telemetry off', () => {
    expect(CDK_JSON.app).toBe('node --import tsx infra/app.ts');
    expect(CDK_JSON.notices).toBe(false);
    expect(CDK_JSON['cli-telemetry']).toBe(false);
    expect(fs.existsSync(path.join(REPO_ROOT, 'infra', 'app.ts'))).toBe(true);
  });

  it("carries every recommended feature flag of the installed aws-cdk-lib", () => {
    const recommended = JSON.parse(
      fs.readFileSync(require.resolve('aws-cdk-lib/recommended-feature-flags.json'), 'utf8'),
    ) as Record<string, unknown>;
    expect(Object.keys(recommended).length).toBeGreaterThan(50);
    for (const [flag, value] of Object.entries(recommended)) expect([flag, CDK_JSON.context[flag]]).toEqual([flag, value]);
  });
});

describe('the whole app', () => {
  it('passes the built-in CloudFormation validation with findings as errors', () => {
    expect(CDK_JSON.context['@aws-cdk/core:validateAgainstDefaultRules']).toBe(true);
    const s = synth({ validate: true });
    expect(Object.keys(resources(s.api, 'AWS::Lambda::Function')).length).toBeGreaterThan(0);
  });

  it('puts the stateful resources, the messaging and the API in separate stacks', () => {
    const s = synth();
    expect(s.stacks.data.stackName).toBe('Conveyor-Data');
    expect(s.stacks.messaging.stackName).toBe('Conveyor-Messaging');
    expect(s.stacks.api.stackName).toBe('Conveyor-Api');
    expect(Object.keys(resources(s.data, 'AWS::Lambda::Function'))).toHaveLength(0);
    expect(Object.keys(resources(s.messaging, 'AWS::Lambda::Function'))).toHaveLength(0);
    expect(Object.keys(resources(s.api, 'AWS::DynamoDB::Table'))).toHaveLength(0);
    expect(s.stacks.api.dependencies).toEqual(expect.arrayContaining([s.stacks.data, s.stacks.messaging]));
  });
});

describe('ConveyorFunction', () => {
  const spec: FunctionSpec = {
    name: 'probe',
    entry: 'functions/probe.ts',
    description: 'probe',
    timeoutSeconds: 10,
    memoryMb: 128,
    uses: { tables: {} },
  };

  /** A throwaway repository root with package-lock.json, node_modules and, optionally, the entry. */
  function fakeRepo(withEntry: boolean): string {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'conveyor-infra-'));
    fs.copyFileSync(path.join(REPO_ROOT, 'package-lock.json'), path.join(root, 'package-lock.json'));
    fs.copyFileSync(path.join(REPO_ROOT, 'package.json'), path.join(root, 'package.json'));
    fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(root, 'node_modules'), 'dir');
    if (withEntry) {
      fs.mkdirSync(path.join(root, 'functions'));
      fs.writeFileSync(
        path.join(root, 'functions', 'probe.ts'),
        [
          "import middy from '@middy/core';",
          "import { SQSClient } from '@aws-sdk/client-sqs';",
          'const sqs = new SQSClient({});',
          'export const handler = middy(async () => ({ statusCode: 200, body: typeof sqs }));',
        ].join('\n'),
      );
    }
    return root;
  }
  const roots: string[] = [];
  afterAll(() => {
    for (const root of roots) fs.rmSync(root, { recursive: true, force: true });
  });

  it('refuses to synthesise with bundling when the entry file is missing', () => {
    const root = fakeRepo(false);
    roots.push(root);
    const stack = new Stack(new App({ builtinCloudFormationValidation: false }), 'S');
    expect(() => new ConveyorFunction(stack, 'probe', { spec, repoRoot: root })).toThrow(
      /entry file functions\/probe\.ts .*does not exist/,
    );
  });

  it('bundles with the local esbuild: minified CJS, source map, AWS SDK left external', () => {
    const root = fakeRepo(true);
    roots.push(root);
    const outdir = path.join(root, 'cdk.out');
    const app = new App({ outdir, builtinCloudFormationValidation: false, context: CDK_JSON.context });
    const stack = new Stack(app, 'S');
    new ConveyorFunction(stack, 'probe', { spec, repoRoot: root });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Environment: { Variables: { NODE_OPTIONS: '--enable-source-maps' } },
    });
    const assets = fs.readdirSync(outdir).filter((name) => name.startsWith('asset.'));
    expect(assets).toHaveLength(1);
    const assetDir = path.join(outdir, assets[0]!);
    expect(fs.readdirSync(assetDir).sort()).toEqual(['index.js', 'index.js.map']);
    const code = fs.readFileSync(path.join(assetDir, 'index.js'), 'utf8');
    expect(code).toMatch(/require\("@aws-sdk\/client-sqs"\)/); // external, not bundled
    expect(code).not.toMatch(/^\s*export /m); // CommonJS
    expect(code).toContain('module.exports');
    expect(code).toContain('sourceMappingURL=index.js.map');
    expect(code.split('\n').length).toBeLessThan(40); // minified
  }, 30_000);
});
