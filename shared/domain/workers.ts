/**
 * Workers: naming, metadata merging, availability and the task requirements check
 * (Debusine's `can_run_on`, reference/debusine.md §1, §3).
 */
import type { MachineState, OfflineReason } from './machines';

export const WORKER_TYPES = ['external', 'celery', 'signing'] as const;
export type WorkerType = (typeof WORKER_TYPES)[number];

export type Metadata = Record<string, unknown>;

export interface Worker {
  name: string;
  /**
   * Debusine's integer id (its models want `worker` in work requests to be one). Given at
   * registration; workers registered before it existed get one on first use (workerIds).
   */
  id?: number;
  /** SHA-256 of the worker's token. */
  tokenHash: string;
  workerType: WorkerType;
  /** Mirrors the worker token's state: the scheduler's slot condition checks it. */
  enabled: boolean;
  registeredAt: string;
  /** Null when the worker said goodbye or has not said hello yet. */
  connectedAt: string | null;
  /** Last time the worker talked to the API (metadata, get-next, heartbeat, completion). */
  lastSeenAt: string | null;
  staticMetadata: Metadata;
  dynamicMetadata: Metadata;
  dynamicMetadataUpdatedAt: string | null;
  concurrency: number;
  /** Requests assigned to the worker and not finished (pending-assigned or running): its used slots. */
  assigned: number;
  /** The worker's own SQS queue, where it learns of assignments and aborts. */
  queueUrl: string | null;
  version: number;
  /** Launchpad machine state (shared/domain/machines.ts); absent means ONLINE. */
  machineState?: MachineState;
  offlineReason?: OfflineReason | null;
}

/** A worker that has not been seen for this long is treated as disconnected by the scheduler. */
export const CONNECTION_TIMEOUT_MS = 15 * 60 * 1000;

/** `worker-bee.lan` → `worker-bee-lan`; Debusine's slug of the FQDN. */
export function workerSlug(fqdn: string): string {
  const slug = fqdn
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');
  return slug || 'worker';
}

/** Candidate names for a new worker: the slug, then `-2`, `-3`, ... on clashes. */
export function workerNameCandidates(fqdn: string, max = 100): string[] {
  const base = workerSlug(fqdn).slice(0, 100);
  return [base, ...Array.from({ length: max - 1 }, (_, i) => `${base}-${i + 2}`)];
}

/** Static metadata (set by an admin) wins over what the worker reports. */
export function effectiveMetadata(w: Pick<Worker, 'staticMetadata' | 'dynamicMetadata'>): Metadata {
  return { ...w.dynamicMetadata, ...w.staticMetadata };
}

export function isConnected(w: Pick<Worker, 'connectedAt' | 'lastSeenAt'>, now: Date): boolean {
  if (!w.connectedAt || !w.lastSeenAt) return false;
  return now.getTime() - Date.parse(w.lastSeenAt) < CONNECTION_TIMEOUT_MS;
}

export function hasSpareCapacity(w: Pick<Worker, 'assigned' | 'concurrency'>): boolean {
  return w.assigned < w.concurrency;
}

/** The architectures a worker can build for (`system:architectures`, else its host architecture). */
export function workerArchitectures(metadata: Metadata): string[] {
  const archs = metadata['system:architectures'];
  if (Array.isArray(archs)) return archs.filter((a): a is string => typeof a === 'string');
  const host = metadata['system:host_architecture'];
  return typeof host === 'string' ? [host] : [];
}

/** Admin-set allow and deny lists: the allowlist, when set, wins over the denylist (behaviour 13). */
export function taskAllowedByLists(metadata: Metadata, taskName: string): boolean {
  const allow = metadata['tasks_allowlist'];
  if (Array.isArray(allow)) return allow.includes(taskName);
  const deny = metadata['tasks_denylist'];
  if (Array.isArray(deny)) return !deny.includes(taskName);
  return true;
}
