/**
 * The Debusine `work-request/` API: user operations (create, list, show, priority, retry, abort,
 * unblock) and the worker side (get-next-for-worker, completed, heartbeat). Thin: validate, call
 * the use case, shape the JSON.
 */
import * as z from 'zod';
import {
  abortWorkRequest,
  createWorkRequest,
  getWorkRequest,
  listWorkRequests,
  retryWorkRequest,
  setPriorityAdjustment,
  unblockWorkRequest,
} from '../../app/work-requests';
import { completeAndPullNext, completeWorkRequest, getNextForWorker, MAX_LOGTAIL_LINES, recordHeartbeat } from '../../app/workers';
import { issueTaskToken } from '../../app/task-tokens';
import { ValidationError } from '../../domain/errors';
import { camelCaseFields } from '../../domain/fields';
import { addressedWorkspace } from '../addressed-workspace';
import { RESULTS, STATUSES, type FinalResult } from '../../domain/work-requests';
import type { Deps } from '../../ports';
import type { FollowUpFailure } from '../../app/lifecycle';
import { logFollowUpFailures } from '../../observability/logger';
import { workRequestJson } from '../serializers';
import { workerIdsOf } from '../../app/worker-ids';
import type { WorkRequest } from '../../domain/work-requests';
import { json, jsonBody, noContent, type HttpRequest, type RouteHandler } from '../request';
import { parseWith, idParam } from '../validation';
import { withInput } from '../route-input';
import { listRoute, pageQueryFields } from '../paged-list';

/** Debusine accepts exactly these fields on creation; anything else is refused by name. */
export const CREATE_FIELDS = ['task_name', 'task_data', 'event_reactions', 'workspace'] as const;
/** A heartbeat line is cut to this many characters. */
export const MAX_LOGTAIL_LINE_LENGTH = 1000;

const jsonObject = z.record(z.string(), z.unknown());

const createSchema = z.strictObject({
  task_name: z.string().min(1).max(255),
  task_data: jsonObject.default({}),
  // Validated by the use case (only send-notification reactions are allowed).
  event_reactions: z.unknown().optional(),
  workspace: z.string().min(1).optional(),
});

const listQuerySchema = z.strictObject({
  workspace: z.string().min(1).optional(),
  status: z.enum(STATUSES).optional(),
  task_name: z.string().min(1).optional(),
  ...pageQueryFields,
});

const prioritySchema = z.strictObject({ priority_adjustment: z.number().int() });
const emptySchema = z.strictObject({});
const unblockSchema = z.strictObject({ action: z.enum(['accept', 'reject']).optional(), notes: z.string().max(10_000).optional() });

const FINAL_RESULTS = RESULTS.filter((r): r is FinalResult => r !== '');
const completedSchema = z.strictObject({ result: z.enum(FINAL_RESULTS), output_data: jsonObject.nullable().optional() });

const heartbeatSchema = z.strictObject({ logtail: z.array(z.string()).optional() });

/**
 * Conveyor's own worker pulls its next request itself: `?next=1` asks the completion to pull it in the same
 * round trip; `pulls_next=true` says the worker will ask get-next. Without either (Debusine's worker, which
 * waits to be told over its WebSocket) the completion nudges the scheduler. Debusine's clients send neither.
 */
const completedQuerySchema = z.strictObject({ next: z.literal('1').optional(), pulls_next: z.enum(['true', 'false']).optional() });

const getNextQuerySchema = z.strictObject({
  // `running=1,2,3`: the requests the worker still runs (an empty value: none).
  running: z
    .string()
    .regex(/^([1-9][0-9]{0,15}(,[1-9][0-9]{0,15})*)?$/, 'must be a comma-separated list of work request ids')
    .optional(),
});

/** The JSON object body; 400 naming the fields Debusine does not accept, before any other check. */
function createBody(req: HttpRequest): z.output<typeof createSchema> {
  const body = jsonBody(req);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw ValidationError.field('(body)', 'must be a JSON object', 'Cannot create work request');
  }
  const invalid = Object.keys(body)
    .filter((k) => !(CREATE_FIELDS as readonly string[]).includes(k))
    .sort();
  if (invalid.length) throw ValidationError.field('(body)', `Invalid fields: ${invalid.join(', ')}`, 'Cannot create work request');
  return parseWith(createSchema, body, 'Cannot create work request');
}

/** The last lines a heartbeat carries, each cut to a bounded length. */
export function boundedLogtail(lines: string[]): string[] {
  return lines.slice(-MAX_LOGTAIL_LINES).map((line) => line.slice(0, MAX_LOGTAIL_LINE_LENGTH));
}

