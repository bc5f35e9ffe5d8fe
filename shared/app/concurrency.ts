/**
 * How use cases live with optimistic concurrency: every change is a conditional write that fails
 * with ConflictError when someone else changed the item first.
 */
import { ConflictError } from '../domain/errors';

/** How many times a use case re-reads and retries after losing a race on the same item. */
const RACE_RETRIES = 5;

/** Re-reads and retries `attempt` when it loses a race; gives up with the last ConflictError. */
export async function withRetries<T>(attempt: () => Promise<T>): Promise<T> {
  let last: unknown;
  for (let i = 0; i < RACE_RETRIES; i++) {
    try {
      return await attempt();
    } catch (err) {
      ignoreConflict(err);
      last = err;
    }
  }
  throw last;
}

/**
 * For `.catch(ignoreConflict)` where losing the race means someone else did the same thing
 * (finished the request, added the item): a ConflictError is swallowed, anything else rethrown.
 */
export function ignoreConflict(err: unknown): void {
  if (!(err instanceof ConflictError)) throw err;
}
