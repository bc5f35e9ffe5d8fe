import { auditAction, type AuditAction } from '../domain/audit-actions';
import type { Deps } from '../ports';

/** Appends one security-relevant action to the audit log; an action not in AUDIT_ACTIONS is refused. */
export async function recordAudit(deps: Deps, actor: string, action: AuditAction, details: Record<string, unknown>): Promise<void> {
  // Every entry names who acted (security finding 7): an entry without an actor is a bug.
  if (typeof actor !== 'string' || actor.trim() === '') throw new Error(`audit entry ${action} without an actor`);
  const known = auditAction(action);
  const at = deps.clock.now().toISOString();
  await deps.audit.append({ id: deps.ids.random(), at, actor, action: known, details });
}
