/**
 * Administrator operations offered over REST (the web UI's workers and audit pages): each checks
 * that the caller is an administrator, then reuses the use case behind the `conveyor admin`
 * command, so the CLI and the API cannot drift apart.
 */
import { ForbiddenError } from '../domain/errors';
import type { AuditEntry } from '../domain/tenancy';
import type { Worker } from '../domain/workers';
import type { Deps, Page } from '../ports';
import { isAdmin, requireUser, type Caller } from './auth';
import { listAudit } from './admin';
import { disableWorker, enableWorker } from './workers';

/** The actor recorded in the audit log for an administrator's call. */
function requireAdminActor(caller: Caller): string {
  requireUser(caller);
  if (!isAdmin(caller)) throw new ForbiddenError('Permission denied', 'this endpoint is for administrators');
  return `user:${caller.user.username}`;
}

export function setWorkerEnabledAs(deps: Deps, caller: Caller, name: string, enabled: boolean, expectedFingerprint?: string): Promise<Worker> {
  const actor = requireAdminActor(caller);
  return enabled ? enableWorker(deps, actor, name, expectedFingerprint) : disableWorker(deps, actor, name);
}

/** Newest first; the cursor is the previous page's, unchanged. */
export function listAuditAs(deps: Deps, caller: Caller, input: { limit: number; cursor?: string }): Promise<Page<AuditEntry>> {
  requireAdminActor(caller);
  return listAudit(deps, input);
}
