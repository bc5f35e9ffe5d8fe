/**
 * noop and sleep without zod (shared/tasks/trivial.ts): the task process runs them without the
 * registry only for data their schemas accept unchanged, so the outcome, the log and every
 * validation error are those of the registry path (cli/worker/registered-task.ts).
 */
import { tmpdir } from 'node:os';
import { prepareRegisteredTask } from '../../cli/worker/registered-task';
import type { ChildRequest } from '../../cli/worker/protocol';
import { executeChildRequest } from '../../cli/worker/task-runner';
import { findTask, validateTaskData } from '../../shared/tasks';
import { trivialTaskRun } from '../../shared/tasks/trivial';

const request = (task_name: string, task_data: unknown): ChildRequest => ({
  server: 'http://127.0.0.1:9',
  token: '',
  work_request: { id: 7, task_name, task_data: task_data as Record<string, unknown> },
  work_dir: tmpdir(),
});

/** Outcome and log lines of one request through the registry and its schema only. */
async function throughRegistry(req: ChildRequest): Promise<{ outcome: unknown; lines: string[] }> {
  const lines: string[] = [];
  const run = prepareRegisteredTask(req, { log: (l) => lines.push(l) }, new AbortController().signal);
  if (typeof run !== 'function') return { outcome: run, lines };
  const outcome = await run();
  return { outcome: { result: outcome.result }, lines };
}

const NOOP_DATA: unknown[] = [
  {},
  undefined,
  null,
  { result: true },
  { result: false },
  { result: undefined },
  { required_memory: 1, required_disk: 2 ** 40 },
  { result: false, required_memory: 1024 },
  // Refused or changed by the schema: the registry's answer, whatever the fast path thinks.
  { result: 'yes' },
  { result: 1 },
  { result: null },
  { bogus: 1 },
  { result: true, bogus: 1 },
  { required_memory: 0 },
  { required_memory: -1 },
  { required_memory: 1.5 },
  { required_memory: 2 ** 60 },
  { required_memory: '1' },
  [],
  [true],
  'noop',
  7,
  JSON.parse('{"__proto__": {"result": false}}'),
  Object.create({ result: false }),
];

const SLEEP_DATA: unknown[] = [
  { seconds: 0 },
  { seconds: 0.01 },
  { seconds: 0, result: false },
  { seconds: -0 },
  // Refused by the schema.
  {},
  undefined,
  { seconds: -1 },
  { seconds: 86_401 },
  { seconds: Number.NaN },
  { seconds: Number.POSITIVE_INFINITY },
  { seconds: '1' },
  { seconds: 0, result: 'no' },
  { seconds: 0, extra: true },
  [],
];

describe.each([
  ['noop', NOOP_DATA],
  ['sleep', SLEEP_DATA],
])('%s', (taskName, cases) => {
  it.each(cases.map((data) => [JSON.stringify(data) ?? String(data), data]))('data %s: the same outcome and log as through the registry', async (_label, data) => {
    const lines: string[] = [];
    const outcome = await executeChildRequest(request(taskName, data), { log: (l) => lines.push(l) });
    expect({ outcome, lines }).toEqual(await throughRegistry(request(taskName, data)));
  });

  it('takes without the registry only data its schema accepts, with the same values', () => {
    const task = findTask('Worker', taskName)!;
    let taken = 0;
    for (const data of cases) {
      const ctx = { log: () => undefined, signal: new AbortController().signal };
      if (!trivialTaskRun(taskName, data, ctx)) continue;
      taken++;
      expect(() => validateTaskData(task, data)).not.toThrow();
    }
    // The valid data listed first is all taken: the cases above do reach the fast path.
    expect(taken).toBe(taskName === 'noop' ? 8 : 4);
  });
});

it('other tasks never take the fast path', () => {
  const ctx = { log: () => undefined, signal: new AbortController().signal };
  for (const name of ['servernoop', 'lintian', 'mkdeb', 'git-import', 'NOOP', 'delay']) expect(trivialTaskRun(name, {}, ctx)).toBeUndefined();
});

it('an aborted sleep fails as execute-failed, as before', async () => {
  const controller = new AbortController();
  controller.abort();
  const lines: string[] = [];
  const outcome = await executeChildRequest(request('sleep', { seconds: 5 }), { log: (l) => lines.push(l), signal: controller.signal });
  expect(outcome).toEqual({ result: 'error', output_data: { errors: [{ code: 'execute-failed', message: 'aborted' }] } });
  expect(lines).toEqual(['sleep failed: aborted']);
});
