/** `conveyor workflow-template ...` and `conveyor workflow ...` against a fake API (fetch replaced). */
import { Command } from 'commander';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerClientCommands } from '../../cli/client/commands';
import { DEFAULT_UPLOAD_TUNING } from '../../cli/client/upload';
import {
  describeWorkflowTree,
  readTaskDataOption,
  registerWorkflowCommands,
  type WireWorkflowRequest,
  type WireWorkflowTemplate,
  type WireWorkflowTree,
} from '../../cli/client/workflows';
import { fakeApiFetch, type ApiCall } from '../support/fake-api';
import { wireWorkRequest } from '../support/wire';

function wr(id: number, overrides: Partial<WireWorkflowRequest> = {}): WireWorkflowRequest {
  return { ...wireWorkRequest(id, { task_data: {}, workspace: 'team' }), run: null, internal_collection: null, ...overrides };
}

const TEMPLATE: WireWorkflowTemplate = {
  id: 4,
  url: 'https://c.example/api/1.0/workflow-template/4/',
  name: 'nightly',
  scope: 'debusine',
  workspace: 'team',
  task_name: 'build-and-lint',
  task_data: { architectures: ['amd64'] },
  priority: 0,
};

type Seen = Omit<ApiCall, 'headers'>;

describe('conveyor workflow-template / workflow', () => {
  let seen: Seen[];
  let answer: (s: Seen) => { status: number; body?: unknown };
  let stdout: string;
  let dir: string;

  beforeEach(() => {
    seen = [];
    dir = mkdtempSync(join(tmpdir(), 'conveyor-cli-wf-'));
    answer = () => ({ status: 404, body: { title: 'Not found' } });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const run = async (...args: string[]): Promise<string> => {
    stdout = '';
    const program = new Command().exitOverride().configureOutput({ writeErr: () => {} });
    // The workflow commands' calls are compared whole, without their headers.
    const fakeFetch = fakeApiFetch(({ headers: _headers, ...s }) => {
      seen.push(s);
      return answer(s);
    });
    registerWorkflowCommands(program, {
      env: { CONVEYOR_SERVER: 'https://c.example', CONVEYOR_TOKEN: 't'.repeat(64) },
      cwd: () => dir,
      homeDir: dir,
      stdout: { write: (chunk: string) => (stdout += chunk) },
      stderr: { write: () => true },
      fetch: fakeFetch,
      uploadTuning: DEFAULT_UPLOAD_TUNING,
    });
    await program.parseAsync(args, { from: 'user' });
    return stdout;
  };

  it('is registered with the client commands', () => {
    const program = new Command();
    registerClientCommands(program);
    const names = (group: string) => program.commands.find((c) => c.name() === group)?.commands.map((c) => c.name()).sort();
    expect(names('workflow-template')).toEqual(['create', 'delete', 'list', 'show']);
    expect(names('workflow')).toEqual(['abort', 'retry', 'show', 'start']);
  });

  describe('workflow-template', () => {
    it('creates from --data, or from a YAML or JSON --data-file', async () => {
      answer = () => ({ status: 201, body: TEMPLATE });
      expect(await run('workflow-template', 'create', 'nightly', '--task-name', 'build-and-lint', '--data', '{"architectures":["amd64"]}', '--workspace', 'team')).toBe(
        'Created workflow template 4 "nightly" in team\n',
      );
      expect(seen[0]).toEqual({
        method: 'POST',
        path: 'workflow-template/',
        body: { name: 'nightly', task_name: 'build-and-lint', task_data: { architectures: ['amd64'] }, priority: 0, workspace: 'team' },
      });
      writeFileSync(join(dir, 'data.yaml'), 'architectures:\n  - amd64\n  - arm64\nfail_on_severity: warning\n');
      await run('workflow-template', 'create', 'nightly', '--task-name', 'build-and-lint', '--data-file', 'data.yaml', '--priority', '-3', '--workspace', 'team');
      expect(seen[1]!.body).toMatchObject({ task_data: { architectures: ['amd64', 'arm64'], fail_on_severity: 'warning' }, priority: -3 });
      writeFileSync(join(dir, 'data.json'), '{"architectures": ["i386"]}');
      await run('workflow-template', 'create', 'x', '--task-name', 'noop', '--data-file', 'data.json', '--workspace', 'team');
      expect(seen[2]!.body).toMatchObject({ task_data: { architectures: ['i386'] } });
    });

    it('needs --workspace and --task-name, and refuses bad data before any request', async () => {
      await expect(run('workflow-template', 'create', 'n', '--task-name', 'noop')).rejects.toThrow(/--workspace/);
      await expect(run('workflow-template', 'create', 'n', '--workspace', 'w')).rejects.toThrow(/--task-name/);
      await expect(run('workflow-template', 'create', 'n', '--task-name', 'noop', '--workspace', 'w', '--priority', 'high')).rejects.toThrow(/--priority/);
      writeFileSync(join(dir, 'list.yaml'), '- a\n- b\n');
      await expect(run('workflow-template', 'create', 'n', '--task-name', 'noop', '--workspace', 'w', '--data-file', 'list.yaml')).rejects.toThrow(
        /must be a JSON object/,
      );
      expect(seen).toEqual([]);
    });

    it('lists, shows and deletes', async () => {
      answer = (s) => (s.method === 'DELETE' ? { status: 204 } : s.path.startsWith('workflow-template/?') ? { status: 200, body: { results: [TEMPLATE], next: null, previous: null, cursor: null } } : { status: 200, body: TEMPLATE });
      const table = await run('workflow-template', 'list', '--workspace', 'team');
      expect(seen[0]!.path).toBe('workflow-template/?workspace=team');
      expect(table.split('\n')[0]).toMatch(/^ID\s+NAME\s+TASK\s+PRIORITY\s+TASK DATA$/);
      expect(table).toMatch(/\n4\s+nightly\s+build-and-lint\s+0\s+\{"architectures":\["amd64"\]\}/);
      const shown = await run('workflow-template', 'show', '4');
      expect(seen[1]!.path).toBe('workflow-template/4/');
      expect(shown).toContain('Workflow template 4  nightly');
      expect(shown).toContain('task name  build-and-lint');
      expect(JSON.parse(await run('workflow-template', '--json', 'show', '4'))).toEqual(TEMPLATE);
      expect(await run('workflow-template', 'delete', '4')).toBe('Deleted workflow template 4\n');
      expect(seen[3]).toMatchObject({ method: 'DELETE', path: 'workflow-template/4/' });
      await expect(run('workflow-template', 'show', 'x')).rejects.toThrow(/Invalid template id/);
    });
  });

  describe('workflow', () => {
    it('starts a workflow with run-time data and prints its id and run', async () => {
      answer = () => ({ status: 201, body: wr(30, { task_type: 'Workflow', run: { name: 'nightly', number: '3', status: 'queued' } }) });
      writeFileSync(join(dir, 'run.yml'), 'package: hello\nversion: "1.0-1"\n');
      expect(await run('workflow', 'start', 'nightly', '--workspace', 'team', '--data-file', 'run.yml')).toBe('Started workflow 30 (nightly.3)\n');
      expect(seen[0]).toEqual({ method: 'POST', path: 'workflow/', body: { template_name: 'nightly', workspace: 'team', task_data: { package: 'hello', version: '1.0-1' } } });
      answer = () => ({ status: 404, body: { title: 'Not found', detail: 'Workflow template not found' } });
      await expect(run('workflow', 'start', 'nope', '--workspace', 'team')).rejects.toThrow(/Workflow template not found/);
    });

    const tree: WireWorkflowTree = {
      workflow: wr(30, {
        task_type: 'Workflow',
        task_name: 'build-and-lint',
        status: 'running',
        run: { name: 'nightly', number: '3.1', status: 'running' },
        workflow_data: { workflow_template_name: 'nightly' },
      }),
      children: [
        { work_request: wr(31, { task_name: 'mkdeb', status: 'completed', result: 'failure', superseded_by: 33, parent: 30, workflow_data: { display_name: 'build amd64' } }), children: [] },
        { work_request: wr(33, { task_name: 'mkdeb', status: 'completed', result: 'success', parent: 30 }), children: [] },
        {
          work_request: wr(34, { task_type: 'Workflow', task_name: 'noop', status: 'running', parent: 30 }),
          children: [{ work_request: wr(35, { task_type: 'Internal', task_name: 'synchronization_point', status: 'blocked', dependencies: [33], parent: 34 }), children: [] }],
        },
      ],
    };

    it('shows the tree by id, children indented under their parent with status and result', async () => {
      answer = () => ({ status: 200, body: tree });
      const out = await run('workflow', 'show', '30');
      expect(seen[0]!.path).toBe('workflow/30/');
      expect(out).toBe(
        [
          'Workflow 30  build-and-lint  running  run nightly.3.1 running',
          '  template  nightly',
          '  workspace debusine/team',
          'Children:',
          '  31  Worker/mkdeb  completed (failure)  "build amd64"  [superseded by 33]',
          '  33  Worker/mkdeb  completed (success)',
          '  34  Workflow/noop  running',
          '    35  Internal/synchronization_point  blocked  [after 33]',
          '',
        ].join('\n'),
      );
      expect(JSON.parse(await run('workflow', '--json', 'show', '30'))).toEqual(tree);
    });

    it('shows a run found by REANA lookup (NAME, NAME.N, NAME.N.M) in a workspace', async () => {
      answer = (s) => (s.path.startsWith('workflow/?') ? { status: 200, body: tree.workflow } : { status: 200, body: tree });
      await run('workflow', 'show', 'nightly.3.1', '--workspace', 'team');
      expect(seen.map((s) => s.path)).toEqual(['workflow/?name=nightly.3.1&workspace=team', 'workflow/30/']);
      await run('workflow', 'show', 'nightly');
      expect(seen[2]!.path).toBe('workflow/?name=nightly');
    });

    it('retries and aborts through the work-request endpoints', async () => {
      answer = (s) => ({
        status: 200,
        body: s.path.endsWith('retry/')
          ? wr(30, { task_type: 'Workflow', status: 'running', run: { name: 'nightly', number: '3.2', status: 'running' } })
          : wr(30, { task_type: 'Workflow', status: 'aborted', run: { name: 'nightly', number: '3.2', status: 'stopped' } }),
      });
      expect(await run('workflow', 'retry', '30')).toBe('Workflow 30: running  run nightly.3.2 running\n');
      expect(await run('workflow', 'abort', '30')).toBe('Workflow 30: aborted  run nightly.3.2 stopped\n');
      expect(seen).toEqual([
        { method: 'POST', path: 'work-request/30/retry/', body: {} },
        { method: 'POST', path: 'work-request/30/abort/', body: {} },
      ]);
      await expect(run('workflow', 'retry', 'nightly')).rejects.toThrow(/Invalid workflow id/);
    });
  });

  it('describeWorkflowTree says when there are no children yet', () => {
    expect(describeWorkflowTree({ workflow: wr(1, { task_type: 'Workflow' }), children: [] })).toContain('(no children yet)');
  });

  it('readTaskDataOption reports YAML and JSON errors with the file name', () => {
    writeFileSync(join(dir, 'bad.yaml'), 'a: [1, 2\n');
    writeFileSync(join(dir, 'bad.json'), '{"a": ');
    expect(() => readTaskDataOption({ dataFile: 'bad.yaml' }, dir)).toThrow(/--data-file bad.yaml is not valid YAML/);
    expect(() => readTaskDataOption({ dataFile: 'bad.json' }, dir)).toThrow(/--data-file bad.json is not valid JSON/);
    expect(() => readTaskDataOption({ dataFile: 'absent.yaml' }, dir)).toThrow(/Cannot read --data-file absent.yaml/);
    expect(readTaskDataOption({}, dir)).toBeUndefined();
  });
});
