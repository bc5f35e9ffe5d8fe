import 'aws-cdk-lib/testhelpers/jest-autoclean';
import type { CfnRole } from 'aws-cdk-lib/aws-iam';
import { BUCKET_ENV_VAR, FUNCTIONS, QUEUES, TABLES, VERIFY_MODE_ENV_VAR, routeTable } from '../../shared/manifest';
import type { FunctionSpec } from '../../shared/manifest';
import { CORS_ALLOW_HEADERS } from '../../infra/stacks/api-stack';
import { CONVEYOR_MANIFEST, awsRouteKey } from '../../infra/manifest';
import type { ConveyorManifest } from '../../infra/manifest';
import type { Synth } from './helpers';
import { actions, logicalId, resources, statementsOfRole, synth } from './helpers';

const s = synth();
const { stacks, api } = s;

const fnId = (name: string) => logicalId(stacks.api.functions[name]!.fn);
const fnProps = (name: string) => resources(api)[fnId(name)]!.Properties!;

describe('ApiStack: functions from FUNCTIONS', () => {
  it('creates exactly one Lambda function per FUNCTIONS entry', () => {
    expect(Object.keys(resources(api, 'AWS::Lambda::Function')).sort()).toEqual(FUNCTIONS.map((f) => fnId(f.name)).sort());
  });

  describe.each(FUNCTIONS)('$name', (spec) => {
    it('runs on nodejs22.x or newer, on arm64, with its timeout and memory', () => {
      const p = fnProps(spec.name);
      const major = Number(/^nodejs(\d+)\.x$/.exec(p.Runtime)?.[1]);
      expect(major).toBeGreaterThanOrEqual(22);
      expect(p.Architectures).toEqual(['arm64']);
      expect(p.Timeout).toBe(spec.timeoutSeconds);
      expect(p.MemorySize).toBe(spec.memoryMb);
    });

    it('logs to its own log group with a one-month retention', () => {
      const logGroupRef = fnProps(spec.name).LoggingConfig.LogGroup as { Ref: string };
      const logGroup = resources(api)[logGroupRef.Ref]!;
      expect(logGroup.Type).toBe('AWS::Logs::LogGroup');
      expect(logGroup.Properties!.RetentionInDays).toBe(30);
    });

    it('has env vars for exactly what it uses, and source maps', () => {
      const vars = fnProps(spec.name).Environment.Variables as Record<string, unknown>;
      const expected = ['NODE_OPTIONS', ...Object.keys(spec.uses.tables).map((t) => TABLES[t as keyof typeof TABLES].envVar)];
      if (spec.uses.bucket) expected.push(BUCKET_ENV_VAR, VERIFY_MODE_ENV_VAR);
      for (const q of spec.uses.sendsTo ?? []) expected.push(QUEUES[q].envVar);
      expect(Object.keys(vars).sort()).toEqual(expected.sort());
      expect(vars.NODE_OPTIONS).toBe('--enable-source-maps');
      if (spec.uses.bucket) {
        expect(vars[VERIFY_MODE_ENV_VAR]).toBe('checksum');
        expect(JSON.stringify(vars[BUCKET_ENV_VAR])).toContain(logicalId(stacks.data.bucket));
      }
      for (const t of Object.keys(spec.uses.tables) as (keyof typeof TABLES)[]) {
        expect(JSON.stringify(vars[TABLES[t].envVar])).toContain(logicalId(stacks.data.tables[t]!));
      }
      for (const q of spec.uses.sendsTo ?? []) {
        expect(JSON.stringify(vars[QUEUES[q].envVar])).toContain(logicalId(stacks.messaging.queues[q]!.queue));
      }
    });
  });

  it('identity-api sees only the main table (concrete)', () => {
    expect(Object.keys(fnProps('identity-api').Environment.Variables).sort()).toEqual(['CONVEYOR_TABLE_MAIN', 'NODE_OPTIONS']);
  });
});

/** Logical ids (in the Data and Messaging stacks) of everything a function may be granted. */
function guardedResources(synthResult: Synth, manifest: ConveyorManifest) {
  const ids: Record<string, string> = { bucket: logicalId(synthResult.stacks.data.bucket) };
  for (const t of Object.keys(manifest.tables)) ids[`table:${t}`] = logicalId(synthResult.stacks.data.tables[t]!);
  for (const q of Object.keys(manifest.queues)) {
    ids[`queue:${q}`] = logicalId(synthResult.stacks.messaging.queues[q]!.queue);
    ids[`dlq:${q}`] = logicalId(synthResult.stacks.messaging.queues[q]!.deadLetterQueue);
  }
  return ids;
}

function expectedGrants(spec: FunctionSpec): string[] {
  const keys = Object.keys(spec.uses.tables).map((t) => `table:${t}`);
  if (spec.uses.bucket) keys.push('bucket');
  for (const q of new Set([...(spec.uses.sendsTo ?? []), ...(spec.queue ? [spec.queue.name] : [])])) keys.push(`queue:${q}`);
  return keys.sort();
}

