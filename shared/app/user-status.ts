/**
 * Whether a user may act: the small, isolated checks that authentication and the scheduler ask
 * (REANA: a disabled user's tokens are refused and their work does not start).
 */
import { ForbiddenError } from '../domain/errors';
import type { User } from '../domain/tenancy';
import type { Deps } from '../ports';

/**
 * Work acting for a disabled user (its lookups, workflow steps, collection updates): refused with
 * 403 "Creator disabled", a class of its own so that the orchestrator can end the step with a clear
 * code (`creator-disabled`) instead of retrying it.
 */
export class CreatorDisabledError extends ForbiddenError {
  constructor(username: string) {
    super('Creator disabled', `user "${username}" is disabled: work it created does not act for it until an administrator enables it`);
  }
}

/** Authentication's one question about accounts: every token of a disabled user answers 403. */
export function refuseDisabledUser(user: User): void {
  if (user.disabled) throw new ForbiddenError('User disabled', `user "${user.username}" is disabled; ask an administrator to enable it`);
}

/**
 * The scheduler's one question: is the creator of this work disabled? One read per distinct
 * creator per pass (the cache lives for one pass).
 */
export async function isCreatorDisabled(deps: Deps, createdBy: string, cache: Map<string, boolean>): Promise<boolean> {
  if (!createdBy.startsWith('user:')) return false;
  const username = createdBy.slice('user:'.length);
  let disabled = cache.get(username);
  if (disabled === undefined) {
    disabled = Boolean((await deps.identity.getUser(username))?.disabled);
    cache.set(username, disabled);
  }
  return disabled;
}
