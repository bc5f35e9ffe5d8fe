/**
 * The workflow-template and workflow APIs over HTTP (routes of workflows-api, plus the work-request
 * retry/abort the CLI uses) against the memory deps: requests are routed with the manifest's routes
 * as the local gateway routes them, then handled by the real middy handlers; the orchestrator
 * handler consumes the orchestration messages like the FIFO queue's event source would.
 */
import type { APIGatewayProxyStructuredResultV2, SQSEvent, SQSRecord } from 'aws-lambda';
import { orchestratorHandler } from '../../functions/orchestrator';
import { matchRoute, routesOf, buildEvent } from '../../cli/dev/gateway';
import type { MemoryDeps } from '../../shared/adapters/memory';
import { schedule } from '../../shared/app/scheduler';
import { httpHandler } from '../../shared/http/handler';
import { workRequestRoutes } from '../../shared/http/routes/work-requests';
import { workflowRoutes } from '../../shared/http/routes/workflows';
import { FUNCTIONS } from '../../shared/manifest';
import type { OrchestrationMessage } from '../../shared/ports';
import { createSchedulingWorld, type SchedulingWorld } from '../support/scheduling';
import { logger } from '../../shared/observability/logger';

const ROUTES = routesOf(FUNCTIONS);

interface Reply {
  status: number;
  json: any;
}

function client(deps: MemoryDeps) {
  const handlers: Record<string, ReturnType<typeof httpHandler>> = {
    'workflows-api': httpHandler(() => deps, workflowRoutes(() => deps)),
    'work-requests-api': httpHandler(() => deps, workRequestRoutes(() => deps)),
  };
  return async (method: string, url: string, opts: { token?: string; body?: unknown } = {}): Promise<Reply> => {
    const path = url.split('?')[0]!;
    const match = matchRoute(ROUTES, method, path);
    if (!match) throw new Error(`no route for ${method} ${path}`);
    const handler = handlers[match.route.fn.name];
    if (!handler) throw new Error(`${method} ${path} is served by ${match.route.fn.name}, not by a function under test`);
    const headers: Record<string, string> = { host: 'conveyor.test' };
    if (opts.token) headers['token'] = opts.token;
    let body = Buffer.alloc(0);
    if (opts.body !== undefined) {
      body = Buffer.from(typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body));
      headers['content-type'] = 'application/json';
    }
    const event = buildEvent(
      { method, url, rawHeaders: Object.entries(headers).flat(), body, sourceIp: '127.0.0.1', httpVersion: '1.1', localHost: 'conveyor.test' },
      match,
    );
    const res = (await handler(event, {} as never)) as APIGatewayProxyStructuredResultV2;
    const text = typeof res.body === 'string' ? res.body : '';
    return { status: res.statusCode!, json: text ? JSON.parse(text) : undefined };
  };
}

let world: SchedulingWorld;
let http: ReturnType<typeof client>;
let key: (name: string) => string;

beforeEach(async () => {
  world = await createSchedulingWorld();
  http = client(world.deps);
  key = (name) => world.keys[name]!;
});

/** Delivers the queued orchestration messages to the real orchestrator handler, one per event (batch 1). */
async function orchestrateAll(): Promise<number> {
  const handler = orchestratorHandler(() => world.deps);
  let delivered = 0;
  for (;;) {
    const queue = world.deps.queues.orchestration as OrchestrationMessage[];
    const message = queue.shift();
    if (!message) return delivered;
    delivered++;
    const record = {
      messageId: `m${delivered}`,
      body: JSON.stringify({ type: 'orchestration', ...message }),
      attributes: { MessageGroupId: String(message.rootId) },
    } as unknown as SQSRecord;
    const res = await handler({ Records: [record] } as SQSEvent);
    expect(res.batchItemFailures).toEqual([]);
  }
}

