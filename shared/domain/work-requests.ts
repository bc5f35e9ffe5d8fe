/**
 * Work requests: the state machine, priorities, dependency rules and retry rules (SPEC §3,
 * reference/debusine.md §3-4). Pure functions over plain data; the use cases persist the results
 * with conditional writes.
 */
import { ConflictError, ValidationError } from './errors';

export const STATUSES = ['blocked', 'pending', 'running', 'completed', 'aborted'] as const;
export type WorkRequestStatus = (typeof STATUSES)[number];

export const RESULTS = ['', 'success', 'failure', 'error', 'skipped'] as const;
export type WorkRequestResult = (typeof RESULTS)[number];
export type FinalResult = Exclude<WorkRequestResult, ''>;

export const TASK_TYPES = ['Worker', 'Server', 'Internal', 'Workflow', 'Signing', 'Wait'] as const;
export type TaskType = (typeof TASK_TYPES)[number];

export interface OutputError {
  message: string;
  code: string;
}

export interface OutputData {
  runtime_statistics?: Record<string, unknown>;
  errors?: OutputError[];
  skip_reason?: string;
  [key: string]: unknown;
}

export interface WorkflowData {
  allow_failure?: boolean;
  display_name?: string;
  step?: string;
  [key: string]: unknown;
}

export const EVENT_NAMES = ['on_creation', 'on_unblock', 'on_assignment', 'on_success', 'on_failure'] as const;
export type EventName = (typeof EVENT_NAMES)[number];
export type EventReactions = Partial<Record<EventName, Record<string, unknown>[]>>;

export interface WorkRequest {
  id: number;
  scope: string;
  workspace: string;
  /** `user:<name>`. */
  createdBy: string;
  taskType: TaskType;
  taskName: string;
  taskData: Record<string, unknown>;
  /** The architecture the task must run on (from its task data), or null: the scheduler partitions by it. */
  hostArchitecture: string | null;
  dynamicTaskData: Record<string, unknown> | null;
  status: WorkRequestStatus;
  result: WorkRequestResult;
  /** Name of the assigned worker; set from assignment on (kept once finished, for the record). */
  worker: string | null;
  /** When the scheduler assigned it to `worker`. */
  assignedAt: string | null;
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
  priorityBase: number;
  priorityAdjustment: number;
  parent: number | null;
  dependencies: number[];
  unblockStrategy: 'deps' | 'manual';
  eventReactions: EventReactions;
  workflowData: WorkflowData;
  outputData: OutputData | null;
  retryCount: number;
  supersedes: number | null;
  supersededBy: number | null;
  abortedBy: string | null;
  /** Last heartbeat applied (worker clock is not trusted: the time the server received it). */
  heartbeatAt: string | null;
  /** The last lines of the task's log, from the latest heartbeat. */
  logtail: string[];
  /** Artifacts the task produced (created by its worker with `work_request`). */
  outputArtifacts: number[];
  /** Root workflows only: the REANA-style run (name from the template, number, status). */
  run: WorkflowRun | null;
  /** Root workflows only: the id of their `debusine:workflow-internal` collection. */
  internalCollection: number | null;
  version: number;
}

export interface WorkflowRun {
  name: string;
  major: number;
  minor: number;
  status: import('./run-status').RunStatus;
}

export const MAX_AUTOMATIC_RETRIES = 3;
/** Priorities are kept within this range so that they fit the scheduler's sort key. */
export const PRIORITY_LIMIT = 1_000_000;

export function effectivePriority(wr: Pick<WorkRequest, 'priorityBase' | 'priorityAdjustment'>): number {
  return wr.priorityBase + wr.priorityAdjustment;
}

/** Seconds between start and completion, or null while either is missing. */
export function durationSeconds(wr: Pick<WorkRequest, 'startedAt' | 'completedAt'>): number | null {
  if (!wr.startedAt || !wr.completedAt) return null;
  return Math.max(0, (Date.parse(wr.completedAt) - Date.parse(wr.startedAt)) / 1000);
}

const LEGAL: Record<WorkRequestStatus, readonly WorkRequestStatus[]> = {
  blocked: ['pending', 'aborted'],
  pending: ['running', 'aborted'],
  running: ['completed', 'aborted'],
  completed: [],
  aborted: [],
};

export function canTransition(from: WorkRequestStatus, to: WorkRequestStatus): boolean {
  return LEGAL[from].includes(to);
}

export function assertTransition(wr: Pick<WorkRequest, 'id' | 'status'>, to: WorkRequestStatus): void {
  if (!canTransition(wr.status, to)) {
    throw new ConflictError('Illegal transition', `work request ${wr.id} is ${wr.status} and cannot become ${to}`);
  }
}

export function isFinished(wr: Pick<WorkRequest, 'status'>): boolean {
  return wr.status === 'completed' || wr.status === 'aborted';
}

/** Whether a finished dependency lets its dependents go ahead. */
export function dependencySatisfied(dep: Pick<WorkRequest, 'status' | 'result' | 'workflowData'>): boolean {
  if (dep.status !== 'completed') return false;
  if (dep.result === 'success' || dep.result === 'skipped') return true;
  return dep.workflowData.allow_failure === true;
}

/**
 * What a finished dependency means for a blocked dependent: `abort` when it can never be
 * satisfied (failed without allow_failure), `wait` while it (or a sibling) is unfinished or a
 * superseding retry may still succeed, `unblock` when every dependency is satisfied.
 * Debusine behaviour 23: an aborted dependency with allow_failure leaves the dependent blocked.
 */
