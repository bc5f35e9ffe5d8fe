/**
 * The Worker tasks as a worker runs them: each definition with its `execute`. The definitions that
 * the functions see (shared/tasks/index.ts) leave the big executors out, so that no Lambda bundle
 * carries code only a worker runs (docs/decisions.md, "Per-function adapters").
 */
import type { TaskType } from '../domain/work-requests';
import { executeGitImport } from './git-import';
import { allTasks, findTask, type TaskDefinition } from './index';
import { executeLintian } from './lintian';
import { executeMkdeb } from './mkdeb';

const EXECUTORS: Record<string, TaskDefinition['execute']> = {
  'Worker/lintian': executeLintian as TaskDefinition['execute'],
  'Worker/mkdeb': executeMkdeb as TaskDefinition['execute'],
  'Worker/git-import': executeGitImport as TaskDefinition['execute'],
};

function withExecutor(task: TaskDefinition): TaskDefinition {
  const execute = EXECUTORS[`${task.taskType}/${task.name}`];
  return execute ? { ...task, execute } : task;
}

/** `findTask`, with the task's `execute` when a worker can run it. */
export function runnableTask(taskType: TaskType, name: string): TaskDefinition | undefined {
  const task = findTask(taskType, name);
  return task && withExecutor(task);
}

/** `allTasks`, each with its `execute` when a worker can run it. */
export function allRunnableTasks(): TaskDefinition[] {
  return allTasks().map(withExecutor);
}
