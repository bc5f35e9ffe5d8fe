import type { WorkRequest } from '../domain/work-requests';
import { findTask } from './index';

/**
 * The artifacts a work request reads, as its task declares them (from its task data and, once
 * assigned, its resolved dynamic data). Expiry keeps them while the request is pending, blocked or
 * running. Tasks that declare nothing read nothing.
 */
export function inputArtifactsOf(wr: Pick<WorkRequest, 'taskType' | 'taskName' | 'taskData' | 'dynamicTaskData'>): number[] {
  const task = findTask(wr.taskType, wr.taskName);
  try {
    return task?.inputArtifacts?.(wr.taskData, wr.dynamicTaskData ?? {}) ?? [];
  } catch {
    return []; // task data this task version cannot read declares no inputs
  }
}
