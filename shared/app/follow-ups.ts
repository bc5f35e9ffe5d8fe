/**
 * What follows a committed change (unblocking dependents, reactions, notifications, usage
 * accounting) runs on its own: a failure there never undoes or retries the commit. The use case
 * hands such failures back to its caller, which decides what is worth a log line.
 */

/** A step that follows a committed change and failed even after its own retries. */
export interface FollowUpFailure {
  step: string;
  /** The work request (or artifact) whose committed change the step followed. */
  workRequestId?: number;
  artifactId?: number;
  error: unknown;
}