/** Scheduler passes and orchestration until nothing moves (no workers: noop workflows need none). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const pass = await schedule(world.deps);
    const steps = await orchestrateAll();
    if (steps === 0 && pass.assigned.length === 0 && pass.completed.length === 0 && (pass.started?.length ?? 0) === 0) return;
  }
}

const createTemplate = (token: string, body: Record<string, unknown>) => http('POST', '/api/1.0/workflow-template/', { token, body });

describe('workflow-template API', () => {
  it('creates (201), shows, lists by workspace, changes and deletes (204) a template, in Debusine shape', async () => {
    const created = await createTemplate(key('owner'), { name: 'nightly', task_name: 'noop', task_data: {}, priority: -2, workspace: 'priv' });
    expect(created.status).toBe(201);
    expect(created.json).toEqual({
      id: expect.any(Number),
      url: `http://conveyor.test/api/1.0/workflow-template/${created.json.id}/`,
      name: 'nightly',
      scope: 'debusine',
      workspace: 'priv',
      task_name: 'noop',
      task_data: {},
      priority: -2,
    });
    const id = created.json.id as number;
    expect((await http('GET', `/api/1.0/workflow-template/${id}/`, { token: key('viewer') })).json).toEqual(created.json);

    await createTemplate(key('owner'), { name: 'another', task_name: 'noop', workspace: 'priv' });
    const list = await http('GET', '/api/1.0/workflow-template/?workspace=priv', { token: key('viewer') });
    expect(list.status).toBe(200);
    expect(list.json.results.map((t: { name: string }) => t.name)).toEqual(['another', 'nightly']);

    const patched = await http('PATCH', `/api/1.0/workflow-template/${id}/`, { token: key('owner'), body: { name: 'weekly', priority: -5 } });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({ id, name: 'weekly', priority: -5, task_name: 'noop' });

    expect((await http('DELETE', `/api/1.0/workflow-template/${id}/`, { token: key('owner') })).status).toBe(204);
    expect((await http('GET', `/api/1.0/workflow-template/${id}/`, { token: key('owner') })).status).toBe(404);
  });

  it.each([
    ['no workspace in the listing query', 'GET', '/api/1.0/workflow-template/', undefined, 400],
    ['an unknown field', 'POST', '/api/1.0/workflow-template/', { name: 'x', task_name: 'noop', workspace: 'priv', colour: 'red' }, 400],
    ['no task_name', 'POST', '/api/1.0/workflow-template/', { name: 'x', workspace: 'priv' }, 400],
    ['a task_data that is not an object', 'POST', '/api/1.0/workflow-template/', { name: 'x', task_name: 'noop', task_data: [1], workspace: 'priv' }, 400],
    ['a body that is not an object', 'POST', '/api/1.0/workflow-template/', [1, 2], 400],
    ['a task_name change', 'PATCH', '/api/1.0/workflow-template/1/', { task_name: 'other' }, 400],
    ['a bad id', 'GET', '/api/1.0/workflow-template/abc/', undefined, 400],
  ])('refuses %s', async (_name, method, url, body, status) => {
    const res = await http(method, url, { token: key('owner'), ...(body !== undefined ? { body } : {}) });
    expect(res.status).toBe(status);
  });

  it('lets only owners write, and hides private templates from outsiders', async () => {
    expect((await createTemplate(key('contributor'), { name: 'x', task_name: 'noop', workspace: 'priv' })).status).toBe(403);
    expect((await createTemplate(undefined as unknown as string, { name: 'x', task_name: 'noop', workspace: 'priv' })).status).toBe(401);
    const id = (await createTemplate(key('owner'), { name: 'x', task_name: 'noop', workspace: 'priv' })).json.id;
    expect((await http('GET', `/api/1.0/workflow-template/${id}/`, { token: key('outsider') })).status).toBe(404);
    expect((await http('DELETE', `/api/1.0/workflow-template/${id}/`, { token: key('contributor') })).status).toBe(403);
  });

  it('a duplicate name in the workspace is a conflict', async () => {
    await createTemplate(key('owner'), { name: 'x', task_name: 'noop', workspace: 'priv' });
    expect((await createTemplate(key('owner'), { name: 'x', task_name: 'noop', workspace: 'priv' })).status).toBe(409);
  });
});

describe('workflow API', () => {
  beforeEach(async () => {
    expect((await createTemplate(key('owner'), { name: 'nightly', task_name: 'noop', workspace: 'priv' })).status).toBe(201);
  });

  const start = (body: Record<string, unknown>, token = key('contributor')) => http('POST', '/api/1.0/workflow/', { token, body });

  it('starts a workflow: 201 with the work request, its run and internal collection; the orchestrator completes it', async () => {
    const res = await start({ template_name: 'nightly', workspace: 'priv', task_data: {} });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({
      task_type: 'Workflow',
      task_name: 'noop',
      workspace: 'priv',
      parent: null,
      run: { name: 'nightly', number: '1', status: 'queued' },
      internal_collection: expect.any(Number),
      workflow_data: { workflow_template_name: 'nightly' },
    });
    await settle();
    const done = await http('GET', `/api/1.0/work-request/${res.json.id}/`, { token: key('viewer') });
    expect(done.json).toMatchObject({ status: 'completed', result: 'success', run: { name: 'nightly', number: '1', status: 'finished' } });
  });

  it('404 "Workflow template not found" for an unknown template; 400 "Cannot create workflow" for bad input, creating nothing', async () => {
    const missing = await start({ template_name: 'nope', workspace: 'priv' });
    expect(missing.status).toBe(404);
    expect(JSON.stringify(missing.json)).toContain('Workflow template not found');
    const bad = await start({ template_name: 'nightly', workspace: 'priv', task_data: { unexpected: 1 } });
    expect(bad.status).toBe(400);
    expect(bad.json.title).toBe('Cannot create workflow');
    const unknownField = await start({ template_name: 'nightly', workspace: 'priv', priority: 5 });
    expect(unknownField.status).toBe(400);
    expect(unknownField.json.title).toBe('Cannot create workflow');
    expect((await world.deps.workRequests.list({ scope: 'debusine', limit: 100 })).items.filter((wr) => wr.taskType === 'Workflow')).toEqual([]);
  });

  it('a viewer may not start one', async () => {
    expect((await start({ template_name: 'nightly', workspace: 'priv' }, key('viewer'))).status).toBe(403);
  });

  it('shows the tree of a workflow and finds runs by REANA lookup', async () => {
    const one = (await start({ template_name: 'nightly', workspace: 'priv' })).json;
    const two = (await start({ template_name: 'nightly', workspace: 'priv' })).json;
    await settle();
    const tree = await http('GET', `/api/1.0/workflow/${one.id}/`, { token: key('viewer') });
    expect(tree.status).toBe(200);
    expect(tree.json).toEqual({ workflow: expect.objectContaining({ id: one.id, status: 'completed' }), children: [] });

    const latest = await http('GET', '/api/1.0/workflow/?workspace=priv&name=nightly', { token: key('viewer') });
    expect(latest.json).toMatchObject({ id: two.id, run: { number: '2' } });
    expect((await http('GET', '/api/1.0/workflow/?workspace=priv&name=nightly.1', { token: key('viewer') })).json.id).toBe(one.id);
    expect((await http('GET', '/api/1.0/workflow/?workspace=priv&name=nightly.9', { token: key('viewer') })).status).toBe(404);
    expect((await http('GET', '/api/1.0/workflow/?workspace=priv', { token: key('viewer') })).status).toBe(400);
    expect((await http('GET', '/api/1.0/workflow/?workspace=priv&name=nightly', { token: key('outsider') })).status).toBe(404);
  });

  it('nests children in the tree, with sub-workflows recursively', async () => {
    // A hand-made graph: root → [worker child, sub-workflow → [grandchild]].
    const root = (await start({ template_name: 'nightly', workspace: 'priv' })).json;
    const base = (await world.deps.workRequests.get(root.id))!;
    const child = (id: number, parent: number, taskType: 'Worker' | 'Workflow') => ({
      ...base,
      id,
      parent,
      taskType,
      taskName: 'noop',
      status: 'blocked' as const,
      run: null,
      internalCollection: null,
      workflowData: { display_name: `child ${id}` },
      version: 1,
    });
    await world.deps.workRequests.commit({ create: [child(9001, root.id, 'Worker'), child(9002, root.id, 'Workflow')] });
    await world.deps.workRequests.commit({ create: [child(9003, 9002, 'Worker')] });
    const tree = (await http('GET', `/api/1.0/workflow/${root.id}/`, { token: key('viewer') })).json;
    expect(tree.workflow.id).toBe(root.id);
    expect(tree.children.map((n: any) => [n.work_request.id, n.children.map((g: any) => g.work_request.id)])).toEqual([
      [9001, []],
      [9002, [9003]],
    ]);
    expect(tree.children[0].work_request).toMatchObject({ parent: root.id, run: null, internal_collection: null, workflow_data: { display_name: 'child 9001' } });
  });
});

describe('orchestrator handler', () => {
  const record = (body: string, group: string, id: string) => ({ messageId: id, body, attributes: { MessageGroupId: group } }) as unknown as SQSRecord;

  it('runs each step, reports a failed one, holds later steps of its root in the batch, and drops malformed ones', async () => {
    const errors = jest.spyOn(logger, 'error').mockImplementation(() => undefined);
    const seen: OrchestrationMessage[] = [];
    const handler = orchestratorHandler(
      () => world.deps,
      async (_deps, m) => {
        seen.push(m);
        if (m.workRequestId === 2) throw new Error('boom');
      },
    );
    const body = (rootId: number, workRequestId: number) => JSON.stringify({ type: 'orchestration', rootId, kind: 'child-finished', workRequestId });
    const res = await handler({
      Records: [
        record(body(1, 1), '1', 'a'),
        record(body(1, 2), '1', 'b'),
        record(body(1, 3), '1', 'c'),
        record(body(5, 4), '5', 'd'),
        record('{"type":"orchestration"}', '5', 'e'),
      ],
    } as SQSEvent);
    expect(seen.map((m) => m.workRequestId)).toEqual([1, 2, 4]);
    expect(seen[0]).toEqual({ rootId: 1, kind: 'child-finished', workRequestId: 1 });
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: 'b' }, { itemIdentifier: 'c' }]);
    expect(errors).toHaveBeenCalledTimes(2);
    errors.mockRestore();
  });
});

describe('retry and abort of a workflow (the CLI goes through the work-request endpoints)', () => {
  it('aborts a queued workflow and retries it: it runs again under the same id and completes', async () => {
    await createTemplate(key('owner'), { name: 'nightly', task_name: 'noop', workspace: 'priv' });
    const wf = (await http('POST', '/api/1.0/workflow/', { token: key('contributor'), body: { template_name: 'nightly', workspace: 'priv' } })).json;
    const aborted = await http('POST', `/api/1.0/work-request/${wf.id}/abort/`, { token: key('contributor'), body: {} });
    expect(aborted.status).toBe(200);
    expect(aborted.json).toMatchObject({ id: wf.id, status: 'aborted' });
    expect(['stopped', 'failed']).toContain(aborted.json.run.status);
    const retried = await http('POST', `/api/1.0/work-request/${wf.id}/retry/`, { token: key('contributor'), body: {} });
    expect(retried.status).toBe(200);
    // A workflow restarts in place: same id, run 1.1 (REANA's restart numbering).
    expect(retried.json).toMatchObject({ id: wf.id, status: 'running', run: { name: 'nightly', number: '1.1', status: 'running' } });
    await settle();
    expect((await http('GET', `/api/1.0/work-request/${wf.id}/`, { token: key('viewer') })).json).toMatchObject({
      status: 'completed',
      result: 'success',
      run: { number: '1.1', status: 'finished' },
    });
  });
});
