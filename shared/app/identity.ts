import { workspaceAccess, type Role } from '../domain/roles';
import type { Deps } from '../ports';
import { isAdmin, type Caller } from './auth';

export function whoami(caller: Caller) {
  return {
    user: caller.kind === 'user' ? caller.user.username : null,
    auth: caller.kind !== 'anonymous',
    worker_token: caller.kind === 'worker',
    ...(caller.kind === 'worker' ? { worker: caller.worker.name } : {}),
    is_admin: isAdmin(caller),
  };
}

/** The workspaces of a scope the caller can see, with the caller's effective role. */
export async function listVisibleWorkspaces(deps: Deps, caller: Caller, scope: string) {
  const all = await deps.identity.listWorkspaces(scope);
  const granted = new Map<string, Role>();
  if (caller.kind === 'user') {
    for (const g of await deps.identity.listRolesOfUser(caller.user.username)) {
      if (g.scope === scope) granted.set(g.workspace, g.role);
    }
  }
  return all.flatMap((ws) => {
    const access = workspaceAccess({ isAdmin: isAdmin(caller), granted: granted.get(ws.name), workspacePublic: ws.public });
    return access.canSee ? [{ workspace: ws, role: access.role }] : [];
  });
}
