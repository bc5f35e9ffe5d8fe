/** Workspace roles, weakest first. Each role includes every weaker one. */
export const ROLES = ['viewer', 'uploader', 'contributor', 'owner'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

export function roleAtLeast(held: Role | undefined, needed: Role): boolean {
  if (!held) return false;
  return ROLES.indexOf(held) >= ROLES.indexOf(needed);
}

/** What a caller may do in one workspace, worked out once per request. */
export interface WorkspaceAccess {
  /** The caller may see that the workspace exists. */
  canSee: boolean;
  /** The effective role: the granted role, viewer for a public workspace, owner for an admin. */
  role: Role | undefined;
}

export function workspaceAccess(opts: {
  isAdmin: boolean;
  granted: Role | undefined;
  workspacePublic: boolean;
}): WorkspaceAccess {
  if (opts.isAdmin) return { canSee: true, role: 'owner' };
  const role = opts.granted ?? (opts.workspacePublic ? 'viewer' : undefined);
  return { canSee: role !== undefined, role };
}

/**
 * Whether the caller may change an artifact: contributors change anything, uploaders
 * only what they created themselves.
 */
export function canModifyArtifact(role: Role | undefined, callerId: string | undefined, createdBy: string): boolean {
  if (roleAtLeast(role, 'contributor')) return true;
  return roleAtLeast(role, 'uploader') && callerId !== undefined && callerId === createdBy;
}
