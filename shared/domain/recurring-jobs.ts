/**
 * Recurring jobs: Launchpad's code-import job cycle (reference/launchpad_reana.md §A.1-A.4, SPEC §5).
 *
 * A recurring job (Launchpad's CodeImport) has at most one run (Launchpad's CodeImportJob) that is
 * PENDING until due and started, then RUNNING until finished or reclaimed. A run ends in a result
 * (CodeImportResult) and the next run is scheduled by the back-off rule. Every change writes events.
 *
 * Pure functions over plain data: each operation takes the job as read and returns the job to write
 * (with the same `version` the caller conditions its write on), plus the result and events it created.
 * Launchpad's preconditions are `assert`s; here each one is a typed RecurringJobRuleError (409) that
 * names the rule.
 */
import { ConflictError, ValidationError } from './errors';

export const RECURRING_JOB_KINDS = ['git-import', 'workflow'] as const;
export type RecurringJobKind = (typeof RECURRING_JOB_KINDS)[number];

/**
 * Per-kind default `update_interval` in seconds (Launchpad `[codeimport] default_interval_*`): a git
 * mirror every 6 h like Launchpad's git imports; a workflow is a slow kind (a nightly build), 12 h like
 * Launchpad's CVS imports.
 */
export const DEFAULT_UPDATE_INTERVAL_SECONDS: Record<RecurringJobKind, number> = {
  'git-import': 21_600,
  workflow: 43_200,
};
/** Launchpad's fallback for any kind without its own default. */
export const FALLBACK_UPDATE_INTERVAL_SECONDS = 21_600;
/** `[codeimport] consecutive_failure_limit`. */
export const CONSECUTIVE_FAILURE_LIMIT = 5;
/** `[codeimportworker] maximum_heartbeat_interval`: a running run silent for longer is reclaimable. */
export const MAXIMUM_HEARTBEAT_INTERVAL_SECONDS = 300;
/** The worker monitor sends the last 5 lines of the task's output as the log tail. */
export const LOGTAIL_LINES = 5;

/** CodeImportReviewStatus with Launchpad's database values. */
export const REVIEW_STATUS_VALUES = { NEW: 1, INVALID: 10, REVIEWED: 20, SUSPENDED: 30, FAILING: 40 } as const;
export type ReviewStatus = keyof typeof REVIEW_STATUS_VALUES;
export const REVIEW_STATUSES = Object.keys(REVIEW_STATUS_VALUES) as ReviewStatus[];

/** CodeImportJobState; SCHEDULED exists in Launchpad but the workflow never sets it. */
export const RUN_STATE_VALUES = { PENDING: 10, SCHEDULED: 20, RUNNING: 30 } as const;
export type RunState = 'PENDING' | 'RUNNING';

/** CodeImportResultStatus with Launchpad's database values. */
export const RESULT_STATUS_VALUES = {
  SUCCESS: 100,
  SUCCESS_NOCHANGE: 110,
  SUCCESS_PARTIAL: 120,
  FAILURE: 200,
  INTERNAL_FAILURE: 210,
  FAILURE_INVALID: 220,
  FAILURE_UNSUPPORTED_FEATURE: 230,
  FAILURE_FORBIDDEN: 240,
  FAILURE_REMOTE_BROKEN: 250,
  RECLAIMED: 310,
  KILLED: 320,
} as const;
export type ResultStatus = keyof typeof RESULT_STATUS_VALUES;
export const RESULT_STATUSES = Object.keys(RESULT_STATUS_VALUES) as ResultStatus[];
/** `CodeImportResultStatus.successes`: every other status counts as a failure, RECLAIMED included. */
export const SUCCESS_STATUSES: readonly ResultStatus[] = ['SUCCESS', 'SUCCESS_NOCHANGE', 'SUCCESS_PARTIAL'];

/** CodeImportEventType with Launchpad's database values. */
export const EVENT_TYPE_VALUES = {
  CREATE: 110,
  MODIFY: 120,
  DELETE: 130,
  START: 210,
  FINISH: 220,
  PUBLISH: 230,
  RECLAIM: 240,
  REQUEST: 310,
  KILL: 320,
  ONLINE: 410,
  OFFLINE: 420,
  QUIESCE: 430,
} as const;
export type EventType = keyof typeof EVENT_TYPE_VALUES;

