/**
 * A task process's way to any Worker task of the registry: find it, check it may run here, validate
 * its data with its schema and give it its context. Loaded by task-runner.ts on first use only, since
 * it brings zod and every task's schema with it, which noop and sleep need not (shared/tasks/trivial.ts).
 */
import { validateTaskData, type TaskOutcome } from '../../shared/tasks';
import { runnableTask } from '../../shared/tasks/executors';
import { ConveyorApi, type FetchFn } from '../client/api';
import { errorMessage } from './log';
import { errorOutcome, type ChildOutcome, type ChildRequest } from './protocol';
import { createTaskContext } from './task-context';

/** The task's run, ready to start; or the configure-failed outcome that stops it before it starts. */
export function prepareRegisteredTask(request: ChildRequest, io: { log: (line: string) => void; fetch?: FetchFn }, signal: AbortSignal): ChildOutcome | (() => Promise<TaskOutcome>) {
  const { task_name: taskName, task_data: taskData, id } = request.work_request;
  const dynamicData = (request.work_request.dynamic_task_data ?? {}) as Record<string, unknown>;
  const task = runnableTask('Worker', taskName);
  if (!task || typeof task.execute !== 'function') {
    return errorOutcome('configure-failed', `${taskName} is not a Worker task this worker can run`);
  }
  if (!request.token && task.usesServer !== false) {
    return errorOutcome('configure-failed', `${taskName} calls the server, but the worker started it without a task token`);
  }
  let data: Record<string, unknown>;
  try {
    data = validateTaskData(task, taskData);
  } catch (err) {
    return errorOutcome('configure-failed', errorMessage(err));
  }
  const api = new ConveyorApi({ server: request.server, token: request.token, scope: request.scope }, io.fetch ?? fetch);
  let inputArtifacts: number[];
  try {
    inputArtifacts = task.inputArtifacts?.(data, dynamicData) ?? [];
  } catch (err) {
    return errorOutcome('configure-failed', errorMessage(err));
  }
  const ctx = createTaskContext({ api, dynamicData, workRequestId: id, inputArtifacts, workDir: request.work_dir, log: io.log, signal });
  const execute = task.execute;
  return () => execute(data, ctx);
}
