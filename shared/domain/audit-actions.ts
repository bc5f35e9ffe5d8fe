/**
 * The audit log's closed list of actions (REANA's AuditLogAction enum, with Conveyor's own
 * actions): recording an action not listed here is refused (behaviour 35), so a typo never
 * lands in the log as a new kind of event. Add new actions here.
 */
import { ValidationError } from './errors';

export const AUDIT_ACTIONS = [
  // REANA's three, by their REANA names (AuditLogAction: request_token 0, grant_token 1, revoke_token 2).
  'request_token',
  'grant_token',
  'revoke_token',
  'user.create',
  'user.disable',
  'user.enable',
  'token.create',
  'token.enable',
  'token.disable',
  'token.revoke',
  'workspace.create',
  'workspace.update',
  'role.grant',
  'role.revoke',
  'artifact.delete',
  // The expiry pass (shared/app/expiry.ts): what it deleted, and each S3 object it removed.
  'artifact.expired',
  'blob.deleted',
  // Its collection-item retention step: a removed item's artifact link dropped (metadata only), its row deleted.
  'collection-item.link-dropped',
  'collection-item.deleted',
  // Its token step: a token past its expiry date deleted.
  'token.expired',
  // Its work-request step: a finished, expired request deleted (a workflow tree goes as a whole).
  'work-request.expired',
  'collection.expired',
  'worker.register',
  'worker.activation-token',
  'worker.concurrency',
  'worker.disable',
  'worker.enable',
  'worker.static-metadata',
  'notification-channel.create',
  'notification-channel.update',
  'quota.set',
  'quota.recompute',
  'db.upgrade',
  'db.downgrade',
  'db.stamp',
  // The expiry pass's workspace step: a workspace deleted once past its expiration_delay.
  'workspace.expired',
  // ... with its contents: templates (with their run records) and recurring jobs (with their history).
  'workflow-template.expired',
  'recurring-job.expired',
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export function isAuditAction(value: string): value is AuditAction {
  return (AUDIT_ACTIONS as readonly string[]).includes(value);
}

/** REANA's `log_action`: accepts a known action name, refuses anything else. */
export function auditAction(name: string): AuditAction {
  if (!isAuditAction(name)) throw ValidationError.field('action', `unknown audit action "${name}"`, 'Invalid audit action');
  return name;
}
