/**
 * The paging shape of Conveyor's lists (the artifact and work-request lists' shape):
 * `?limit=1..1000 (default 50)&cursor=<the previous page's cursor>` → `{results, next, previous: null, cursor}`,
 * `next` the URL of the next page, null (and `cursor` null) on the last one.
 */
import * as z from 'zod';
import type { Page } from '../ports';
import { json, type HttpRequest, type HttpResponse, type RouteHandler } from './request';
import { parseWith } from './validation';
import { tooMany } from '../domain/limits';
import { withInput } from './route-input';

/** Default page size of a list (the artifact list's). */
export const DEFAULT_PAGE_SIZE = 50;
/** The largest page a client may ask for. */
export const MAX_PAGE_SIZE = 1000;

export const pageQueryFields = {
  limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE, tooMany('MAX_PAGE_SIZE', MAX_PAGE_SIZE, 'items per page')).default(DEFAULT_PAGE_SIZE),
  cursor: z.string().min(1).optional(),
};

export function pagedJson<T>(req: HttpRequest, path: string, page: Page<T>, shape: (item: T) => unknown): HttpResponse {
  const next = page.next ? `${req.baseUrl}${path}?${new URLSearchParams({ ...req.query, cursor: page.next }).toString()}` : null;
  return json(200, { results: page.items.map(shape), next, previous: null, cursor: page.next ?? null });
}

/** The page a list query asks for: its `limit`, and its `cursor` when it has one. */
export interface PageRequest {
  limit: number;
  cursor?: string;
}

/**
 * A list route: the query parsed by `schema` (a 400 naming the field otherwise), one page listed by
 * `list`, answered as `pagedJson` at `path` (the route's own path; a function of the request where it
 * holds an id). `shapeFor` returns how to shape each item; it may read what the whole page needs first.
 */
export function listRoute<S extends z.ZodType<PageRequest>, T>(
  schema: S,
  path: string | ((req: HttpRequest) => string),
  list: (req: HttpRequest, query: z.output<S>, page: PageRequest) => Promise<Page<T>>,
  shapeFor: (req: HttpRequest, items: T[]) => ((item: T) => unknown) | Promise<(item: T) => unknown>,
): RouteHandler {
  return withInput({ query: schema }, async (req) => {
    const q = parseWith(schema, req.query, 'Invalid query');
    const page = await list(req, q, { limit: q.limit, ...(q.cursor !== undefined ? { cursor: q.cursor } : {}) });
    return pagedJson(req, typeof path === 'string' ? path : path(req), page, await shapeFor(req, page.items));
  });
}
