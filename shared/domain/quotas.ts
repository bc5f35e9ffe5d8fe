/**
 * Quotas (REANA's model, launchpad_reana.md §B.8): two resources, `cpu` (milliseconds of
 * work-request run time) and `disk` (bytes of distinct files), per user and per workspace.
 * A limit of 0 means unlimited. Pure rules only: storage lives behind the AccountingRepository port.
 */
import { ForbiddenError, ValidationError } from './errors';

export const RESOURCES = ['cpu', 'disk'] as const;
export type Resource = (typeof RESOURCES)[number];

export const RESOURCE_INFO: Record<Resource, { title: string; unit: 'milliseconds' | 'bytes' }> = {
  cpu: { title: 'processing time', unit: 'milliseconds' },
  disk: { title: 'shared storage', unit: 'bytes' },
};

export type QuotaHealth = 'healthy' | 'warning' | 'critical';

export interface ResourceQuota {
  /** 0 means unlimited. */
  limit: number;
  used: number;
}

export type Quota = Record<Resource, ResourceQuota>;

/** Who a quota belongs to. */
export type Account = { kind: 'user'; username: string } | { kind: 'workspace'; scope: string; workspace: string };

export function accountLabel(account: Account): string {
  return account.kind === 'user' ? `user "${account.username}"` : `workspace "${account.scope}/${account.workspace}"`;
}

export function emptyQuota(limits: Partial<Record<Resource, number>> = {}): Quota {
  return { cpu: { limit: limits.cpu ?? 0, used: 0 }, disk: { limit: limits.disk ?? 0, used: 0 } };
}

export function isResource(value: unknown): value is Resource {
  return typeof value === 'string' && (RESOURCES as readonly string[]).includes(value);
}

/** REANA's `_get_quota_by_type`: only a non-zero limit has a health. */
export function quotaHealth(q: ResourceQuota): QuotaHealth | undefined {
  if (!q.limit) return undefined;
  const pct = (q.used / q.limit) * 100;
  if (pct >= 100) return 'critical';
  if (pct >= 80) return 'warning';
  return 'healthy';
}

/** REANA's `has_exceeded_quota` for one resource. */
export function isExceeded(q: ResourceQuota): boolean {
  return q.limit !== 0 && q.used >= q.limit;
}

export function exceededResources(quota: Quota): Resource[] {
  return RESOURCES.filter((r) => isExceeded(quota[r]));
}

/** `0 Bytes`, `1 KiB`, `1.5 GiB`: 1024-based, at most two decimals (REANA's `get_human_readable_bytes`). */
export function humanBytes(bytes: number): string {
  if (bytes === 0) return '0 Bytes';
  const units = ['Bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  const exponent = Math.min(Math.floor(Math.log(Math.abs(bytes)) / Math.log(1024)), units.length - 1);
  const value = bytes / 1024 ** exponent;
  // Two decimals, trailing zeros dropped: 1.50 → "1.5", 1.00 → "1".
  return `${Number(value.toFixed(2))} ${units[exponent]}`;
}

/** `1h 2m 3s`, zero parts dropped, `0s` when nothing is left (REANA's human-readable milliseconds). */
export function humanMilliseconds(ms: number): string {
  let seconds = Math.floor(ms / 1000);
  const days = Math.floor(seconds / 86400);
  seconds -= days * 86400;
  const hours = Math.floor(seconds / 3600);
  seconds -= hours * 3600;
  const minutes = Math.floor(seconds / 60);
  seconds -= minutes * 60;
  const parts = [
    [days, 'd'],
    [hours, 'h'],
    [minutes, 'm'],
    [seconds, 's'],
  ]
    .filter(([n]) => n !== 0)
    .map(([n, unit]) => `${n}${unit}`);
  return parts.length ? parts.join(' ') : '0s';
}

export function humanAmount(resource: Resource, amount: number): string {
  return resource === 'disk' ? humanBytes(amount) : humanMilliseconds(amount);
}

export interface ResourceQuotaView {
  usage: { raw: number; human_readable: string };
  limit?: { raw: number; human_readable: string };
  health?: QuotaHealth;
}

/** REANA's quota output for one resource: `limit` and `health` only when the limit is non-zero. */
export function describeResourceQuota(resource: Resource, q: ResourceQuota): ResourceQuotaView {
  const health = quotaHealth(q);
  return {
    usage: { raw: q.used, human_readable: humanAmount(resource, q.used) },
    ...(q.limit ? { limit: { raw: q.limit, human_readable: humanAmount(resource, q.limit) } } : {}),
    ...(health ? { health } : {}),
  };
}

/** A use is refused because an account is at or over a limit: says which, how much, and what to do. */
export class QuotaExceededError extends ForbiddenError {
  constructor(
    readonly account: Account,
    readonly resource: Resource,
    readonly used: number,
    readonly limit: number,
    /** What the refused request would have added (e.g. an upload's bytes). */
    readonly requested = 0,
  ) {
    super(
      'Quota exceeded',
      `${accountLabel(account)} has used ${humanAmount(resource, used)} of its ${humanAmount(resource, limit)} ${resource} quota (${RESOURCE_INFO[resource].title})` +
        (requested ? ` and this request would add ${humanAmount(resource, requested)}; ` : '; ') +
        (resource === 'disk'
          ? 'delete artifacts you no longer need, or ask an administrator to raise the limit'
          : 'ask an administrator to raise the limit'),
    );
  }
  /** Extra members of the problem+json body. */
  get extensions(): Record<string, unknown> {
    return {
      resource: this.resource,
      usage: { raw: this.used, human_readable: humanAmount(this.resource, this.used) },
      limit: { raw: this.limit, human_readable: humanAmount(this.resource, this.limit) },
      ...(this.requested ? { requested: { raw: this.requested, human_readable: humanAmount(this.resource, this.requested) } } : {}),
      account: this.account.kind === 'user' ? { user: this.account.username } : { scope: this.account.scope, workspace: this.account.workspace },
    };
  }
}

/** Throws QuotaExceededError for the first exhausted resource of the account. */
export function enforceQuota(account: Account, quota: Quota, resources: readonly Resource[] = RESOURCES): void {
  for (const r of resources) {
    if (isExceeded(quota[r])) throw new QuotaExceededError(account, r, quota[r].used, quota[r].limit);
  }
}

/**
 * REANA clamps a delta update that would go below zero (behaviour 32): the result and whether
 * it was clamped (the caller logs a warning).
 */
export function applyDelta(used: number, delta: number): { used: number; clamped: boolean } {
  const next = used + delta;
  return next < 0 ? { used: 0, clamped: true } : { used: next, clamped: false };
}

export function parseLimit(value: unknown, field = 'limit'): number {
  const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw ValidationError.field(field, 'must be a non-negative whole number (bytes for disk, milliseconds for cpu; 0 = unlimited)');
  }
  return n;
}