/** CodeImportEventDataType items Conveyor records (its targets are URLs and templates, not CVS/SVN). */
export type EventDataType =
  | 'MESSAGE'
  | 'CODE_IMPORT'
  | 'OWNER'
  | 'OLD_OWNER'
  | 'REVIEW_STATUS'
  | 'OLD_REVIEW_STATUS'
  | 'UPDATE_INTERVAL'
  | 'OLD_UPDATE_INTERVAL'
  | 'URL'
  | 'OLD_URL'
  | 'OFFLINE_REASON'
  | 'RECLAIMED_JOB_ID';

export interface RecurringJobEvent {
  type: EventType;
  date: string;
  /** `user:<name>` of whoever caused it, or null (the scheduler, the watchdog). */
  person: string | null;
  machine: string | null;
  items: Partial<Record<EventDataType, string>>;
}

/** CodeImportJob: the one pending or running run of a recurring job. */
export interface JobRun {
  /** Unique per job (Launchpad's job id): a reclaim names the run it reclaimed. */
  id: number;
  state: RunState;
  dateCreated: string;
  dateDue: string;
  requestingUser: string | null;
  heartbeat: string | null;
  logtail: string | null;
  dateStarted: string | null;
  machine: string | null;
  /** The work request that carries the run: reserved first, then created (see releasedAt). */
  workRequestId: number | null;
  /** When the work request was created and the run left the due index; null while it waits there. */
  releasedAt: string | null;
  /**
   * The last time the release tick skipped this run and why (its owner or requester is disabled): the
   * run was put off by one update interval, without a result, so it never counts as a failure.
   */
  skipped?: { at: string; reason: string };
}

export interface RecurringJob {
  id: number;
  scope: string;
  workspace: string;
  /** `user:<name>` of the creator. */
  owner: string;
  kind: RecurringJobKind;
  /** What is imported or run: `{url}` for git-import, `{template, parameters}` for workflow. */
  target: Record<string, unknown>;
  /** Seconds; null means the kind's default (effective_update_interval). */
  updateInterval: number | null;
  reviewStatus: ReviewStatus;
  run: JobRun | null;
  /** consecutive_failure_count as of the latest result (Launchpad counts it from the results). */
  consecutiveFailures: number;
  /** date_job_started of the latest result: newJob's reference for the next due date. */
  lastResultStartedAt: string | null;
  dateLastSuccessful: string | null;
  /** Last run id used. */
  lastRunId: number;
  /** Number of results recorded; the next result's sequence number is this + 1. */
  resultCount: number;
  /** State a kind keeps between runs (git-import: the refs of the last import). */
  kindState: Record<string, unknown>;
  createdAt: string;
  version: number;
}

/** CodeImportResult. */
export interface RecurringJobResult {
  jobId: number;
  /** 1, 2, ... per job: results are listed newest first by it. */
  sequence: number;
  runId: number;
  status: ResultStatus;
  logExcerpt: string | null;
  /** Artifact holding the full log, when there was one. */
  logArtifact: number | null;
  /** Artifact the run produced (git-import: the bundle and refs). */
  outputArtifact: number | null;
  dateJobStarted: string;
  /** When the run finished (Launchpad's date_created). */
  dateCreated: string;
  machine: string;
  requestingUser: string | null;
}

/** What an operation changed: the job to write, and what to append. */
export interface JobChange {
  job: RecurringJob;
  result: RecurringJobResult | null;
  events: RecurringJobEvent[];
  /** The job just turned FAILING: its owner is notified. */
  turnedFailing: boolean;
}

