/**
 * What Debusine 0.12.1's client models (debusine/client/models.py, pydantic v1) require of the
 * responses it parses, written as zod schemas: the e2e replay checks Conveyor's answers with them.
 * Pydantic ignores extra fields, so these are loose objects; nullability and types follow the models.
 */
import { z } from 'zod';

const datetime = z.iso.datetime({ offset: true, local: true });
const str255 = z.string().max(255);

export const workRequestResponse = z.looseObject({
  id: z.number().int(),
  url: z.string(),
  created_at: datetime,
  started_at: datetime.nullable().optional(),
  completed_at: datetime.nullable().optional(),
  duration: z.number().int().nullable().optional(),
  status: z.string(),
  result: z.string(),
  worker: z.number().int().nullable().optional(),
  task_type: z.string(),
  task_name: z.string(),
  task_data: z.record(z.string(), z.unknown()),
  dynamic_task_data: z.record(z.string(), z.unknown()).nullable(),
  priority_base: z.number().int(),
  priority_adjustment: z.number().int(),
  artifacts: z.array(z.number().int()),
  workspace: z.string(),
});

const fileResponse = z.looseObject({
  size: z.number().int().nonnegative(),
  checksums: z.record(z.string(), str255),
  type: z.literal('file'),
  url: z.url(),
  content_type: z.string().nullable().optional(),
});

export const artifactResponse = z.looseObject({
  id: z.number().int(),
  url: z.string(),
  workspace: z.string(),
  category: z.string(),
  created_at: datetime,
  data: z.record(z.string(), z.unknown()),
  download_tar_gz_url: z.url(),
  files_to_upload: z.array(z.string()),
  expire_at: datetime.nullable().optional(),
  files: z.record(z.string(), fileResponse).optional(),
});

export const relationResponse = z.looseObject({
  id: z.number().int(),
  artifact: z.number().int(),
  target: z.number().int(),
  type: z.enum(['extends', 'relates-to', 'built-using']),
});

export const relationsResponse = z.array(relationResponse);

export const workflowTemplateResponse = z.looseObject({
  id: z.number().int(),
  url: z.string(),
  name: z.string(),
  task_name: z.string(),
  workspace: z.string(),
  task_data: z.record(z.string(), z.unknown()),
  priority: z.number().int(),
});

export const paginatedResponse = z.looseObject({
  count: z.number().int().nullable().optional(),
  next: z.url().nullable(),
  previous: z.url().nullable(),
  results: z.array(z.record(z.string(), z.unknown())),
});

/** OnWorkRequestCompleted, sent on the on-completed WebSocket. */
export const onWorkRequestCompleted = z.looseObject({
  text: z.literal('work_request_completed'),
  work_request_id: z.number().int(),
  completed_at: datetime,
  result: z.string(),
});

/** The model the client parses for a request, `'empty'` where it requires an empty body, or undefined (not parsed). */
export function modelFor(method: string, path: string): z.ZodType | 'empty' | undefined {
  const p = path.split('?')[0]!.replace(/\/$/, '');
  if (/\/work-request\/\d+\/completed$/.test(p)) return 'empty';
  if (method === 'GET' && /\/work-request$/.test(p)) return paginatedResponse;
  if (/\/work-request(\/\d+(\/(retry|abort))?|\/get-next-for-worker)?$/.test(p) && method !== 'PUT') return workRequestResponse;
  if (method === 'POST' && /\/workflow$/.test(p)) return workRequestResponse;
  if (method === 'POST' && /\/workflow-template$/.test(p)) return workflowTemplateResponse;
  if (method === 'GET' && /\/artifact-relation$/.test(p)) return relationsResponse;
  if (method === 'POST' && /\/artifact-relation$/.test(p)) return relationResponse;
  if ((method === 'POST' && /\/artifact$/.test(p)) || (method === 'GET' && /\/artifact\/\d+$/.test(p))) return artifactResponse;
  return undefined;
}