// --- configuration (REANA's variables, renamed) ---------------------------------------------

/** Which events update usage at once (REANA's termination policy); the periodic recompute is separate. */
export type TerminationPolicy = Resource[];

export interface QuotaSettings {
  /** Limits a new user gets (REANA_DEFAULT_QUOTA_*_LIMIT); 0 = unlimited. */
  defaultLimits: Record<Resource, number>;
  /** Resources updated from completion and upload events (REANA_WORKFLOW_TERMINATION_QUOTA_UPDATE_POLICY). */
  terminationPolicy: TerminationPolicy;
  /** Whether the periodic recompute runs (REANA_PERIODIC_RESOURCE_QUOTA_UPDATE_POLICY). */
  periodic: boolean;
}

export const QUOTA_ENV = {
  cpuLimit: 'CONVEYOR_DEFAULT_QUOTA_CPU_LIMIT',
  diskLimit: 'CONVEYOR_DEFAULT_QUOTA_DISK_LIMIT',
  terminationPolicy: 'CONVEYOR_QUOTA_TERMINATION_UPDATE_POLICY',
  periodic: 'CONVEYOR_QUOTA_PERIODIC_UPDATE',
} as const;

/**
 * Conveyor differs from REANA's defaults on purpose: unset means both resources are accounted at
 * termination and periodically (REANA's unset policy accounts nothing, which made its quotas
 * useless until configured). `none` (or an empty value) turns event accounting off.
 */
export function readQuotaSettings(env: Record<string, string | undefined>): QuotaSettings {
  const limit = (name: string) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return 0;
    if (!/^\d+$/.test(raw.trim())) throw new Error(`${name} must be a whole number (0 = unlimited), not ${JSON.stringify(raw)}`);
    return Number(raw);
  };
  const rawPolicy = env[QUOTA_ENV.terminationPolicy];
  let terminationPolicy: Resource[] = [...RESOURCES];
  if (rawPolicy !== undefined) {
    const names = rawPolicy.split(',').map((s) => s.trim()).filter((s) => s !== '' && s !== 'none');
    for (const n of names) if (!isResource(n)) throw new Error(`${QUOTA_ENV.terminationPolicy}: unknown resource ${JSON.stringify(n)} (expected cpu, disk or none)`);
    terminationPolicy = names as Resource[];
  }
  const rawPeriodic = (env[QUOTA_ENV.periodic] ?? 'true').trim().toLowerCase();
  if (!['true', 'false', '1', '0', 'yes', 'no'].includes(rawPeriodic)) throw new Error(`${QUOTA_ENV.periodic} must be true or false`);
  return {
    defaultLimits: { cpu: limit(QUOTA_ENV.cpuLimit), disk: limit(QUOTA_ENV.diskLimit) },
    terminationPolicy,
    periodic: ['true', '1', 'yes'].includes(rawPeriodic),
  };
}

/** REANA's `should_skip_quota_update`. */
export function shouldSkipQuotaUpdate(settings: QuotaSettings, resource: Resource): boolean {
  return !settings.terminationPolicy.includes(resource) && !settings.periodic;
}

export const DEFAULT_QUOTA_SETTINGS: QuotaSettings = { defaultLimits: { cpu: 0, disk: 0 }, terminationPolicy: [...RESOURCES], periodic: true };
