/**
 * Recurring runs: the release tick that turns due runs into work requests, and the hooks that move a
 * run along with its work request (called from lifecycle and workers). Runs are ordinary work
 * requests: the same scheduler, workers, queues and watchdog carry them. This module imports no
 * work-request use case, so lifecycle may import it.
 */
import { ConflictError } from '../domain/errors';
import {
  finishJob,
  logTail,
  reclaimJob,
  RESULT_STATUSES,
  startJob,
  updateHeartbeat,
  waitsForRelease,
  type JobChange,
  type RecurringJob,
  type ResultStatus,
} from '../domain/recurring-jobs';
import { RECURRING_RUN_KEY, recurringRunOf } from '../domain/recurring-run-ref';
import { isFinished, newWorkRequest, type WorkRequest } from '../domain/work-requests';
import type { Deps, RecurringRunHooks } from '../ports';
import type { RecurringJobRepository } from '../ports/recurring-jobs';

export { RECURRING_RUN_KEY, recurringRunOf } from '../domain/recurring-run-ref';

/** Comma-separated hosts git-import refuses (FAILURE_FORBIDDEN), like Launchpad's `blacklisted_hostnames`. */
export const GIT_IMPORT_DENIED_HOSTS_ENV_VAR = 'CONVEYOR_GIT_IMPORT_DENIED_HOSTS';

export function gitImportDeniedHosts(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env[GIT_IMPORT_DENIED_HOSTS_ENV_VAR] ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
}

/** Priority of a user-requested run: ahead of the scheduled ones (Launchpad: requested first). */
export const REQUESTED_RUN_PRIORITY = 1;

export function recurringJobsOf(deps: Deps): RecurringJobRepository {
  if (!deps.recurringJobs) throw new Error('recurring jobs are not wired into these deps');
  return deps.recurringJobs;
}

/** Writes a change made from `before` (conditional on its version); ConflictError when someone else won. */
export async function commitChange(deps: Deps, before: RecurringJob, change: JobChange): Promise<RecurringJob> {
  const job = { ...change.job, version: before.version + 1 };
  await recurringJobsOf(deps).commit({ job, expectedVersion: before.version, result: change.result, events: change.events });
  if (change.turnedFailing) await notifyFailing(deps, job);
  return job;
}

// ---------------------------------------------------------------------------------------------
// The release tick

/**
 * Releases one due run, in steps that each survive a crash or a racing tick: reserve a work-request id
 * on the run (conditional on the job's version), create the work request with that id (idempotent),
 * then mark the run released, which takes it out of the due index. A run found with a reserved id
 * carries on from the second step.
 */
export async function releaseRun(deps: Deps, job: RecurringJob): Promise<number | undefined> {
  const repo = recurringJobsOf(deps);
  const now = deps.clock.now();
  // A workflow run starts a workflow: recurring-release.ts does that (it may import the workflow use cases).
  if (job.kind !== 'git-import' || !isReleasable(job, now)) return undefined;
  const current = await withReservedWorkRequestId(deps, job);
  const wrId = current.run!.workRequestId!;
  if (!(await deps.workRequests.get(wrId))) {
    await deps.workRequests.commit({ create: [runWorkRequest(current, wrId, now)] }).catch(ignoreConflict);
  }
  const released = { ...current, run: { ...current.run!, releasedAt: now.toISOString() }, version: current.version + 1 };
  await repo.commit({ job: released, expectedVersion: current.version });
  await deps.queues.enqueueSchedulerEvent({ type: 'work-request-pending', workRequestId: wrId });
  return wrId;
}

/**
 * The job with a work-request id reserved on its run: the id already there, or a new one written
 * conditionally on the job's version (a racing release loses with ConflictError).
 */
export async function withReservedWorkRequestId(deps: Deps, job: RecurringJob): Promise<RecurringJob> {
  if (job.run!.workRequestId !== null) return job;
  const id = await deps.sequences.next('work-request');
  const reserved: RecurringJob = { ...job, run: { ...job.run!, workRequestId: id }, version: job.version + 1 };
  await recurringJobsOf(deps).commit({ job: reserved, expectedVersion: job.version });
  return reserved;
}

