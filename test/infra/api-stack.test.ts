import 'aws-cdk-lib/testhelpers/jest-autoclean';
import type { CfnRole } from 'aws-cdk-lib/aws-iam';
import {
  BUCKET_ENV_VAR,
  FUNCTIONS,
  NOTIFY_FROM_ENV_VAR,
  QUEUES,
  TABLES,
  VERIFY_MODE_ENV_VAR,
  WORKER_QUEUE_PREFIX_ENV_VAR,
  WORKER_QUEUE_ROLE_ENV_VAR,
  WS_MANAGEMENT_ENDPOINT_ENV_VAR,
  routeTable,
} from '../../shared/manifest';
import type { FunctionSpec } from '../../shared/manifest';
import {
  CORS_ALLOW_HEADERS,
  API_ACCESS_LOG_FORMAT,
  WEBSOCKET_ACCESS_LOG_FORMAT,
  API_THROTTLE_BURST,
  API_THROTTLE_RATE_PER_SECOND,
  SEND_EMAIL_ACTIONS,
  TABLE_APPEND_ACTIONS,
  WORKER_QUEUE_CONSUMER_ACTIONS,
  WORKER_QUEUE_MANAGE_ACTIONS,
  WORKER_QUEUE_SEND_ACTIONS,
} from '../../infra/stacks/api-stack';
import { CONVEYOR_MANIFEST, awsRouteKey } from '../../infra/manifest';
import type { ConveyorManifest } from '../../infra/manifest';
import type { Synth } from './helpers';
import { actions, logicalId, resources, statementsOfRole, synth } from './helpers';

const s = synth();
const { stacks, api } = s;

const fnId = (name: string) => logicalId(stacks.api.functions[name]!.fn);
const fnProps = (name: string) => resources(api)[fnId(name)]!.Properties!;

