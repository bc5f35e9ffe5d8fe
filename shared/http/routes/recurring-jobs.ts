/**
 * Conveyor's recurring-job API (SPEC §5, docs/api.md "Recurring jobs") and the machine state of
 * workers. Thin: validate, call the use case (shared/app/recurring-jobs.ts, machines.ts), shape JSON.
 *
 * - `POST recurring-job/` `{workspace?, kind, target, update_interval?}` → 201 job
 * - `GET recurring-job/?workspace=W&limit=&cursor=` → `{results, next, previous, cursor}`
 * - `GET recurring-job/<id>/` → job with `next_due` and `last_results` (5 newest)
 * - `PATCH recurring-job/<id>/` `{review_status?, update_interval?, target?}` → job (owners)
 * - `DELETE recurring-job/<id>/` → 204 (owners)
 * - `POST recurring-job/<id>/request/` → job (contributors); `POST …/try-again/` → job (owners)
 * - `GET recurring-job/<id>/results/`, `GET …/events/` → pages
 * - `POST worker/<name>/online/`, `…/offline/`, `…/quiesce/` `{message?}` → worker state (admins);
 *   `GET worker/<name>/events/` → page of machine events
 */
import * as z from 'zod';
import {
  createRecurringJob,
  deleteRecurringJob,
  listRecurringJobs,
  loadRecurringJob,
  recurringJobEvents,
  recurringJobResults,
  requestRecurringJob,
  tryRecurringJobAgain,
  updateRecurringJobAs,
} from '../../app/recurring-jobs';
import { changeMachineState, machineEvents, machineStatus, type MachineAction } from '../../app/machines';
import { effectiveUpdateInterval, type RecurringJob, type RecurringJobEvent, type RecurringJobResult } from '../../domain/recurring-jobs';
import { DEFAULT_WORKSPACE } from '../../domain/tenancy';
import type { Deps } from '../../ports';
import { json, jsonBody, noContent, type HttpRequest, type RouteHandler } from '../request';
import { parseWith, idParam } from '../validation';
import { pagedJson, pageQueryFields } from '../paged-list';

const pageQuery = z.strictObject(pageQueryFields);
const listQuery = pageQuery.extend({ workspace: z.string().min(1).optional() });
const createSchema = z.strictObject({
  workspace: z.string().min(1).optional(),
  kind: z.string(),
  target: z.record(z.string(), z.unknown()),
  update_interval: z.number().int().nullable().optional(),
});
const patchSchema = z.strictObject({
  review_status: z.string().optional(),
  update_interval: z.number().int().nullable().optional(),
  target: z.record(z.string(), z.unknown()).optional(),
});
const machineSchema = z.strictObject({ message: z.string().max(1000).optional() });

export function recurringJobJson(job: RecurringJob, baseUrl: string, lastResults?: RecurringJobResult[]) {
  const run = job.run;
  return {
    id: job.id,
    url: `${baseUrl}/api/1.0/recurring-job/${job.id}/`,
    scope: job.scope,
    workspace: job.workspace,
    owner: job.owner,
    kind: job.kind,
    target: job.target,
    update_interval: job.updateInterval,
    effective_update_interval: effectiveUpdateInterval(job),
    review_status: job.reviewStatus,
    consecutive_failures: job.consecutiveFailures,
    date_last_successful: job.dateLastSuccessful,
    date_created: job.createdAt,
    next_due: run?.state === 'PENDING' ? run.dateDue : null,
    run: run && {
      id: run.id,
      state: run.state,
      date_due: run.dateDue,
      requesting_user: run.requestingUser,
      heartbeat: run.heartbeat,
      logtail: run.logtail,
      date_started: run.dateStarted,
      machine: run.machine,
      work_request: run.workRequestId,
      released_at: run.releasedAt,
      skipped: run.skipped ?? null,
    },
    ...(lastResults ? { last_results: lastResults.map(resultJson) } : {}),
  };
}

export function resultJson(r: RecurringJobResult) {
  return {
    sequence: r.sequence,
    run: r.runId,
    status: r.status,
    log_excerpt: r.logExcerpt,
    log_artifact: r.logArtifact,
    output_artifact: r.outputArtifact,
    date_job_started: r.dateJobStarted,
    date_job_finished: r.dateCreated,
    job_duration_seconds: (Date.parse(r.dateCreated) - Date.parse(r.dateJobStarted)) / 1000,
    machine: r.machine,
    requesting_user: r.requestingUser,
  };
}

export function eventJson(e: RecurringJobEvent) {
  return { type: e.type, date: e.date, person: e.person, machine: e.machine, items: e.items };
}