/** A run waiting in the due index whose time has come. */
export function isReleasable(job: RecurringJob, now: Date): boolean {
  return waitsForRelease(job) && Date.parse(job.run!.dateDue) <= now.getTime();
}

/** The work request that carries a git-import run: the `git-import` worker task with the job's target and refs. */
export function runWorkRequest(job: RecurringJob, id: number, now: Date): WorkRequest {
  const run = job.run!;
  return newWorkRequest({
    id,
    scope: job.scope,
    workspace: job.workspace,
    createdBy: run.requestingUser ?? job.owner,
    taskType: 'Worker',
    taskName: 'git-import',
    taskData: { url: job.target['url'], previous_refs: job.kindState['refs'] ?? {}, denied_hosts: gitImportDeniedHosts() },
    createdAt: now.toISOString(),
    priorityBase: run.requestingUser ? REQUESTED_RUN_PRIORITY : 0,
    workflowData: recurringRunData(job),
  });
}

/** The `workflow_data` items that tie a work request to the run it carries. */
export function recurringRunData(job: RecurringJob): Record<string, unknown> {
  return { [RECURRING_RUN_KEY]: { job: job.id, run: job.run!.id }, display_name: `recurring job ${job.id} run ${job.run!.id}` };
}

/**
 * A run that could not even start (its workflow template is gone, its owner lost the right to run it):
 * started on the server and finished at once with `status`, the reason as its log excerpt.
 */
export async function failRunAtRelease(deps: Deps, job: RecurringJob, status: ResultStatus, reason: string): Promise<RecurringJob> {
  const now = deps.clock.now();
  const started = startJob(job, { name: 'server', state: 'ONLINE' }, now);
  const withReason = updateHeartbeat(started.job, logTail(reason), now).job;
  const finished = finishJob(withReason, status, now);
  return commitChange(deps, job, { ...finished, events: [...started.events, ...finished.events] });
}

// ---------------------------------------------------------------------------------------------
// Hooks: the run follows its work request

/** The job whose current run this work request carries, or undefined (stale, deleted, forged). */
async function jobOfRun(deps: Deps, wr: WorkRequest): Promise<RecurringJob | undefined> {
  const ref = recurringRunOf(wr);
  if (!ref || !deps.recurringJobs) return undefined;
  const job = await deps.recurringJobs.get(ref.job);
  if (!job?.run || job.run.id !== ref.run || job.run.workRequestId !== wr.id) return undefined;
  return job;
}

/** The worker took the run's request: startJob on that machine (it was ONLINE when it was assigned). */
export async function recurringRunStarted(deps: Deps, wr: WorkRequest): Promise<void> {
  await retryOnConflict(async () => {
    const job = await jobOfRun(deps, wr);
    if (!job || job.run!.state !== 'PENDING') return;
    const at = wr.startedAt ? new Date(wr.startedAt) : deps.clock.now();
    await commitChange(deps, job, startJob(job, { name: wr.worker ?? 'server', state: 'ONLINE' }, at, wr.id));
  });
}

/** The result status a finished run's request stands for. */
export function runResultStatus(wr: WorkRequest): ResultStatus {
  const reported = wr.outputData?.['recurring_status'];
  if (typeof reported === 'string' && (RESULT_STATUSES as string[]).includes(reported) && reported !== 'RECLAIMED') return reported as ResultStatus;
  if (wr.status === 'aborted') {
    return wr.outputData?.errors?.some((e) => e.code === 'worker-failed') ? 'RECLAIMED' : 'KILLED';
  }
  return wr.result === 'success' ? 'SUCCESS' : 'FAILURE';
}

/**
 * The run's request finished: finishJob with the status it reports (reclaimJob when the watchdog took it
 * away). A run that never started (its task could not even be configured) is started and finished at once.
 */
