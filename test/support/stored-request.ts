/** Stores a work request (finished unless told otherwise) straight into a memory repository: the expiry tests' fixture. */
import type { MemoryDeps } from '../../shared/adapters/memory';
import { newWorkRequest, type WorkRequest } from '../../shared/domain/work-requests';

export function storeRequest(deps: MemoryDeps, workspace: string, id: number, fields: Partial<WorkRequest> = {}): WorkRequest {
  const now = deps.clock.now().toISOString();
  const wr: WorkRequest = {
    ...newWorkRequest({ id, scope: 'debusine', workspace, createdBy: 'user:owner', taskType: 'Worker', taskName: 'noop', taskData: {}, createdAt: now }),
    status: 'completed',
    result: 'success',
    completedAt: now,
    ...fields,
  };
  deps.workRequests.items.set(id, wr);
  return wr;
}