/** The JSON body (an empty body is `{}`); the strict schemas refuse anything but an object. */
function bodyOf(req: HttpRequest): unknown {
  return req.rawBody.length === 0 ? {} : jsonBody(req);
}

export function recurringJobRoutes(getDeps: () => Deps): Record<string, RouteHandler> {
  const show = async (req: HttpRequest, job: RecurringJob) => {
    const last = await getDeps().recurringJobs!.results(job.id, 5);
    return recurringJobJson(job, req.baseUrl, last.items);
  };
  const machine = (action: MachineAction): RouteHandler => async (req) => {
    const body = parseWith(machineSchema, bodyOf(req), 'Invalid request');
    const worker = await changeMachineState(getDeps(), req.caller, req.params['name'] ?? '', action, body.message);
    return json(200, { name: worker.name, concurrency: worker.concurrency, ...(({ state, offlineReason }) => ({ state, offline_reason: offlineReason }))(machineStatus(worker)) });
  };
  return {
    'POST /api/1.0/recurring-job/': async (req) => {
      const body = parseWith(createSchema, bodyOf(req), 'Invalid recurring job');
      const job = await createRecurringJob(getDeps(), req.caller, {
        scope: req.scope,
        workspace: body.workspace ?? DEFAULT_WORKSPACE,
        kind: body.kind,
        target: body.target,
        updateInterval: body.update_interval,
      });
      return json(201, recurringJobJson(job, req.baseUrl, []));
    },
    'GET /api/1.0/recurring-job/': async (req) => {
      const q = parseWith(listQuery, req.query, 'Invalid query');
      const page = await listRecurringJobs(getDeps(), req.caller, { scope: req.scope, workspace: q.workspace ?? DEFAULT_WORKSPACE, limit: q.limit, ...(q.cursor ? { cursor: q.cursor } : {}) });
      return pagedJson(req, '/api/1.0/recurring-job/', page, (j) => recurringJobJson(j, req.baseUrl));
    },
    'GET /api/1.0/recurring-job/{id}/': async (req) => json(200, await show(req, await loadRecurringJob(getDeps(), req.caller, idParam(req), 'viewer'))),
    'PATCH /api/1.0/recurring-job/{id}/': async (req) => {
      const jobId = idParam(req);
      const body = parseWith(patchSchema, bodyOf(req), 'Invalid recurring job');
      const job = await updateRecurringJobAs(getDeps(), req.caller, jobId, {
        ...(body.review_status !== undefined ? { reviewStatus: body.review_status } : {}),
        ...(body.update_interval !== undefined ? { updateInterval: body.update_interval } : {}),
        ...(body.target !== undefined ? { target: body.target } : {}),
      });
      return json(200, await show(req, job));
    },
    'DELETE /api/1.0/recurring-job/{id}/': async (req) => {
      await deleteRecurringJob(getDeps(), req.caller, idParam(req));
      return noContent();
    },
    'POST /api/1.0/recurring-job/{id}/request/': async (req) => json(200, await show(req, await requestRecurringJob(getDeps(), req.caller, idParam(req)))),
    'POST /api/1.0/recurring-job/{id}/try-again/': async (req) => json(200, await show(req, await tryRecurringJobAgain(getDeps(), req.caller, idParam(req)))),
    'GET /api/1.0/recurring-job/{id}/results/': async (req) => {
      const q = parseWith(pageQuery, req.query, 'Invalid query');
      const jobId = idParam(req);
      return pagedJson(req, `/api/1.0/recurring-job/${jobId}/results/`, await recurringJobResults(getDeps(), req.caller, jobId, q.limit, q.cursor), resultJson);
    },
    'GET /api/1.0/recurring-job/{id}/events/': async (req) => {
      const q = parseWith(pageQuery, req.query, 'Invalid query');
      const jobId = idParam(req);
      return pagedJson(req, `/api/1.0/recurring-job/${jobId}/events/`, await recurringJobEvents(getDeps(), req.caller, jobId, q.limit, q.cursor), eventJson);
    },
    'POST /api/1.0/worker/{name}/online/': machine('online'),
    'POST /api/1.0/worker/{name}/offline/': machine('offline'),
    'POST /api/1.0/worker/{name}/quiesce/': machine('quiesce'),
    'GET /api/1.0/worker/{name}/events/': async (req) => {
      const q = parseWith(pageQuery, req.query, 'Invalid query');
      const name = req.params['name'] ?? '';
      return pagedJson(req, `/api/1.0/worker/${name}/events/`, await machineEvents(getDeps(), req.caller, name, q.limit, q.cursor), eventJson);
    },
  };
}
