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
import { camelCaseFields, definedFields, pickFields, snakeCaseFields } from '../../domain/fields';
import type { Deps } from '../../ports';
import { json, jsonBody, noContent, type HttpRequest, type RouteHandler } from '../request';
import { parseWith, idParam } from '../validation';
import { listRoute, pageQueryFields } from '../paged-list';
import { addressedWorkspace } from '../addressed-workspace';

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
    ...snakeCaseFields(job, ['scope', 'workspace', 'owner', 'kind', 'target', 'updateInterval']),
    effective_update_interval: effectiveUpdateInterval(job),
    ...snakeCaseFields(job, ['reviewStatus', 'consecutiveFailures', 'dateLastSuccessful']),
    date_created: job.createdAt,
    next_due: run?.state === 'PENDING' ? run.dateDue : null,
    run: run && {
      ...snakeCaseFields(run, ['id', 'state', 'dateDue', 'requestingUser', 'heartbeat', 'logtail', 'dateStarted', 'machine']),
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
    ...snakeCaseFields(r, ['status', 'logExcerpt', 'logArtifact', 'outputArtifact', 'dateJobStarted']),
    date_job_finished: r.dateCreated,
    job_duration_seconds: (Date.parse(r.dateCreated) - Date.parse(r.dateJobStarted)) / 1000,
    ...snakeCaseFields(r, ['machine', 'requestingUser']),
  };
}

export function eventJson(e: RecurringJobEvent) {
  return pickFields(e, ['type', 'date', 'person', 'machine', 'items']);
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
        ...addressedWorkspace(req, body),
        ...camelCaseFields(body, ['kind', 'target', 'update_interval']),
      });
      return json(201, recurringJobJson(job, req.baseUrl, []));
    },
    'GET /api/1.0/recurring-job/': listRoute(
      listQuery,
      '/api/1.0/recurring-job/',
      (req, q, page) => listRecurringJobs(getDeps(), req.caller, { ...addressedWorkspace(req, q), ...page }),
      (req) => (j) => recurringJobJson(j, req.baseUrl),
    ),
    'GET /api/1.0/recurring-job/{id}/': async (req) => json(200, await show(req, await loadRecurringJob(getDeps(), req.caller, idParam(req), 'viewer'))),
    'PATCH /api/1.0/recurring-job/{id}/': async (req) => {
      const jobId = idParam(req);
      const body = parseWith(patchSchema, bodyOf(req), 'Invalid recurring job');
      const job = await updateRecurringJobAs(getDeps(), req.caller, jobId, definedFields(camelCaseFields(body, ['review_status', 'update_interval', 'target'])));
      return json(200, await show(req, job));
    },
    'DELETE /api/1.0/recurring-job/{id}/': async (req) => {
      await deleteRecurringJob(getDeps(), req.caller, idParam(req));
      return noContent();
    },
    'POST /api/1.0/recurring-job/{id}/request/': async (req) => json(200, await show(req, await requestRecurringJob(getDeps(), req.caller, idParam(req)))),
    'POST /api/1.0/recurring-job/{id}/try-again/': async (req) => json(200, await show(req, await tryRecurringJobAgain(getDeps(), req.caller, idParam(req)))),
    'GET /api/1.0/recurring-job/{id}/results/': listRoute(
      pageQuery,
      (req) => `/api/1.0/recurring-job/${idParam(req)}/results/`,
      (req, _q, page) => recurringJobResults(getDeps(), req.caller, idParam(req), page.limit, page.cursor),
      () => resultJson,
    ),
    'GET /api/1.0/recurring-job/{id}/events/': listRoute(
      pageQuery,
      (req) => `/api/1.0/recurring-job/${idParam(req)}/events/`,
      (req, _q, page) => recurringJobEvents(getDeps(), req.caller, idParam(req), page.limit, page.cursor),
      () => eventJson,
    ),
    'POST /api/1.0/worker/{name}/online/': machine('online'),
    'POST /api/1.0/worker/{name}/offline/': machine('offline'),
    'POST /api/1.0/worker/{name}/quiesce/': machine('quiesce'),
    'GET /api/1.0/worker/{name}/events/': listRoute(
      pageQuery,
      (req) => `/api/1.0/worker/${req.params['name'] ?? ''}/events/`,
      (req, _q, page) => machineEvents(getDeps(), req.caller, req.params['name'] ?? '', page.limit, page.cursor),
      () => eventJson,
    ),
  };
}
