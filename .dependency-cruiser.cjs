/**
 * Which module may import which (docs/architecture.md explains the layers). `npm test` runs
 * `depcruise` with this file over shared/, cli/, functions/ and infra/: an import cycle or a
 * forbidden arrow fails the build. test/unit/layers.test.ts shows that it does.
 */
const fs = require('node:fs');

/**
 * The use-case layer, lowest first. A module may import modules of its own layer or below, never
 * above. A file of shared/app/ named in none of these is a use case (the top layer): everything may
 * sit beneath it, and only shared/http/, functions/ and cli/ import it.
 */
const APP_LAYERS = [
  { name: 'app-support', files: ['auth', 'audit', 'concurrency', 'loaders', 'acting-as', 'user-status', 'quotas', 'accounting', 'notification-policy', 'socket-notifications', 'follow-ups', 'first-versions', 'bounded-steps'] },
  { name: 'artifacts', files: ['artifacts'] },
  { name: 'lookups-and-collections', files: ['lookups', 'collections'] },
  { name: 'event-reactions', files: ['event-reactions'] },
  { name: 'lifecycle', files: ['lifecycle', 'recurring-runs'] },
  { name: 'orchestration', files: ['workflow-orchestration'] },
];

const filesOf = (layer) => `^shared/app/(${layer.files.join('|')})\\.ts$`;

/** Layer i may not import layer j > i, nor the use cases. */
const layerRules = APP_LAYERS.map((layer, i) => ({
  name: `layer-${layer.name}`,
  comment: `${layer.name} sits below ${[...APP_LAYERS.slice(i + 1).map((l) => l.name), 'the use cases'].join(', ')}: it may not import them`,
  severity: 'error',
  from: { path: filesOf(layer) },
  // Anything in shared/app/ that is not in this layer or one below it.
  to: { path: '^shared/app/', pathNot: APP_LAYERS.slice(0, i + 1).map(filesOf) },
}));

const OUTSIDE_SHARED = '^(cli|functions|infra)/';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'modules may not import each other in a circle (also through types): split out what both need',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'domain-is-pure',
      comment: 'shared/domain and shared/formats are rules and formats: no AWS, no ports, no use cases',
      severity: 'error',
      from: { path: '^shared/(domain|formats)/' },
      to: { path: ['^shared/(?!domain/|formats/)', OUTSIDE_SHARED, '(^|/)node_modules/(@aws-sdk|aws-lambda|@aws-lambda-powertools)/'] },
    },
    {
      name: 'plugins-above-domain-only',
      comment: 'task and workflow plug-ins (shared/tasks, shared/workflows) see the domain and each other, not the app',
      severity: 'error',
      from: { path: '^shared/(tasks|workflows)/' },
      to: { path: ['^shared/(app|adapters|http|ports)/', '^shared/manifest\\.ts$', OUTSIDE_SHARED, '(^|/)node_modules/@aws-sdk/'] },
    },
    {
      name: 'ports-are-interfaces',
      comment: 'shared/ports describes what the app needs; it depends on the domain only',
      severity: 'error',
      from: { path: '^shared/ports/' },
      to: { path: ['^shared/(app|adapters|http|tasks|workflows)/', '^shared/manifest\\.ts$', OUTSIDE_SHARED] },
    },
    {
      name: 'app-uses-ports-not-adapters',
      comment: 'use cases are written against shared/ports; adapters, HTTP, AWS and logging stay outside (use cases return outcomes)',
      severity: 'error',
      from: { path: '^shared/app/' },
      to: { path: ['^shared/(adapters|http|observability)/', '(^|/)node_modules/@aws-lambda-powertools/', '^shared/manifest\\.ts$', OUTSIDE_SHARED, '(^|/)node_modules/(@aws-sdk|aws-lambda)/'] },
    },
    ...layerRules,
    {
      name: 'adapters-implement-ports',
      comment: 'adapters implement shared/ports; they never call use cases or HTTP code',
      severity: 'error',
      from: { path: '^shared/adapters/' },
      to: { path: ['^shared/(app|http)/', OUTSIDE_SHARED] },
    },
    {
      name: 'http-calls-use-cases',
      comment: 'HTTP routes parse, call a use case and serialise; the adapters are wired in functions/',
      severity: 'error',
      from: { path: '^shared/http/' },
      to: { path: ['^shared/adapters/', OUTSIDE_SHARED] },
    },
    {
      name: 'shared-stands-alone',
      comment: 'shared/ never imports the handlers, the CLI or the CDK code',
      severity: 'error',
      from: { path: '^shared/' },
      to: { path: OUTSIDE_SHARED },
    },
    {
      name: 'infra-reads-the-manifest',
      comment: 'the CDK stacks are built from shared/manifest.ts; they do not import runtime code',
      severity: 'error',
      from: { path: '^infra/' },
      to: { path: ['^shared/(app|adapters|http|ports)/', '^(cli|functions)/'] },
    },
    {
      name: 'handlers-are-roots',
      comment: 'functions/ are entry points: nothing imports them (the manifest names them by path)',
      severity: 'error',
      from: { pathNot: '^functions/' },
      to: { path: '^functions/' },
    },
  ],
  options: {
    // TypeScript 7 has no JavaScript API: swc parses (it is installed for jest already).
    parser: 'swc',
    // Type-only imports count: a cycle through types is still a cycle to untangle.
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['node_modules', '\\.d\\.ts$'] },
    ...(fs.existsSync('tsconfig.json') ? { tsConfig: { fileName: 'tsconfig.json' } } : {}),
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.json'] },
  },
};
