import { ValidationError } from '../domain/errors';
import type { TaskType } from '../domain/work-requests';
import { effectiveMetadata, taskAllowedByLists, workerArchitectures, type Metadata, type Worker } from '../domain/workers';
import { BUILTIN_TASKS } from './builtin';
import { WORKER_TYPE_FOR_TASK_TYPE, type TaskDefinition } from './types';
import { zodFieldErrors } from '../domain/zod-errors';

export * from './types';

const REGISTRY = new Map<string, TaskDefinition>(BUILTIN_TASKS.map((t) => [`${t.taskType}/${t.name}`, t]));

export function findTask(taskType: TaskType, name: string): TaskDefinition | undefined {
  return REGISTRY.get(`${taskType}/${name}`);
}

/** Every registered task, for workers advertising what they can run. */
export function allTasks(): TaskDefinition[] {
  return [...REGISTRY.values()];
}

/** Validates task data against the task's strict schema; returns it with defaults filled in. */
export function validateTaskData(task: TaskDefinition, data: unknown, field = 'task_data'): Record<string, unknown> {
  const parsed = task.schema.safeParse(data ?? {});
  if (parsed.success) return parsed.data as Record<string, unknown>;
  const errors = Object.fromEntries(
    Object.entries(zodFieldErrors(parsed.error)).map(([k, v]) => [k === '(body)' ? field : `${field}.${k}`, v]),
  );
  throw new ValidationError('Invalid task_data', errors);
}

/** The metadata key prefix of a task: `noop:` for Worker tasks, `<type>:<name>:` for others (Debusine). */
export function metadataPrefix(task: Pick<TaskDefinition, 'taskType' | 'name'>): string {
  return task.taskType === 'Worker' ? `${task.name}:` : `${task.taskType.toLowerCase()}:${task.name}:`;
}

/**
 * Whether a worker can run this task with this data (Debusine's `can_run_on` plus Conveyor's
 * resource requirements). Returns the first reason it cannot, for logs and tests.
 */
export function cannotRunReason(task: TaskDefinition, data: Record<string, unknown>, worker: Pick<Worker, 'staticMetadata' | 'dynamicMetadata' | 'workerType'>): string | undefined {
  const md: Metadata = effectiveMetadata(worker);
  const neededType = WORKER_TYPE_FOR_TASK_TYPE[task.taskType];
  const workerType = (md['system:worker_type'] as string | undefined) ?? worker.workerType;
  if (!neededType || workerType !== neededType) return `a ${task.taskType} task needs a ${neededType ?? 'server'} worker`;
  if (!taskAllowedByLists(md, task.name)) return 'excluded by the worker allow/deny lists';
  const prefix = metadataPrefix(task);
  const version = md[`${prefix}version`];
  if (version !== undefined && version !== task.version) return `worker has ${task.name} version ${String(version)}, need ${task.version}`;
  // A worker that lists the tasks it runs (Debusine's and Conveyor's report `<task>:version` for each)
  // cannot run one it does not list: Debusine 0.12.1's worker has no `sleep`, so it would only fail it.
  if (version === undefined && listsTaskVersions(md)) return `worker does not list ${task.name} (no ${prefix}version)`;
  const arch = task.hostArchitecture?.(data) ?? (md['system:host_architecture'] as string | undefined);
  if (arch !== undefined && !workerArchitectures(md).includes(arch)) return `architecture ${arch} not supported`;
  const req = task.requirements?.(data) ?? {};
  if (req.memory !== undefined && !(Number(md['system:total_physical_memory']) >= req.memory)) return 'not enough memory';
  if (req.disk !== undefined && !(Number(md['system:free_disk']) >= req.disk)) return 'not enough free disk';
  if (req.executor !== undefined && md[`executor:${req.executor}:available`] !== true) return `executor ${req.executor} unavailable`;
  for (const flag of req.flags ?? []) if (md[flag] !== true) return `${flag} is not true`;
  return undefined;
}

/** Whether the metadata names task versions (`noop:version`, …): a worker without any is assumed to run every task. */
function listsTaskVersions(md: Metadata): boolean {
  return Object.keys(md).some((key) => key.endsWith(':version'));
}

export function canRunOn(task: TaskDefinition, data: Record<string, unknown>, worker: Pick<Worker, 'staticMetadata' | 'dynamicMetadata' | 'workerType'>): boolean {
  return cannotRunReason(task, data, worker) === undefined;
}