export async function recurringRunFinished(deps: Deps, wr: WorkRequest): Promise<void> {
  await retryOnConflict(async () => {
    let job = await jobOfRun(deps, wr);
    if (!job) return;
    const now = deps.clock.now();
    if (job.run!.state === 'PENDING') {
      const started = startJob(job, { name: wr.worker ?? 'server', state: 'ONLINE' }, wr.startedAt ? new Date(wr.startedAt) : now, wr.id);
      job = await commitChange(deps, job, started);
    }
    const status = runResultStatus(wr);
    if (status === 'RECLAIMED') {
      await commitChange(deps, job, reclaimJob(job, now));
      return;
    }
    // The task's own tail covers its whole log; the heartbeat's is what the worker last sent.
    const reportedTail = wr.outputData?.['recurring_log_tail'];
    const tail = logTail(typeof reportedTail === 'string' ? reportedTail : wr.logtail.join('\n'));
    const withTail = updateHeartbeat(job, tail, new Date(job.run!.heartbeat ?? now.toISOString())).job;
    const files = { logArtifact: numberOrNull(wr.outputData?.['recurring_log_artifact']), outputArtifact: numberOrNull(wr.outputData?.['recurring_output_artifact']) };
    const change = finishJob(withTail, status, now, files);
    const refs = wr.outputData?.['recurring_refs'];
    if (refs && typeof refs === 'object' && (status === 'SUCCESS' || status === 'SUCCESS_NOCHANGE' || status === 'SUCCESS_PARTIAL')) {
      change.job = { ...change.job, kindState: { ...change.job.kindState, refs } };
    }
    await commitChange(deps, job, change);
    if (change.job.run && Date.parse(change.job.run.dateDue) <= now.getTime()) await releaseRun(deps, { ...change.job, version: job.version + 1 }).catch(ignoreConflict);
  });
}

/**
 * The run follows its request here and now: what every function wired with the recurring-job
 * repository does (an AwsAdapter-shaped factory, for `awsDeps({ recurringRunHooks: recurringRunsInProcess })`).
 */
export function recurringRunsInProcess(): RecurringRunHooks {
  return { moved: (deps, wr, move) => (move === 'started' ? recurringRunStarted(deps, wr) : recurringRunFinished(deps, wr)) };
}

/**
 * A move read from the `recurring-runs` queue: applied to the request as it is now, so a stale or
 * repeated message changes nothing (a finished request finishes its run; a running one starts it).
 */
export async function applyRecurringRunMove(deps: Deps, workRequestId: number): Promise<void> {
  const wr = await deps.workRequests.get(workRequestId);
  if (!wr || !recurringRunOf(wr)) return;
  if (isFinished(wr)) await recurringRunFinished(deps, wr);
  else if (wr.status === 'running') await recurringRunStarted(deps, wr).catch(ignoreConflict);
}

function numberOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isSafeInteger(value) ? value : null;
}

async function retryOnConflict(step: () => Promise<void>): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await step();
    } catch (err) {
      if (!(err instanceof ConflictError) || attempt >= 4) throw err;
    }
  }
}

export function ignoreConflict(err: unknown): undefined {
  if (err instanceof ConflictError) return undefined;
  throw err;
}

// ---------------------------------------------------------------------------------------------
// Notification

/** The job turned FAILING: its owner's notification goes through the `recurring-jobs` channel, if any. */
async function notifyFailing(deps: Deps, job: RecurringJob): Promise<void> {
  const channel = await deps.channels.get('recurring-jobs');
  if (!channel?.data.to?.length) return;
  await deps.notifier.send({
    ...(channel.data.from ? { from: channel.data.from } : {}),
    to: channel.data.to,
    ...(channel.data.cc ? { cc: channel.data.cc } : {}),
    subject: `Recurring job ${job.id} (${job.kind}) is FAILING`,
    body: `Recurring job ${job.id} in ${job.scope}/${job.workspace} (${job.kind} ${JSON.stringify(job.target)}) failed ${job.consecutiveFailures} times in a row and is now FAILING: no run is scheduled until someone tries it again (conveyor recurring-job try-again ${job.id}).`,
  });
}
