/**
 * The paging shape of Conveyor's lists (the artifact and work-request lists' shape):
 * `?limit=1..1000 (default 50)&cursor=<the previous page's cursor>` → `{results, next, previous: null, cursor}`,
 * `next` the URL of the next page, null (and `cursor` null) on the last one.
 */
import * as z from 'zod';
import type { Page } from '../ports';
import { json, type HttpRequest, type HttpResponse } from './request';

/** Default page size of a list (the artifact list's). */
export const DEFAULT_PAGE_SIZE = 50;
/** The largest page a client may ask for. */
export const MAX_PAGE_SIZE = 1000;

export const pageQueryFields = {
  limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE),
  cursor: z.string().min(1).optional(),
};

export function pagedJson<T>(req: HttpRequest, path: string, page: Page<T>, shape: (item: T) => unknown): HttpResponse {
  const next = page.next ? `${req.baseUrl}${path}?${new URLSearchParams({ ...req.query, cursor: page.next }).toString()}` : null;
  return json(200, { results: page.items.map(shape), next, previous: null, cursor: page.next ?? null });
}
