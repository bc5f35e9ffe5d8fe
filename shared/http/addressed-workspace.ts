import { DEFAULT_WORKSPACE, type WorkspaceRef } from '../domain/tenancy';
import type { HttpRequest } from './request';

/**
 * The scope and workspace a request addresses: the request's scope, and the workspace its body or
 * query names, else Debusine's default one ("System").
 */
export function addressedWorkspace(req: Pick<HttpRequest, 'scope'>, input: { workspace?: string | undefined }): WorkspaceRef {
  return { scope: req.scope, workspace: input.workspace ?? DEFAULT_WORKSPACE };
}