describe('ApiStack: functions from FUNCTIONS', () => {
  // CDK's own handler of S3 bucket notifications (the debusine-ranges queue) is the one other function.
  const isBucketNotificationsHandler = (id: string) => id.startsWith('BucketNotificationsHandler');
  it('creates exactly one Lambda function per FUNCTIONS entry, besides CDK\'s bucket-notifications handler', () => {
    const ids = Object.keys(resources(api, 'AWS::Lambda::Function'));
    expect(ids.filter(isBucketNotificationsHandler)).toHaveLength(1);
    expect(ids.filter((id) => !isBucketNotificationsHandler(id)).sort()).toEqual(FUNCTIONS.map((f) => fnId(f.name)).sort());
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
      if (spec.uses.workerQueues) expected.push(WORKER_QUEUE_PREFIX_ENV_VAR);
      if (spec.uses.workerQueues === 'manage') expected.push(WORKER_QUEUE_ROLE_ENV_VAR);
      if (spec.uses.sockets) expected.push(WS_MANAGEMENT_ENDPOINT_ENV_VAR);
      expect(Object.keys(vars).sort()).toEqual(expected.sort());
      if (spec.uses.workerQueues) expect(vars[WORKER_QUEUE_PREFIX_ENV_VAR]).toBe('conveyor-worker-');
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

  it('each work-request function sees exactly its tables and queues (concrete)', () => {
    const names = (fn: string) => Object.keys(fnProps(fn).Environment.Variables).sort();
    expect(names('work-requests-api')).toEqual([
      'CONVEYOR_QUEUE_ACCOUNTING_URL',
      'CONVEYOR_QUEUE_HEARTBEATS_URL',
      'CONVEYOR_QUEUE_ORCHESTRATOR_URL',
      'CONVEYOR_QUEUE_RECURRING_RUNS_URL',
      'CONVEYOR_QUEUE_SCHEDULER_URL',
      'CONVEYOR_TABLE_CONNECTIONS',
      'CONVEYOR_TABLE_MAIN',
      'CONVEYOR_WORKER_QUEUE_PREFIX',
      'CONVEYOR_WS_MANAGEMENT_ENDPOINT',
      'NODE_OPTIONS',
    ]);
    expect(names('workers-api')).toEqual([
      'CONVEYOR_QUEUE_ACCOUNTING_URL',
      'CONVEYOR_QUEUE_ORCHESTRATOR_URL',
      'CONVEYOR_QUEUE_SCHEDULER_URL',
      'CONVEYOR_TABLE_AUDIT',
      'CONVEYOR_TABLE_CONNECTIONS',
      'CONVEYOR_TABLE_MAIN',
      'CONVEYOR_WORKER_QUEUE_PREFIX',
      'CONVEYOR_WORKER_QUEUE_ROLE_ARN',
      'CONVEYOR_WS_MANAGEMENT_ENDPOINT',
      'NODE_OPTIONS',
    ]);
    // Debusine's WebSockets: the functions that assign or finish requests also read the connections and post to sockets.
    const sockets = ['CONVEYOR_TABLE_CONNECTIONS', 'CONVEYOR_WS_MANAGEMENT_ENDPOINT'];
    const withSockets = (vars: string[]) => [...vars, ...sockets].sort();
    expect(names('scheduler')).toEqual(withSockets([
      'CONVEYOR_QUEUE_ACCOUNTING_URL',
      'CONVEYOR_QUEUE_ORCHESTRATOR_URL',
      'CONVEYOR_QUEUE_SCHEDULER_URL',
      'CONVEYOR_QUEUE_SERVER_TASKS_URL',
      'CONVEYOR_TABLE_MAIN',
      'CONVEYOR_WORKER_QUEUE_PREFIX',
      'NODE_OPTIONS',
    ]));
    expect(names('heartbeat-applier')).toEqual(['CONVEYOR_TABLE_MAIN', 'NODE_OPTIONS']);
    expect(names('watchdog')).toEqual(withSockets(['CONVEYOR_QUEUE_ACCOUNTING_URL', 'CONVEYOR_QUEUE_ORCHESTRATOR_URL', 'CONVEYOR_QUEUE_SCHEDULER_URL', 'CONVEYOR_TABLE_MAIN', 'NODE_OPTIONS']));
    expect(names('server-task-runner')).toEqual(withSockets(['CONVEYOR_QUEUE_ACCOUNTING_URL', 'CONVEYOR_QUEUE_ORCHESTRATOR_URL', 'CONVEYOR_QUEUE_SCHEDULER_URL', 'CONVEYOR_TABLE_MAIN', 'NODE_OPTIONS']));
    expect(names('workflows-api')).toEqual(withSockets(['CONVEYOR_QUEUE_ACCOUNTING_URL', 'CONVEYOR_QUEUE_ORCHESTRATOR_URL', 'CONVEYOR_QUEUE_SCHEDULER_URL', 'CONVEYOR_TABLE_MAIN', 'NODE_OPTIONS']));
    expect(names('orchestrator')).toEqual(withSockets(['CONVEYOR_QUEUE_ACCOUNTING_URL', 'CONVEYOR_QUEUE_ORCHESTRATOR_URL', 'CONVEYOR_QUEUE_SCHEDULER_URL', 'CONVEYOR_TABLE_MAIN', 'NODE_OPTIONS']));
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

/** `arn:<partition>:ses:<region>:<account>:identity/<identity>` */
const sesIdentityArn = (identity: string) => ({
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ses:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, `:identity/${identity}`]],
});

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
    // The one Deny: presigned URLs older than PRESIGNED_URL_MAX_AGE_SECONDS (test/infra/presigned-url-age.test.ts).
    expect(st.Effect === 'Allow' || JSON.stringify(st.Condition).includes('s3:signatureAge')).toBe(true);
    expect(JSON.stringify(st.Resource)).not.toBe('"*"');
  }
  const statementsOn = (key: string) => statements.filter((st) => st.Effect === 'Allow' && JSON.stringify(st.Resource).includes(guarded[key]!));
  for (const [t, access] of Object.entries(spec.uses.tables)) {
    const acts = actions(statementsOn(`table:${t}`));
    if (access === 'append') {
      // Append-only (security finding 7): PutItem and nothing else.
      expect([...new Set(acts)]).toEqual(TABLE_APPEND_ACTIONS);
      continue;
    }
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
  // Per-worker queues: exactly the actions of its `workerQueues` access, on the prefix only.
  const onWorkerQueues = statements.filter((st) => JSON.stringify(st.Resource).includes(':conveyor-worker-*'));
  const expectedWorkerActions =
    spec.uses.workerQueues === 'manage' ? WORKER_QUEUE_MANAGE_ACTIONS : spec.uses.workerQueues === 'send' ? WORKER_QUEUE_SEND_ACTIONS : [];
  expect([...new Set(actions(onWorkerQueues))].sort()).toEqual([...expectedWorkerActions].sort());
  expect(actions(statements).filter((a) => a === 'sts:AssumeRole').length).toBe(spec.uses.workerQueues === 'manage' ? 1 : 0);
  // E-mail: without a configured sender nobody may send (security finding 3; see the SES tests).
  const onSes = statements.filter((st) => actions([st]).some((a) => a.startsWith('ses:')));
  expect(onSes).toEqual([]);
  for (const st of statements) {
    // No statement reaches every queue, or worker queues beyond the prefix.
    expect(JSON.stringify(st.Resource)).not.toMatch(/:sqs:[^"]*:\*"|:\*"\]/);
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
  it('the audit table is append-only for every function that writes it, and readers may only read it (security finding 7)', () => {
    const users = FUNCTIONS.filter((f) => f.uses.tables.audit !== undefined);
    const readers = users.filter((f) => f.uses.tables.audit === 'read');
    const writers = users.filter((f) => f.uses.tables.audit !== 'read');
    expect(writers.map((f) => f.uses.tables.audit)).toEqual(writers.map(() => 'append'));
    // Only the audit API reads it (GET /api/1.0/audit/, administrators).
    expect(readers.map((f) => f.name)).toEqual(['audit-api']);
    const auditId = logicalId(stacks.data.tables.audit!);
    const onAudit = (name: string) => [...new Set(actions(policyOf(s, name).statements.filter((st) => JSON.stringify(st.Resource).includes(auditId))))];
    for (const f of writers) expect(onAudit(f.name)).toEqual(['dynamodb:PutItem']);
    for (const f of readers) {
      expect(onAudit(f.name)).toEqual(expect.arrayContaining(['dynamodb:Query']));
      for (const write of ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem']) expect(onAudit(f.name)).not.toContain(write);
    }
  });

  it('admin-workers-api (worker enable/disable) appends to the audit table and cannot read it', () => {
    const spec = FUNCTIONS.find((f) => f.name === 'admin-workers-api')!;
    expect(spec.routes).toEqual(['POST /api/1.0/worker/{name}/enable/', 'POST /api/1.0/worker/{name}/disable/']);
    expect(spec.uses.tables.audit).toBe('append');
  });

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

  it('file-verifier consumes file-verification but may not send to it (only to accounting)', () => {
    const { statements } = policyOf(s, 'file-verifier');
    const acts = actions(statements);
    expect(acts).toContain('sqs:ReceiveMessage');
    expect(acts).toContain('sqs:DeleteMessage');
    const sending = JSON.stringify(statements.filter((st) => actions([st]).includes('sqs:SendMessage')));
    expect(sending).toContain(logicalId(s.stacks.messaging.queues['accounting']!.queue));
    expect(sending).not.toContain(logicalId(s.stacks.messaging.queues['file-verification']!.queue));
  });

  it('the heartbeat applier can only write the main table and read its own queue (concrete)', () => {
    const { statements } = policyOf(s, 'heartbeat-applier');
    const text = JSON.stringify(statements);
    expect(text).toContain(logicalId(stacks.data.tables.main!));
    expect(text).not.toContain(logicalId(stacks.data.tables.audit!));
    expect(actions(statements)).not.toContain('sqs:SendMessage');
    expect(text).not.toContain('worker-');
    expect(text).toContain(logicalId(stacks.messaging.queues.heartbeats!.queue));
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

describe('ApiStack: per-worker queues', () => {
  const accessRole = () => stacks.api.workerQueueAccessRole!;
  const accessRoleId = () => logicalId(accessRole());
  const managers = FUNCTIONS.filter((f) => f.uses.workerQueues === 'manage');
  const fnRoleId = (name: string) => logicalId(stacks.api.functions[name]!.fn.role!.node.defaultChild as CfnRole);
  /** `{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":sqs:",...,":conveyor-worker-*"]]}` */
  const PATTERN = {
    'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':sqs:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':conveyor-worker-*']],
  };

  it('workers-api manages them; work-requests-api and the scheduler only send (concrete)', () => {
    // admin-workers-api: enabling a worker creates its queue again if it was lost.
    expect(managers.map((f) => f.name).sort()).toEqual(['admin-workers-api', 'workers-api']);
    const send = FUNCTIONS.filter((f) => f.uses.workerQueues === 'send').map((f) => f.name).sort();
    expect(send).toEqual(['scheduler', 'socket-greeter', 'work-requests-api']);
  });

  it('scopes the grants to this account and region and the conveyor-worker- prefix', () => {
    const { statements } = policyOf(s, 'workers-api');
    const manage = statements.filter((st) => JSON.stringify(st.Resource) === JSON.stringify(PATTERN));
    expect(manage).toHaveLength(1);
    expect([...(manage[0]!.Action as string[])].sort()).toEqual(
      ['sqs:CreateQueue', 'sqs:GetQueueUrl', 'sqs:SendMessage', 'sqs:SetQueueAttributes'].sort(),
    );
    const send = policyOf(s, 'work-requests-api').statements.filter((st) => JSON.stringify(st.Resource) === JSON.stringify(PATTERN));
    expect(send.map((st) => st.Action)).toEqual(['sqs:SendMessage']);
    // Senders can neither create queues nor read from them.
    expect(actions(policyOf(s, 'scheduler').statements)).not.toContain('sqs:CreateQueue');
    for (const f of FUNCTIONS) {
      const onPattern = policyOf(s, f.name).statements.filter((st) => JSON.stringify(st.Resource) === JSON.stringify(PATTERN));
      expect(actions(onPattern)).not.toContain('sqs:ReceiveMessage');
    }
  });

  it('has one WorkerQueueAccessRole that only the managing functions may assume, for at most an hour', () => {
    const roles = resources(api, 'AWS::IAM::Role');
    const role = roles[accessRoleId()]!;
    expect(role).toBeDefined();
    expect(role.Properties!.MaxSessionDuration).toBe(3600);
    expect(role.Properties!.ManagedPolicyArns).toBeUndefined();
    const trust = role.Properties!.AssumeRolePolicyDocument.Statement as { Action: string; Effect: string; Principal: { AWS: unknown } }[];
    // CDK merges the managing functions' roles into one statement when there are several.
    expect([...new Set(trust.map((t) => t.Action))]).toEqual(['sts:AssumeRole']);
    const principals = trust.flatMap((t) => (Array.isArray(t.Principal.AWS) ? t.Principal.AWS : [t.Principal.AWS]));
    expect(principals.map((p) => JSON.stringify(p)).sort()).toEqual(
      managers.map((f) => JSON.stringify({ 'Fn::GetAtt': [fnRoleId(f.name), 'Arn'] })).sort(),
    );
    for (const f of FUNCTIONS) {
      const assume = policyOf(s, f.name).statements.filter((st) => actions([st]).includes('sts:AssumeRole'));
      if (f.uses.workerQueues === 'manage') {
        expect(assume).toHaveLength(1);
        expect(assume[0]!.Resource).toEqual({ 'Fn::GetAtt': [accessRoleId(), 'Arn'] });
      } else {
        expect(assume).toHaveLength(0);
      }
    }
  });

  it('lets the access role only consume worker queues', () => {
    const statements = statementsOfRole(api, accessRoleId());
    expect(statements).toHaveLength(1);
    expect(statements[0]!.Effect).toBe('Allow');
    expect([...(statements[0]!.Action as string[])].sort()).toEqual([...WORKER_QUEUE_CONSUMER_ACTIONS].sort());
    expect(statements[0]!.Resource).toEqual(PATTERN);
    // TLS only (security finding 7).
    expect(statements[0]!.Condition).toEqual({ Bool: { 'aws:SecureTransport': 'true' } });
    expect(actions(statements)).not.toContain('sqs:SendMessage');
    expect(actions(statements)).not.toContain('sqs:CreateQueue');
  });

  it('tells workers-api which role to assume', () => {
    const vars = fnProps('workers-api').Environment.Variables as Record<string, unknown>;
    expect(vars[WORKER_QUEUE_ROLE_ENV_VAR]).toEqual({ 'Fn::GetAtt': [accessRoleId(), 'Arn'] });
  });

  it('derives the prefix from the stack prefix, and creates no role when nobody manages worker queues', () => {
    const staging = synth({ prefix: 'Conveyor-Staging' });
    expect(staging.stacks.api.workerQueuePrefix).toBe('conveyor-staging-worker-');
    expect(JSON.stringify(statementsOfRole(staging.api, logicalId(staging.stacks.api.workerQueueAccessRole!)))).toContain(
      ':conveyor-staging-worker-*',
    );
    const manifest: ConveyorManifest = {
      ...CONVEYOR_MANIFEST,
      functions: CONVEYOR_MANIFEST.functions.map((f) => (f.uses.workerQueues === 'manage' ? { ...f, uses: { ...f.uses, workerQueues: 'send' as const } } : f)),
    };
    const noManager = synth({ manifest });
    expect(noManager.stacks.api.workerQueueAccessRole).toBeUndefined();
    const roles = Object.keys(resources(noManager.api, 'AWS::IAM::Role')).filter((id) => !id.startsWith('BucketNotificationsHandler'));
    expect(roles).toHaveLength(FUNCTIONS.length);
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

  it('accounts usage events 100 at a time within a 10 s window, at most 2 batches at once (concrete)', () => {
    api.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: fnId('accountant') },
      BatchSize: 100,
      MaximumBatchingWindowInSeconds: 10,
      ScalingConfig: { MaximumConcurrency: 2 },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  it('applies heartbeats 100 at a time within a 5 s window, and runs at most 2 scheduling passes at once, with no batching window (concrete)', () => {
    api.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: fnId('heartbeat-applier') },
      BatchSize: 100,
      MaximumBatchingWindowInSeconds: 5,
    });
    api.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: fnId('scheduler') },
      BatchSize: 10,
      MaximumBatchingWindowInSeconds: 0,
      ScalingConfig: { MaximumConcurrency: 2 },
    });
    api.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: fnId('server-task-runner') },
      BatchSize: 1,
    });
  });

  it.each([
    [{ batchSize: 100, maxBatchingWindowSeconds: 0 }, /above 10 needs a batching window/],
    [{ batchSize: 10_001, maxBatchingWindowSeconds: 5 }, /batchSize 10001 must be from 1 to 10000/],
    [{ batchSize: 10, maxBatchingWindowSeconds: 301 }, /maxBatchingWindowSeconds 301/],
    [{ batchSize: 10, maxBatchingWindowSeconds: 1, maxConcurrency: 1 }, /maxConcurrency 1 must be from 2 to 1000/],
  ])('refuses a queue trigger outside Lambda limits: %j', (trigger, message) => {
    const manifest: ConveyorManifest = {
      ...CONVEYOR_MANIFEST,
      functions: CONVEYOR_MANIFEST.functions.map((f) => (f.name === 'heartbeat-applier' ? { ...f, queue: { ...f.queue!, ...trigger } } : f)),
    };
    expect(() => synth({ manifest })).toThrow(message);
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
  // The HTTP API's routes (Debusine's WebSocket API has its own: test/infra/websockets.test.ts).
  const routes = () => Object.values(resources(api, 'AWS::ApiGatewayV2::Route')).filter((r) => r.Properties?.ApiId?.Ref === logicalId(stacks.api.api));

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
    const apis = Object.values(resources(api, 'AWS::ApiGatewayV2::Api')).filter((a) => a.Properties?.ProtocolType === 'HTTP');
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

describe('ApiStack: access logs and throttling (security findings 2 and 7)', () => {
  it('logs every request of the default stage as JSON without headers, and throttles the API', () => {
    const allStages = Object.values(resources(api, 'AWS::ApiGatewayV2::Stage'));
    const httpApiId = Object.keys(resources(api, 'AWS::ApiGatewayV2::Api')).find((id) => resources(api)[id]!.Properties!.ProtocolType === 'HTTP');
    const stages = allStages.filter((s) => s.Properties!.ApiId.Ref === httpApiId);
    expect(stages).toHaveLength(1);
    // Debusine's WebSocket stage has the same guards.
    const wsStages = allStages.filter((s) => s.Properties!.ApiId.Ref !== httpApiId);
    expect(wsStages).toHaveLength(1);
    expect(JSON.parse(wsStages[0]!.Properties!.AccessLogSettings.Format)).toEqual(WEBSOCKET_ACCESS_LOG_FORMAT);
    expect(wsStages[0]!.Properties!.DefaultRouteSettings).toEqual({ ThrottlingRateLimit: API_THROTTLE_RATE_PER_SECOND, ThrottlingBurstLimit: API_THROTTLE_BURST });
    const props = stages[0]!.Properties!;
    const format = JSON.parse(props.AccessLogSettings.Format);
    expect(format).toEqual(API_ACCESS_LOG_FORMAT);
    expect(props.AccessLogSettings.Format).not.toMatch(/header|token/i);
    const logGroupId = props.AccessLogSettings.DestinationArn['Fn::GetAtt'][0];
    expect(resources(api)[logGroupId]).toMatchObject({ Type: 'AWS::Logs::LogGroup', Properties: { RetentionInDays: 30 } });
    expect(props.DefaultRouteSettings).toEqual({ ThrottlingRateLimit: API_THROTTLE_RATE_PER_SECOND, ThrottlingBurstLimit: API_THROTTLE_BURST });
  });
});

describe('ApiStack: notifications (SES)', () => {
  it('grants ses:SendEmail to every function that may finish work requests, and to no other (concrete)', () => {
    expect(
      FUNCTIONS.filter((f) => f.uses.sendsEmail)
        .map((f) => f.name)
        .sort(),
    ).toEqual(['admin-workers-api', 'orchestrator', 'recurring-jobs-api', 'recurring-release', 'scheduler', 'server-task-runner', 'socket-greeter', 'watchdog', 'work-requests-api', 'workers-api']);
  });

  it('gives the sending functions the default sender when the deployment names one, and only them', () => {
    expect(JSON.stringify(resources(api, 'AWS::Lambda::Function'))).not.toContain(NOTIFY_FROM_ENV_VAR);
    const withSender = synth({ notifyFrom: 'conveyor@example.org' });
    for (const f of FUNCTIONS) {
      const vars = resources(withSender.api)[logicalId(withSender.stacks.api.functions[f.name]!.fn)]!.Properties!.Environment.Variables;
      expect(vars[NOTIFY_FROM_ENV_VAR]).toBe(f.uses.sendsEmail ? 'conveyor@example.org' : undefined);
    }
  });

  it('grants ses:SendEmail only on the configured sender and its domain, From-address conditioned (security finding 3)', () => {
    const withSender = synth({ notifyFrom: 'conveyor@example.org' });
    for (const f of FUNCTIONS) {
      const { statements } = policyOf(withSender, f.name);
      const onSes = statements.filter((st) => actions([st]).some((a) => a.startsWith('ses:')));
      if (!f.uses.sendsEmail) {
        expect(onSes).toEqual([]);
        continue;
      }
      expect(onSes).toHaveLength(1);
      expect(actions(onSes)).toEqual(SEND_EMAIL_ACTIONS);
      expect(onSes[0]!.Resource).toEqual([sesIdentityArn('conveyor@example.org'), sesIdentityArn('example.org')]);
      expect(onSes[0]!.Condition).toEqual({ StringEquals: { 'ses:FromAddress': 'conveyor@example.org' } });
      expect(JSON.stringify(onSes)).not.toContain('identity/*');
    }
  });

  it('refuses a sender that is not an e-mail address', () => {
    expect(() => synth({ notifyFrom: 'not an address' })).toThrow(/notifyFrom/);
  });
});

describe('ApiStack: workflows', () => {
  it('serves the workflow and workflow-template routes from workflows-api (concrete)', () => {
    const mine = routeTable()
      .filter((r) => r.functionName === 'workflows-api')
      .map((r) => r.routeKey)
      .sort();
    expect(mine).toEqual(
      [
        'GET /api/1.0/workflow-template/',
        'POST /api/1.0/workflow-template/',
        'GET /api/1.0/workflow-template/{id}/',
        'PATCH /api/1.0/workflow-template/{id}/',
        'DELETE /api/1.0/workflow-template/{id}/',
        'GET /api/1.0/workflow/',
        'POST /api/1.0/workflow/',
        'GET /api/1.0/workflow/{id}/',
      ].sort(),
    );
  });

  it('feeds the orchestrator from the FIFO queue one message at a time, without a batching window', () => {
    const mappings = Object.values(resources(api, 'AWS::Lambda::EventSourceMapping')).filter(
      (m) => JSON.stringify(m.Properties!.FunctionName) === JSON.stringify({ Ref: fnId('orchestrator') }),
    );
    expect(mappings).toHaveLength(1);
    expect(mappings[0]!.Properties).toMatchObject({ BatchSize: 1, FunctionResponseTypes: ['ReportBatchItemFailures'] });
    expect(mappings[0]!.Properties!.MaximumBatchingWindowInSeconds).toBeUndefined();
    expect(JSON.stringify(mappings[0]!.Properties!.EventSourceArn)).toContain(logicalId(stacks.messaging.queues.orchestrator!.queue));
  });

  it('lets every function that finishes work requests queue orchestration steps, and the scheduler too (concrete)', () => {
    const senders = FUNCTIONS.filter((f) => f.uses.sendsTo?.includes('orchestrator'))
      .map((f) => f.name)
      .sort();
    expect(senders).toEqual(['admin-workers-api', 'orchestrator', 'recurring-jobs-api', 'recurring-release', 'scheduler', 'server-task-runner', 'socket-greeter', 'watchdog', 'work-requests-api', 'workers-api', 'workflows-api']);
    expect(actions(policyOf(s, 'orchestrator').statements)).toEqual(expect.arrayContaining(['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:SendMessage']));
  });
});
