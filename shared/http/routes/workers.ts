/**
 * The Debusine `worker/` API: registration (no token, or an activation token), the worker's
 * own calls (dynamic metadata, disconnect, its queue) and the listing users see.
 */
import * as z from 'zod';
import { UnauthorizedError, ValidationError } from '../../domain/errors';
import { effectiveMetadata, WORKER_TYPES } from '../../domain/workers';
import {
  disconnectWorker,
  getWorker,
  listWorkers,
  registerWorker,
  updateDynamicMetadata,
  workerQueueAccess,
  type WorkerView,
} from '../../app/workers';
import type { Caller } from '../../app/auth';
import type { Deps, QueueAccess } from '../../ports';
import { json, jsonBody, noContent, type RouteHandler } from '../request';
import { parseWith } from '../validation';
import { withInput } from '../route-input';

const registerSchema = z.strictObject({
  token: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters'),
  fqdn: z.string().min(1).max(255),
  worker_type: z.enum(WORKER_TYPES).optional(),
  concurrency: z.number().int().min(1).max(64).optional(),
});

const metadataSchema = z.record(z.string(), z.unknown());
const emptySchema = z.strictObject({});

export function workerJson(w: WorkerView) {
  return {
    id: w.id ?? null,
    name: w.name,
    worker_type: w.workerType,
    enabled: w.enabled,
    connected: w.connected,
    registered_at: w.registeredAt,
    connected_at: w.connectedAt,
    last_seen_at: w.lastSeenAt,
    concurrency: w.concurrency,
    assigned: w.assigned,
    metadata: effectiveMetadata(w),
    current_work: w.currentWork,
    // Launchpad's machine state (docs/api.md "Machines"): a worker never moved is ONLINE.
    state: w.machineState ?? 'ONLINE',
    offline_reason: w.offlineReason ?? null,
  };
}

export function queueAccessJson(access: QueueAccess) {
  return {
    queue_url: access.queueUrl,
    region: access.region,
    ...(access.endpoint ? { endpoint: access.endpoint } : {}),
    ...(access.credentials
      ? {
          credentials: {
            access_key_id: access.credentials.accessKeyId,
            secret_access_key: access.credentials.secretAccessKey,
            session_token: access.credentials.sessionToken ?? null,
            expiration: access.credentials.expiration ?? null,
          },
        }
      : {}),
  };
}

/** Reads of the worker list: any authenticated caller (users, and workers as for every display check). */
function requireAuthenticated(caller: Caller): void {
  if (caller.kind === 'anonymous') throw new UnauthorizedError('Authentication required', 'send a "Token" header');
}

export function workerRoutes(getDeps: () => Deps): Record<string, RouteHandler> {
  return {
    'POST /api/1.0/worker/register/': withInput({ body: registerSchema }, async (req) => {
      const body = parseWith(registerSchema, jsonBody(req), 'Invalid worker');
      // A pool worker presents an activation token in `Token`; the use case checks it.
      const activationKey = req.headers['token']?.trim() || undefined;
      const worker = await registerWorker(
        getDeps(),
        {
          tokenKey: body.token,
          fqdn: body.fqdn,
          ...(body.worker_type ? { workerType: body.worker_type } : {}),
          ...(body.concurrency !== undefined ? { concurrency: body.concurrency } : {}),
        },
        activationKey,
      );
      return json(201, { id: worker.id ?? null, name: worker.name, enabled: worker.enabled });
    }),
    'PUT /api/1.0/worker/dynamic-metadata/': withInput({ body: metadataSchema }, async (req) => {
      const body = jsonBody(req);
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        throw ValidationError.field('(body)', 'must be a JSON object', 'Invalid metadata');
      }
      await updateDynamicMetadata(getDeps(), req.caller, parseWith(metadataSchema, body, 'Invalid metadata'));
      return noContent();
    }),
    'POST /api/1.0/worker/disconnect/': withInput({ body: emptySchema }, async (req) => {
      parseWith(emptySchema, jsonBody(req), 'Invalid request');
      await disconnectWorker(getDeps(), req.caller);
      return noContent();
    }),
    'GET /api/1.0/worker/queue/': async (req) => {
      // Credentials: never cached by anything in between.
      return json(200, queueAccessJson(await workerQueueAccess(getDeps(), req.caller)), { 'cache-control': 'no-store' });
    },
    'GET /api/1.0/worker/': async (req) => {
      requireAuthenticated(req.caller);
      const workers = await listWorkers(getDeps(), req.caller);
      return json(200, { results: workers.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map(workerJson) });
    },
    'GET /api/1.0/worker/{name}/': async (req) => {
      requireAuthenticated(req.caller);
      return json(200, workerJson(await getWorker(getDeps(), req.params['name'] ?? '', req.caller)));
    },
  };
}