export function unblockDecision(
  dependent: Pick<WorkRequest, 'status' | 'unblockStrategy'>,
  dependencies: Pick<WorkRequest, 'status' | 'result' | 'workflowData' | 'supersededBy'>[],
): 'unblock' | 'abort' | 'wait' {
  if (dependent.status !== 'blocked') return 'wait';
  for (const dep of dependencies) {
    if (dep.supersededBy !== null) continue; // its successor stands in for it
    const failed =
      (dep.status === 'completed' && !dependencySatisfied(dep)) || (dep.status === 'aborted' && dep.workflowData.allow_failure !== true);
    if (failed) return 'abort';
  }
  if (dependent.unblockStrategy === 'manual') return 'wait';
  return dependencies.every((d) => dependencySatisfied(d)) ? 'unblock' : 'wait';
}

/** Aborted, or completed with failure or error: what a retry may replace. */
export function hasFailed(wr: Pick<WorkRequest, 'status' | 'result'>): boolean {
  return wr.status === 'aborted' || (wr.status === 'completed' && (wr.result === 'failure' || wr.result === 'error'));
}

/** A completed request counts as successful for `on_success` (skipped included, as in Debusine). */
export function succeeded(wr: Pick<WorkRequest, 'result'>): boolean {
  return wr.result === 'success' || wr.result === 'skipped';
}

/** The next version of `wr` with `changes`: every write is conditional on the version it read. */
export function bump(wr: WorkRequest, changes: Partial<WorkRequest>): WorkRequest {
  return { ...wr, ...changes, version: wr.version + 1 };
}

/** Output data after a finish: extra keys on top, errors appended (never lost). */
export function mergeOutput(current: OutputData | null, extra: OutputData | undefined, error?: OutputError): OutputData | null {
  if (!extra && !error) return current;
  const merged: OutputData = { ...(current ?? {}), ...(extra ?? {}) };
  if (error) merged.errors = [...(current?.errors ?? []), ...(extra?.errors ?? []), error];
  return merged;
}

export type RetryReason = 'manual' | 'worker-failed' | 'delay';

/** Why a request cannot be retried, or undefined if it can (Debusine's `WorkRequest.retry`). */
export function retryProblem(wr: Pick<WorkRequest, 'status' | 'result' | 'supersededBy' | 'retryCount' | 'taskType'>, reason: RetryReason): string | undefined {
  if (wr.supersededBy !== null) return 'Cannot retry a work request that has already been retried';
  if (wr.taskType === 'Server' || wr.taskType === 'Wait') {
    if (reason !== 'worker-failed') return `Cannot retry ${wr.taskType} tasks`;
  }
  if (reason === 'manual' && !hasFailed(wr)) return 'Only aborted or failed tasks can be retried';
  if (reason === 'worker-failed' && wr.retryCount >= MAX_AUTOMATIC_RETRIES) return 'Maximum number of automatic retries exceeded';
  return undefined;
}

/** `retry_count` of a successor: automatic retries count up, a manual one starts again. */
export function successorRetryCount(wr: Pick<WorkRequest, 'retryCount'>, reason: RetryReason): number {
  return reason === 'manual' ? 0 : wr.retryCount + 1;
}

/** Who may change a request's priority adjustment (Debusine PATCH semantics). */
export function priorityChangeProblem(opts: { isAdmin: boolean; isCreator: boolean; value: number }): string | undefined {
  if (!Number.isInteger(opts.value) || Math.abs(opts.value) > PRIORITY_LIMIT) {
    return `must be an integer between -${PRIORITY_LIMIT} and ${PRIORITY_LIMIT}`;
  }
  if (opts.isAdmin) return undefined;
  if (opts.value > 0) return 'only administrators may raise a priority';
  if (!opts.isCreator) return 'only the creator or an administrator may change this priority';
  return undefined;
}

export function assertPriority(value: number, field: string): void {
  if (!Number.isInteger(value) || Math.abs(value) > PRIORITY_LIMIT) {
    throw ValidationError.field(field, `must be an integer between -${PRIORITY_LIMIT} and ${PRIORITY_LIMIT}`);
  }
}

export type NewWorkRequest = Pick<WorkRequest, 'id' | 'scope' | 'workspace' | 'createdBy' | 'taskType' | 'taskName' | 'taskData' | 'createdAt'> &
  Partial<WorkRequest>;

/** A new request with every optional field at its starting value: pending, unassigned, no history. */
export function newWorkRequest(fields: NewWorkRequest): WorkRequest {
  return {
    hostArchitecture: null,
    dynamicTaskData: null,
    status: 'pending',
    result: '',
    worker: null,
    assignedAt: null,
    startedAt: null,
    completedAt: null,
    priorityBase: 0,
    priorityAdjustment: 0,
    parent: null,
    dependencies: [],
    unblockStrategy: 'deps',
    eventReactions: {},
    workflowData: {},
    outputData: null,
    retryCount: 0,
    supersedes: null,
    supersededBy: null,
    abortedBy: null,
    heartbeatAt: null,
    logtail: [],
    outputArtifacts: [],
    run: null,
    internalCollection: null,
    version: 1,
    ...fields,
  };
}

/**
 * The successor of a retried request before its status is decided: the same task with a fresh
 * history, pointing back at `original` (Debusine's `WorkRequest.retry`).
 */
export function successorDraft(original: WorkRequest, fields: { id: number; now: string; dependencies: number[]; reason: RetryReason }): WorkRequest {
  return {
    ...original,
    id: fields.id,
    status: 'blocked',
    result: '',
    worker: null,
    assignedAt: null,
    createdAt: fields.now,
    startedAt: null,
    completedAt: null,
    dependencies: fields.dependencies,
    outputData: null,
    retryCount: successorRetryCount(original, fields.reason),
    supersedes: original.id,
    supersededBy: null,
    abortedBy: null,
    heartbeatAt: null,
    logtail: [],
    outputArtifacts: [],
    version: 1,
  };
}