/** A Launchpad precondition that did not hold; the title is the rule's name. */
export class RecurringJobRuleError extends ConflictError {
  constructor(
    readonly rule: string,
    detail: string,
  ) {
    super(rule, detail);
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

export function effectiveUpdateInterval(job: Pick<RecurringJob, 'kind' | 'updateInterval'>): number {
  return job.updateInterval ?? DEFAULT_UPDATE_INTERVAL_SECONDS[job.kind] ?? FALLBACK_UPDATE_INTERVAL_SECONDS;
}

export function isSuccess(status: ResultStatus): boolean {
  return SUCCESS_STATUSES.includes(status);
}

/** `isOverdue()`: due now counts as overdue. */
export function isOverdue(run: Pick<JobRun, 'dateDue'>, now: Date): boolean {
  return Date.parse(run.dateDue) <= now.getTime();
}

/** getReclaimableJobs: running with a heartbeat older than maximum_heartbeat_interval. */
export function isReclaimable(run: JobRun | null, now: Date, maxHeartbeatSeconds = MAXIMUM_HEARTBEAT_INTERVAL_SECONDS): boolean {
  if (!run || run.state !== 'RUNNING' || !run.heartbeat) return false;
  return Date.parse(run.heartbeat) < now.getTime() - maxHeartbeatSeconds * 1000;
}

/** The worker's exit code → result status (Launchpad's CodeImportWorkerExitCode). */
export function resultStatusForExitCode(code: number | null): ResultStatus {
  switch (code) {
    case 0:
      return 'SUCCESS';
    case 2:
      return 'SUCCESS_NOCHANGE';
    case 3:
      return 'SUCCESS_PARTIAL';
    case 4:
      return 'FAILURE_INVALID';
    case 5:
      return 'FAILURE_UNSUPPORTED_FEATURE';
    case 6:
      return 'FAILURE_FORBIDDEN';
    case 7:
      return 'FAILURE_REMOTE_BROKEN';
    default:
      return 'FAILURE';
  }
}

/** The inverse, for tasks that report a status: the exit code the worker would have used. */
export function exitCodeForResultStatus(status: ResultStatus): number {
  const codes: Partial<Record<ResultStatus, number>> = {
    SUCCESS: 0,
    SUCCESS_NOCHANGE: 2,
    SUCCESS_PARTIAL: 3,
    FAILURE_INVALID: 4,
    FAILURE_UNSUPPORTED_FEATURE: 5,
    FAILURE_FORBIDDEN: 6,
    FAILURE_REMOTE_BROKEN: 7,
  };
  return codes[status] ?? 1;
}

/** The last 5 lines of a log (a trailing newline does not count as an empty line). */
export function logTail(text: string, lines = LOGTAIL_LINES): string {
  const all = text.replace(/\r\n/g, '\n').replace(/\n+$/, '').split('\n');
  return all.slice(-lines).join('\n');
}

/** What the URL event item shows for a target. */
export function targetDescription(job: Pick<RecurringJob, 'kind' | 'target'>): string {
  if (job.kind === 'git-import') return String(job.target['url'] ?? '');
  return String(job.target['template'] ?? '');
}

function iso(now: Date): string {
  return now.toISOString();
}

function event(type: EventType, job: RecurringJob, now: Date, extra: Partial<RecurringJobEvent> = {}): RecurringJobEvent {
  return {
    type,
    date: iso(now),
    person: extra.person ?? null,
    machine: extra.machine ?? null,
    items: { CODE_IMPORT: String(job.id), ...(extra.items ?? {}) },
  };
}

function noChange(job: RecurringJob): JobChange {
  return { job, result: null, events: [], turnedFailing: false };
}

// ---------------------------------------------------------------------------------------------
// Creation and review

export type NewRecurringJobInput = Pick<RecurringJob, 'id' | 'scope' | 'workspace' | 'owner' | 'kind' | 'target'> & {
  updateInterval?: number | null;
  reviewStatus?: ReviewStatus;
};

/** The items a CREATE event records and a MODIFY event compares (Launchpad's `_iterItemsForSnapshot`). */
function snapshotItems(job: RecurringJob): Partial<Record<EventDataType, string>> {
  return {
    OWNER: job.owner,
    REVIEW_STATUS: job.reviewStatus,
    UPDATE_INTERVAL: job.updateInterval === null ? '' : String(job.updateInterval),
    URL: targetDescription(job),
  };
}

/**
 * CodeImportSet.new: the job with a CREATE event and, when REVIEWED (Launchpad's default), its first
 * run due now.
 */
export function createRecurringJob(input: NewRecurringJobInput, now: Date): JobChange {
  const job: RecurringJob = {
    id: input.id,
    scope: input.scope,
    workspace: input.workspace,
    owner: input.owner,
    kind: input.kind,
    target: input.target,
    updateInterval: input.updateInterval ?? null,
    reviewStatus: input.reviewStatus ?? 'REVIEWED',
    run: null,
    consecutiveFailures: 0,
    lastResultStartedAt: null,
    dateLastSuccessful: null,
    lastRunId: 0,
    resultCount: 0,
    kindState: {},
    createdAt: iso(now),
    version: 0,
  };
  const created = event('CREATE', job, now, { person: input.owner, items: snapshotItems(job) });
  const next = job.reviewStatus === 'REVIEWED' ? newJob(job, now) : noChange(job);
  return { ...next, events: [created, ...next.events] };
}

/**
 * newJob: requires REVIEWED and no run. Due now, or `max(now, latest result's start + interval)`:
 * the reference is the start of the last run, not its end.
 */
export function newJob(job: RecurringJob, now: Date, intervalSeconds?: number): JobChange {
  if (job.reviewStatus !== 'REVIEWED') {
    throw new RecurringJobRuleError('CodeImportNotInReviewedState', `recurring job ${job.id} is ${job.reviewStatus}, not REVIEWED`);
  }
  if (job.run) throw new RecurringJobRuleError('CodeImportJobAlreadyExists', `recurring job ${job.id} already has run ${job.run.id}`);
  const interval = intervalSeconds ?? effectiveUpdateInterval(job);
  let due = now.getTime();
  if (job.lastResultStartedAt) due = Math.max(due, Date.parse(job.lastResultStartedAt) + interval * 1000);
  const run: JobRun = {
    id: job.lastRunId + 1,
    state: 'PENDING',
    dateCreated: iso(now),
    dateDue: new Date(due).toISOString(),
    requestingUser: null,
    heartbeat: null,
    logtail: null,
    dateStarted: null,
    machine: null,
    workRequestId: null,
    releasedAt: null,
  };
  return noChange({ ...job, run, lastRunId: run.id });
}

/** deletePendingJob: requires a status other than REVIEWED and a PENDING run, which it removes. */
export function deletePendingJob(job: RecurringJob): JobChange {
  if (job.reviewStatus === 'REVIEWED') {
    throw new RecurringJobRuleError('CodeImportIsReviewed', `recurring job ${job.id} is REVIEWED: its pending run stays`);
  }
  if (!job.run || job.run.state !== 'PENDING') {
    throw new RecurringJobRuleError('CodeImportJobNotPending', `recurring job ${job.id} has no pending run`);
  }
  return noChange({ ...job, run: null });
}

export interface RecurringJobUpdate {
  reviewStatus?: ReviewStatus;
  updateInterval?: number | null;
  target?: Record<string, unknown>;
}

/**
 * updateFromData: a MODIFY event when a recorded item changed (new and OLD_ values). Leaving REVIEWED
 * deletes a pending run (a running one finishes and schedules nothing); becoming REVIEWED creates one.
 * Turning FAILING notifies the owner.
 */
export function updateRecurringJob(job: RecurringJob, update: RecurringJobUpdate, person: string | null, now: Date, message?: string): JobChange {
  const updated: RecurringJob = {
    ...job,
    reviewStatus: update.reviewStatus ?? job.reviewStatus,
    updateInterval: update.updateInterval === undefined ? job.updateInterval : update.updateInterval,
    target: update.target ?? job.target,
  };
  const before = snapshotItems(job);
  const after = snapshotItems(updated);
  const items: Partial<Record<EventDataType, string>> = {};
  for (const key of Object.keys(after) as (keyof typeof after)[]) {
    if (before[key] !== after[key]) {
      items[key] = after[key]!;
      items[`OLD_${key}` as EventDataType] = before[key]!;
    }
  }
  if (message) items.MESSAGE = message;
  const events = Object.keys(items).length ? [event('MODIFY', updated, now, { person, items })] : [];
  let change = noChange(updated);
  if (updated.reviewStatus !== 'REVIEWED' && updated.run?.state === 'PENDING') change = deletePendingJob(updated);
  else if (updated.reviewStatus === 'REVIEWED' && !updated.run) change = newJob(updated, now);
  const turnedFailing = job.reviewStatus !== 'FAILING' && updated.reviewStatus === 'FAILING';
  return { ...change, events: [...events, ...change.events], turnedFailing };
}

// ---------------------------------------------------------------------------------------------
// The run's cycle

/** requestJob: requires PENDING and no requester; due now if not overdue; REQUEST event. */
export function requestJob(job: RecurringJob, person: string, now: Date): JobChange {
  const run = job.run;
  if (!run || run.state !== 'PENDING') {
    throw new RecurringJobRuleError('CodeImportJobNotPending', `recurring job ${job.id} has no pending run to request`);
  }
  if (run.requestingUser) {
    throw new RecurringJobRuleError('CodeImportAlreadyRequested', `run ${run.id} of recurring job ${job.id} was already requested by ${run.requestingUser}`);
  }
  const dateDue = isOverdue(run, now) ? run.dateDue : iso(now);
  const updated = { ...job, run: { ...run, dateDue, requestingUser: person } };
  return { job: updated, result: null, events: [event('REQUEST', updated, now, { person })], turnedFailing: false };
}

/**
 * CodeImport.requestImport with error_if_already_requested: no run → CodeImportNotInReviewedState;
 * running → CodeImportAlreadyRunning; already requested → CodeImportAlreadyRequested.
 */
export function requestImport(job: RecurringJob, person: string, now: Date): JobChange {
  if (!job.run) throw new RecurringJobRuleError('CodeImportNotInReviewedState', `recurring job ${job.id} is ${job.reviewStatus} and has no run to request`);
  if (job.run.state === 'RUNNING') throw new RecurringJobRuleError('CodeImportAlreadyRunning', `run ${job.run.id} of recurring job ${job.id} is already running`);
  return requestJob(job, person, now);
}

/** startJob: requires a PENDING run and an ONLINE machine; START event. */
export function startJob(job: RecurringJob, machine: { name: string; state: string }, now: Date, workRequestId?: number): JobChange {
  const run = job.run;
  if (!run || run.state !== 'PENDING') {
    throw new RecurringJobRuleError('CodeImportJobNotPending', `recurring job ${job.id} has no pending run to start`);
  }
  if (machine.state !== 'ONLINE') {
    throw new RecurringJobRuleError('CodeImportMachineNotOnline', `machine ${machine.name} is ${machine.state}, not ONLINE`);
  }
  const started: JobRun = {
    ...run,
    state: 'RUNNING',
    dateStarted: iso(now),
    heartbeat: iso(now),
    logtail: '',
    machine: machine.name,
    workRequestId: workRequestId ?? run.workRequestId,
  };
  const updated = { ...job, run: started };
  return { job: updated, result: null, events: [event('START', updated, now, { machine: machine.name })], turnedFailing: false };
}

/** updateHeartbeat: requires RUNNING; heartbeat and log tail, and no event. */
export function updateHeartbeat(job: RecurringJob, logtail: string, now: Date): JobChange {
  const run = requireRunning(job);
  return noChange({ ...job, run: { ...run, heartbeat: iso(now), logtail } });
}

function requireRunning(job: RecurringJob): JobRun & { dateStarted: string; machine: string } {
  const run = job.run;
  if (!run || run.state !== 'RUNNING' || !run.dateStarted || !run.machine) {
    throw new RecurringJobRuleError('CodeImportJobNotRunning', `recurring job ${job.id} has no running run`);
  }
  return run as JobRun & { dateStarted: string; machine: string };
}

/** `_makeResultAndDeleteJob`, with the failure count kept on the job (it includes this result). */
function recordResult(job: RecurringJob, status: ResultStatus, now: Date, files: { logArtifact?: number | null; outputArtifact?: number | null } = {}): JobChange {
  const run = requireRunning(job);
  const result: RecurringJobResult = {
    jobId: job.id,
    sequence: job.resultCount + 1,
    runId: run.id,
    status,
    logExcerpt: run.logtail,
    logArtifact: files.logArtifact ?? null,
    outputArtifact: files.outputArtifact ?? null,
    dateJobStarted: run.dateStarted,
    dateCreated: iso(now),
    machine: run.machine,
    requestingUser: run.requestingUser,
  };
  const updated: RecurringJob = {
    ...job,
    run: null,
    resultCount: result.sequence,
    lastResultStartedAt: run.dateStarted,
    consecutiveFailures: isSuccess(status) ? 0 : job.consecutiveFailures + 1,
  };
  return { job: updated, result, events: [], turnedFailing: false };
}

/**
 * finishJob: records the result, then n consecutive failures ≥ the limit → FAILING (MODIFY event,
 * notification, no run); SUCCESS_PARTIAL → next run due now; n > 0 → `interval × 2^(n−1)` after the
 * start; else the interval. A job no longer REVIEWED (SUSPENDED, INVALID, FAILING) gets no run.
 */
export function finishJob(
  job: RecurringJob,
  status: ResultStatus,
  now: Date,
  files: { logArtifact?: number | null; outputArtifact?: number | null } = {},
  failureLimit = CONSECUTIVE_FAILURE_LIMIT,
): JobChange {
  const machine = requireRunning(job).machine;
  const recorded = recordResult(job, status, now, files);
  let current = recorded.job;
  const events: RecurringJobEvent[] = [];
  let turnedFailing = false;
  const n = current.consecutiveFailures;
  let interval: number;
  if (n >= failureLimit) {
    const modified = updateRecurringJob(current, { reviewStatus: 'FAILING' }, null, now);
    current = modified.job;
    events.push(...modified.events);
    turnedFailing = modified.turnedFailing;
    interval = 0;
  } else if (status === 'SUCCESS_PARTIAL') interval = 0;
  else if (n > 0) interval = effectiveUpdateInterval(current) * 2 ** (n - 1);
  else interval = effectiveUpdateInterval(current);
  if (current.reviewStatus === 'REVIEWED') current = newJob(current, now, interval).job;
  if (status === 'SUCCESS' || status === 'SUCCESS_NOCHANGE') current = { ...current, dateLastSuccessful: recorded.result!.dateCreated };
  events.push(event('FINISH', current, now, { machine }));
  return { job: current, result: recorded.result, events, turnedFailing };
}

/** reclaimJob: a RECLAIMED result without log; a REVIEWED job gets a new run due now; RECLAIM event. */
export function reclaimJob(job: RecurringJob, now: Date): JobChange {
  const run = requireRunning(job);
  const recorded = recordResult(job, 'RECLAIMED', now);
  let current = recorded.job;
  if (current.reviewStatus === 'REVIEWED') current = newJob(current, now, 0).job;
  const reclaimed = event('RECLAIM', current, now, { machine: run.machine, items: { RECLAIMED_JOB_ID: String(run.id) } });
  return { job: current, result: recorded.result, events: [reclaimed], turnedFailing: false };
}

/** tryFailingImportAgain: requires FAILING; becomes REVIEWED (a new run) and that run is requested. */
export function tryFailingImportAgain(job: RecurringJob, person: string, now: Date): JobChange {
  if (job.reviewStatus !== 'FAILING') {
    throw new RecurringJobRuleError('CodeImportNotFailing', `recurring job ${job.id} is ${job.reviewStatus}, not FAILING`);
  }
  const reviewed = updateRecurringJob(job, { reviewStatus: 'REVIEWED' }, person, now, 'Try again');
  const requested = requestJob(reviewed.job, person, now);
  return { ...requested, events: [...reviewed.events, ...requested.events] };
}

// ---------------------------------------------------------------------------------------------
// Order among due runs

/**
 * Launchpad's order: `(requesting_user IS NULL), date_due`: user-requested runs first, then the most
 * overdue. Negative when `a` goes first.
 */
export function compareDueRuns(a: Pick<JobRun, 'requestingUser' | 'dateDue'>, b: Pick<JobRun, 'requestingUser' | 'dateDue'>): number {
  const ra = a.requestingUser ? 0 : 1;
  const rb = b.requestingUser ? 0 : 1;
  if (ra !== rb) return ra - rb;
  return Date.parse(a.dateDue) - Date.parse(b.dateDue);
}

/** Whether the run waits in the due index: pending, not yet released, and the job REVIEWED. */
/** A run handed to its work request (released) and not finished yet. */
export function isReleasedRun(job: Pick<RecurringJob, 'run'>): boolean {
  return job.run !== null && job.run.releasedAt !== null && job.run.workRequestId !== null;
}

export function waitsForRelease(job: Pick<RecurringJob, 'reviewStatus' | 'run'>): boolean {
  return job.reviewStatus === 'REVIEWED' && job.run !== null && job.run.state === 'PENDING' && job.run.releasedAt === null;
}

/** Validation shared by the API and the CLI: a positive whole number of seconds. */
export function validateUpdateInterval(value: unknown, field = 'update_interval'): number | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 366 * 86_400) {
    throw ValidationError.field(field, 'must be a whole number of seconds between 1 and 31622400, or null for the default');
  }
  return value;
}