function policyOf(synthResult: Synth, name: string) {
  const fn = synthResult.stacks.api.functions[name]!.fn;
  const roleId = logicalId(fn.role!.node.defaultChild as CfnRole);
  return { roleId, statements: statementsOfRole(synthResult.api, roleId) };
}

const TABLE_WRITES = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'];
const BUCKET_WRITES = ['s3:PutObject', 's3:DeleteObject*'];

/** Least privilege: a function's policy references exactly what its `uses` (and trigger) list. */
function checkLeastPrivilege(synthResult: Synth, manifest: ConveyorManifest, spec: FunctionSpec) {
  const guarded = guardedResources(synthResult, manifest);
  const { statements } = policyOf(synthResult, spec.name);
  const text = JSON.stringify(statements);
  const referenced = Object.entries(guarded)
    .filter(([, id]) => text.includes(id))
    .map(([key]) => key)
    .sort();
  expect(referenced).toEqual(expectedGrants(spec));

  for (const st of statements) {
    expect(st.Effect).toBe('Allow');
    expect(JSON.stringify(st.Resource)).not.toBe('"*"');
  }
  const statementsOn = (key: string) => statements.filter((st) => JSON.stringify(st.Resource).includes(guarded[key]!));
  for (const [t, access] of Object.entries(spec.uses.tables)) {
    const acts = actions(statementsOn(`table:${t}`));
    expect(acts).toEqual(expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:Query']));
    if (access === 'readwrite') expect(acts).toEqual(expect.arrayContaining(TABLE_WRITES));
    else for (const w of TABLE_WRITES) expect(acts).not.toContain(w);
  }
  if (spec.uses.bucket) {
    const acts = actions(statementsOn('bucket'));
    expect(acts).toEqual(expect.arrayContaining(['s3:GetObject*']));
    if (spec.uses.bucket === 'readwrite') expect(acts).toEqual(expect.arrayContaining(BUCKET_WRITES));
    else for (const w of BUCKET_WRITES) expect(acts).not.toContain(w);
  } else {
    expect(actions(statements).filter((a) => a.startsWith('s3:'))).toEqual([]);
  }
  for (const q of Object.keys(manifest.queues)) {
    const acts = actions(statementsOn(`queue:${q}`));
    if ((spec.uses.sendsTo ?? []).includes(q as never)) expect(acts).toContain('sqs:SendMessage');
    else expect(acts).not.toContain('sqs:SendMessage');
    if (spec.queue?.name === q) expect(acts).toEqual(expect.arrayContaining(['sqs:ReceiveMessage', 'sqs:DeleteMessage']));
    else expect(acts).not.toContain('sqs:ReceiveMessage');
  }
}

describe('ApiStack: least-privilege IAM', () => {
  it.each(FUNCTIONS.map((f) => [f.name, f] as const))('%s is granted exactly what it uses', (_name, spec) => {
    checkLeastPrivilege(s, CONVEYOR_MANIFEST, spec);
  });

  it('identity-api cannot touch the bucket, the audit table or any queue (concrete)', () => {
    const text = JSON.stringify(policyOf(s, 'identity-api').statements);
    expect(text).toContain(logicalId(stacks.data.tables.main!));
    expect(text).not.toContain(logicalId(stacks.data.bucket));
    expect(text).not.toContain(logicalId(stacks.data.tables.audit!));
    expect(text).not.toContain(logicalId(stacks.messaging.queues['file-verification']!.queue));
    expect(text).not.toMatch(/"(s3|sqs):/);
  });

  it('file-verifier consumes file-verification but may not send to it', () => {
    const acts = actions(policyOf(s, 'file-verifier').statements);
    expect(acts).toContain('sqs:ReceiveMessage');
    expect(acts).not.toContain('sqs:SendMessage');
    expect(acts).toContain('sqs:DeleteMessage');
  });

  it('roles carry only the basic execution managed policy', () => {
    for (const f of FUNCTIONS) {
      const role = resources(api)[policyOf(s, f.name).roleId]!;
      expect(JSON.stringify(role.Properties!.ManagedPolicyArns)).toContain('AWSLambdaBasicExecutionRole');
      expect(role.Properties!.ManagedPolicyArns).toHaveLength(1);
      expect(role.Properties!.Policies).toBeUndefined();
    }
  });

  it('a read-only user gets no write actions (manifest variant)', () => {
    const reader: FunctionSpec = {
      name: 'reader',
      entry: 'functions/reader.ts',
      description: 'read-only probe',
      timeoutSeconds: 10,
      memoryMb: 256,
      uses: { tables: { audit: 'read' }, bucket: 'read' },
    };
    const manifest = { ...CONVEYOR_MANIFEST, functions: [...CONVEYOR_MANIFEST.functions, reader] };
    const variant = synth({ manifest });
    checkLeastPrivilege(variant, manifest, reader);
    const acts = actions(policyOf(variant, 'reader').statements);
    expect(acts).not.toContain('dynamodb:PutItem');
    expect(acts).not.toContain('s3:PutObject');
    expect(acts).toContain('dynamodb:GetItem');
  });
});

describe('ApiStack: SQS triggers', () => {
  const consumers = FUNCTIONS.filter((f) => f.queue);

  it('has one event source mapping per queue-triggered function', () => {
    expect(Object.keys(resources(api, 'AWS::Lambda::EventSourceMapping'))).toHaveLength(consumers.length);
  });

  it.each(consumers.map((f) => [f.name, f] as const))('%s reports batch item failures with its batch settings', (_n, spec) => {
    const mappings = Object.values(resources(api, 'AWS::Lambda::EventSourceMapping')).filter(
      (m) => JSON.stringify(m.Properties!.FunctionName) === JSON.stringify({ Ref: fnId(spec.name) }),
    );
    expect(mappings).toHaveLength(1);
    const p = mappings[0]!.Properties!;
    expect(p.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    expect(p.BatchSize).toBe(spec.queue!.batchSize);
    expect(p.MaximumBatchingWindowInSeconds ?? 0).toBe(spec.queue!.maxBatchingWindowSeconds);
    expect(JSON.stringify(p.EventSourceArn)).toContain(logicalId(stacks.messaging.queues[spec.queue!.name]!.queue));
  });

  it('file-verifier takes one message at a time (concrete)', () => {
    api.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      FunctionName: { Ref: fnId('file-verifier') },
    });
  });
});

describe('ApiStack: HTTP API', () => {
  const routes = () => Object.values(resources(api, 'AWS::ApiGatewayV2::Route'));

  it('has one route per manifest route, each to the function that serves it', () => {
    const table = routeTable();
    expect(table.length).toBeGreaterThan(0);
    expect(routes()).toHaveLength(table.length);
    const integrations = resources(api, 'AWS::ApiGatewayV2::Integration');
    for (const { routeKey, functionName } of table) {
      const matching = routes().filter((r) => r.Properties!.RouteKey === awsRouteKey(routeKey));
      expect(matching).toHaveLength(1);
      const target = JSON.stringify(matching[0]!.Properties!.Target);
      const integrationId = Object.keys(integrations).find((id) => target.includes(`{"Ref":"${id}"}`));
      expect(integrationId).toBeDefined();
      const integration = integrations[integrationId!]!.Properties!;
      expect(JSON.stringify(integration.IntegrationUri)).toContain(fnId(functionName));
      expect(integration).toMatchObject({ IntegrationType: 'AWS_PROXY', PayloadFormatVersion: '2.0' });
    }
  });

  it('deploys Debusine paths without the trailing slash API Gateway refuses (concrete)', () => {
    expect(awsRouteKey('GET /api/1.0/whoami/')).toBe('GET /api/1.0/whoami');
    expect(awsRouteKey('PUT /api/1.0/artifact/{id}/files/{path+}')).toBe('PUT /api/1.0/artifact/{id}/files/{path+}');
    api.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'GET /api/1.0/whoami' });
    api.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'POST /api/1.0/artifact/{id}/upload/{path+}' });
  });

  it('lets API Gateway invoke each HTTP function', () => {
    const permissions = Object.values(resources(api, 'AWS::Lambda::Permission'));
    for (const f of FUNCTIONS.filter((fn) => fn.routes?.length)) {
      expect(
        permissions.some(
          (p) =>
            p.Properties!.Principal === 'apigateway.amazonaws.com' &&
            JSON.stringify(p.Properties!.FunctionName).includes(fnId(f.name)),
        ),
      ).toBe(true);
    }
  });

  it('allows the Debusine client headers in CORS', () => {
    const apis = Object.values(resources(api, 'AWS::ApiGatewayV2::Api'));
    expect(apis).toHaveLength(1);
    const cors = apis[0]!.Properties!.CorsConfiguration;
    expect(CORS_ALLOW_HEADERS).toEqual(['Token', 'X-Debusine-Scope', 'Content-Type', 'Content-Range']);
    expect(cors.AllowHeaders).toEqual(expect.arrayContaining(CORS_ALLOW_HEADERS));
    expect(cors.AllowOrigins).toEqual(['*']);
    expect(cors.AllowMethods).toEqual(expect.arrayContaining(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']));
    expect(apis[0]!.Properties!.ProtocolType).toBe('HTTP');
  });

  it('outputs ApiUrl', () => {
    const outputs = api.findOutputs('ApiUrl');
    expect(Object.keys(outputs)).toEqual(['ApiUrl']);
    expect(JSON.stringify(outputs.ApiUrl!.Value)).toContain(logicalId(stacks.api.api));
  });

  it('refuses two manifest routes that collapse into one API Gateway route', () => {
    const dup: FunctionSpec = { ...FUNCTIONS[0]!, name: 'dup', routes: ['GET /api/1.0/whoami'] };
    expect(() => synth({ manifest: { ...CONVEYOR_MANIFEST, functions: [...FUNCTIONS, dup] } })).toThrow(/collides/);
  });
});
