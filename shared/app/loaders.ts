/** Loading what a caller names, with the access check every use case makes first. */
import { NotFoundError } from '../domain/errors';
import type { Role } from '../domain/roles';
import type { WorkRequest } from '../domain/work-requests';
import type { Deps } from '../ports';
import { accessWorkspace, type Caller } from './auth';

export const workRequestNotFound = (id: number) => new NotFoundError('Not found', `No WorkRequest matches the given query (id ${id}).`);

/** Loads a request the caller may see (workers see everything, like in Debusine), with the caller's role. */
export async function loadWorkRequest(deps: Deps, caller: Caller, id: number): Promise<{ wr: WorkRequest; role: Role | undefined }> {
  const wr = await deps.workRequests.get(id);
  if (!wr) throw workRequestNotFound(id);
  const { role } = await accessWorkspace(deps, caller, wr.scope, wr.workspace, 'viewer', () => workRequestNotFound(id));
  return { wr, role };
}
