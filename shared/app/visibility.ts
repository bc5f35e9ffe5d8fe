import { NotFoundError } from '../domain/errors';
import type { Deps } from '../ports';
import { accessWorkspace, type Caller } from './auth';

/**
 * Whether the caller may see a workspace, asked once per workspace: for filtering lists that mix
 * workspaces (work requests, a worker's current work) without revealing the hidden ones.
 */
export function workspaceVisibility(deps: Deps, caller: Caller): (scope: string, workspace: string) => Promise<boolean> {
  const known = new Map<string, Promise<boolean>>();
  return (scope, workspace) => {
    const key = `${scope}\u0000${workspace}`;
    let answer = known.get(key);
    if (!answer) {
      answer = accessWorkspace(deps, caller, scope, workspace, 'viewer').then(
        () => true,
        (err) => {
          if (err instanceof NotFoundError) return false;
          throw err;
        },
      );
      known.set(key, answer);
    }
    return answer;
  };
}
