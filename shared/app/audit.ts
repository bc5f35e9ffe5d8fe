import type { Deps } from '../ports';

/** Appends one security-relevant action to the audit log. */
export async function recordAudit(deps: Deps, actor: string, action: string, details: Record<string, unknown>): Promise<void> {
  const at = deps.clock.now().toISOString();
  await deps.audit.append({ id: deps.ids.random(), at, actor, action, details });
}
