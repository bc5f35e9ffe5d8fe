/**
 * Administrator routes the web UI needs (403 for anyone else):
 * - `POST worker/<name>/enable/` `{fingerprint?}` and `POST worker/<name>/disable/` → the worker (audited);
 * - `GET audit/?limit=&cursor=` → `{results, next, previous, cursor}`, newest first.
 * Enabling and disabling append to the audit log, listing reads it: two functions in the manifest,
 * so that every writer of the audit table stays append-only.
 */
import * as z from 'zod';
import { listAuditAs, setWorkerEnabledAs } from '../../app/admin-api';
import { getWorker } from '../../app/workers';
import type { AuditEntry } from '../../domain/tenancy';
import type { Deps } from '../../ports';
import { json, jsonBody, type HttpRequest, type RouteHandler } from '../request';
import { pageQueryFields } from '../paged-list';
import { parseWith } from '../validation';
import { withInput } from '../route-input';
import { workerJson } from './workers';

const enableSchema = z.strictObject({ fingerprint: z.string().min(1).max(200).optional() });
const emptySchema = z.strictObject({});
const auditQuery = z.strictObject(pageQueryFields);

export function auditEntryJson(e: AuditEntry) {
  return { id: e.id, at: e.at, actor: e.actor, action: e.action, details: e.details ?? {} };
}

/** The JSON body (an empty body is `{}`). */
function bodyOf(req: HttpRequest): unknown {
  return req.rawBody.length === 0 ? {} : jsonBody(req);
}

export function adminWorkerRoutes(getDeps: () => Deps): Record<string, RouteHandler> {
  const setEnabled = (enabled: boolean): RouteHandler => {
    const schema = enabled ? enableSchema : emptySchema;
    return withInput({ body: schema }, async (req) => {
      const name = req.params['name'] ?? '';
      const body = parseWith(schema, bodyOf(req)) as z.infer<typeof enableSchema>;
      await setWorkerEnabledAs(getDeps(), req.caller, name, enabled, body.fingerprint);
      return json(200, workerJson(await getWorker(getDeps(), name)));
    });
  };
  return {
    'POST /api/1.0/worker/{name}/enable/': setEnabled(true),
    'POST /api/1.0/worker/{name}/disable/': setEnabled(false),
  };
}

export function auditRoutes(getDeps: () => Deps): Record<string, RouteHandler> {
  return {
    'GET /api/1.0/audit/': withInput({ query: auditQuery }, async (req) => {
      const q = parseWith(auditQuery, req.query, 'Invalid query');
      const page = await listAuditAs(getDeps(), req.caller, { limit: q.limit, ...(q.cursor ? { cursor: q.cursor } : {}) });
      const next = page.next ? `${req.baseUrl}/api/1.0/audit/?${new URLSearchParams({ limit: String(q.limit), cursor: page.next }).toString()}` : null;
      return json(200, { results: page.items.map(auditEntryJson), next, previous: null, cursor: page.next ?? null });
    }),
  };
}