export function workRequestRoutes(getDeps: () => Deps): Record<string, RouteHandler> {
  const one = async (req: HttpRequest, wr: WorkRequest) => json(200, workRequestJson(wr, req.baseUrl, await workerIdsOf(getDeps(), [wr.worker])));
  return {
    'POST /api/1.0/work-request/': withInput({ body: createSchema }, async (req) => {
      const body = createBody(req);
      const followUpFailures: FollowUpFailure[] = [];
      const wr = await createWorkRequest(getDeps(), req.caller, {
        ...addressedWorkspace(req, body),
        ...camelCaseFields(body, ['task_name', 'task_data']),
        ...(body.event_reactions !== undefined ? { eventReactions: body.event_reactions } : {}),
      }, followUpFailures);
      logFollowUpFailures(followUpFailures, { workspace: wr.workspace });
      return one(req, wr);
    }),
    'GET /api/1.0/work-request/': listRoute(listQuerySchema, '/api/1.0/work-request/', (req, q, page) =>
      listWorkRequests(getDeps(), req.caller, {
        scope: req.scope,
        ...(q.workspace ? { workspace: q.workspace } : {}),
        ...(q.status ? { status: q.status } : {}),
        ...(q.task_name ? { taskName: q.task_name } : {}),
        ...page,
      }),
      async (req, items) => {
        const workerIds = await workerIdsOf(getDeps(), items.map((wr) => wr.worker));
        return (wr) => workRequestJson(wr, req.baseUrl, workerIds);
      },
    ),
    'GET /api/1.0/work-request/get-next-for-worker/': withInput({ query: getNextQuerySchema }, async (req) => {
      const q = parseWith(getNextQuerySchema, req.query, 'Invalid query');
      const stillRunning = q.running === undefined ? undefined : q.running === '' ? [] : q.running.split(',').map(Number);
      const wr = await getNextForWorker(getDeps(), req.caller, stillRunning);
      return wr ? one(req, wr) : noContent();
    }),
    'GET /api/1.0/work-request/{id}/': async (req) => one(req, await getWorkRequest(getDeps(), req.caller, idParam(req))),
    'PATCH /api/1.0/work-request/{id}/': withInput({ body: prioritySchema }, async (req) => {
      const wrId = idParam(req);
      const body = parseWith(prioritySchema, jsonBody(req), 'Invalid change');
      return one(req, await setPriorityAdjustment(getDeps(), req.caller, wrId, body.priority_adjustment));
    }),
    'POST /api/1.0/work-request/{id}/retry/': withInput({ body: emptySchema }, async (req) => {
      const wrId = idParam(req);
      parseWith(emptySchema, jsonBody(req), 'Invalid request');
      return one(req, await retryWorkRequest(getDeps(), req.caller, wrId));
    }),
    'POST /api/1.0/work-request/{id}/abort/': withInput({ body: emptySchema }, async (req) => {
      const wrId = idParam(req);
      parseWith(emptySchema, jsonBody(req), 'Invalid request');
      const followUpFailures: FollowUpFailure[] = [];
      const aborted = await abortWorkRequest(getDeps(), req.caller, wrId, followUpFailures);
      logFollowUpFailures(followUpFailures, { workspace: aborted.workspace });
      return json(200, workRequestJson(aborted, req.baseUrl));
    }),
    'POST /api/1.0/work-request/{id}/unblock/': withInput({ body: unblockSchema }, async (req) => {
      const wrId = idParam(req);
      const body = parseWith(unblockSchema, jsonBody(req), 'Cannot unblock work request');
      const input = { ...(body.action ? { action: body.action } : {}), ...(body.notes !== undefined ? { notes: body.notes } : {}) };
      return one(req, await unblockWorkRequest(getDeps(), req.caller, wrId, input));
    }),
    'PUT /api/1.0/work-request/{id}/completed/': withInput({ body: completedSchema, query: completedQuerySchema }, async (req) => {
      const wrId = idParam(req);
      const q = parseWith(completedQuerySchema, req.query, 'Invalid query');
      const body = parseWith(completedSchema, jsonBody(req), 'Invalid completion');
      const followUpFailures: FollowUpFailure[] = [];
      const input = { result: body.result, ...(body.output_data ? { outputData: body.output_data } : {}) };
      const logFailures = (wr: WorkRequest) => logFollowUpFailures(followUpFailures, { workspace: wr.workspace, ...(wr.worker ? { worker: wr.worker } : {}) });
      if (q.next === '1') {
        const { finished, next, pullFailed } = await completeAndPullNext(getDeps(), req.caller, wrId, input, followUpFailures);
        logFailures(finished);
        if (pullFailed) return json(200, { next: null, ask_get_next: true });
        if (!next) return json(200, { next: null });
        // The next request runs on the caller itself: its integer id is known without a read.
        const self = req.caller.kind === 'worker' ? req.caller.worker : undefined;
        const workerIds = self?.id !== undefined ? new Map([[self.name, self.id]]) : await workerIdsOf(getDeps(), [next.worker]);
        return json(200, { next: workRequestJson(next, req.baseUrl, workerIds) });
      }
      const wr = await completeWorkRequest(getDeps(), req.caller, wrId, { ...input, workerPullsNext: q.pulls_next === 'true' }, followUpFailures);
      // The completion is stored: a failed follow-up is reported, not answered with an error.
      logFailures(wr);
      // Debusine's client requires an empty body here (it fails on any content): 200, nothing.
      return { statusCode: 200, headers: {}, body: '' };
    }),
    'POST /api/1.0/work-request/{id}/heartbeat/': withInput({ body: heartbeatSchema }, async (req) => {
      const wrId = idParam(req);
      const body = parseWith(heartbeatSchema, jsonBody(req), 'Invalid heartbeat');
      await recordHeartbeat(getDeps(), req.caller, wrId, boundedLogtail(body.logtail ?? []));
      // Accepted: the applier writes it shortly, in a batch.
      return { statusCode: 202, headers: {}, body: '' };
    }),
    'POST /api/1.0/work-request/{id}/task-token/': async (req) => {
      parseWith(z.strictObject({}), jsonBody(req) ?? {}, 'Invalid request');
      const issued = await issueTaskToken(getDeps(), req.caller, idParam(req));
      return json(201, { token: issued.key, expire_at: issued.expireAt }, { 'cache-control': 'no-store' });
    },
  };
}
