import * as z from 'zod';
import {
  addCollectionItem,
  createCollection,
  getCollection,
  listCollectionItems,
  listCollections,
  removeCollectionItem,
} from '../../app/collections';
import { requireWorkerOrTask } from '../../app/auth';
import { lookupContextForWorker, type LookupContext } from '../../app/acting-as';
import { resolveLookupMultiple, resolveLookupSingle } from '../../app/lookups';
import type { Collection, CollectionItem, LookupResult } from '../../domain/collections';
import { ValidationError } from '../../domain/errors';
import { DEFAULT_WORKSPACE } from '../../domain/tenancy';
import type { Deps } from '../../ports';
import { json, jsonBody, noContent, type HttpRequest, type RouteHandler } from '../request';
import { parseWith, idParam } from '../validation';
import { withInput } from '../route-input';
import { listRoute, pageQueryFields } from '../paged-list';
import { addressedWorkspace } from '../addressed-workspace';
import { camelCaseFields, snakeCaseFields } from '../../domain/fields';

const createSchema = z.strictObject({
  name: z.string(),
  category: z.string().min(1),
  workspace: z.string().min(1).optional(),
  data: z.record(z.string(), z.unknown()).default({}),
  retains_artifacts: z.enum(['never', 'workflow', 'always']).optional(),
  // Debusine's retention of removed items, in seconds; null (the default) = forever.
  full_history_retention_period: z.number().int().nonnegative().nullable().optional(),
  metadata_only_retention_period: z.number().int().nonnegative().nullable().optional(),
});

const listQuerySchema = z.strictObject({
  workspace: z.string().min(1).default(DEFAULT_WORKSPACE),
  name: z.string().min(1).optional(),
  category: z.string().min(1).optional(),
  ...pageQueryFields,
});
const itemsQuerySchema = z.strictObject(pageQueryFields);

const addItemSchema = z.strictObject({
  name: z.string(),
  artifact: z.number().int().positive().optional(),
  collection: z.number().int().positive().optional(),
  category: z.string().min(1).optional(),
  data: z.record(z.string(), z.unknown()).default({}),
  replace: z.boolean().default(false),
});

const EXPECT_TYPES = ['bare', 'artifact', 'artifact-or-promise', 'collection', 'any'] as const;

const lookupSingleSchema = z.strictObject({
  lookup: z.union([z.string().min(1), z.number().int()]),
  work_request: z.number().int().positive(),
  default_category: z.string().min(1).nullable().optional(),
  expect_type: z.enum(EXPECT_TYPES),
});

const lookupMultipleSchema = z.strictObject({
  lookup: z.unknown().refine((v) => v !== undefined && v !== null, { message: 'a lookup is required' }),
  work_request: z.number().int().positive(),
  default_category: z.string().min(1).nullable().optional(),
  expect_type: z.enum(EXPECT_TYPES),
});

/**
 * A lookup route: 403 for a user before the body is read (a user learns nothing more), then the
 * body, then the lookup context of the worker's work request, then `resolve`.
 */
function lookupRoute<S extends z.ZodType<{ work_request: number }>>(
  getDeps: () => Deps,
  schema: S,
  resolve: (deps: Deps, ctx: LookupContext, body: z.output<S>) => Promise<unknown>,
): RouteHandler {
  return withInput({ body: schema }, async (req) => {
    requireWorkerOrTask(req.caller);
    const body = parseWith(schema, jsonBody(req), 'Invalid lookup');
    const deps = getDeps();
    const ctx = await lookupContextForWorker(deps, req.caller, body.work_request);
    return json(200, await resolve(deps, ctx, body));
  });
}

export function collectionJson(c: Collection, baseUrl: string) {
  return {
    id: c.id,
    url: `${baseUrl}/api/1.0/collection/${c.id}/`,
    ...snakeCaseFields(c, ['scope', 'workspace', 'name', 'category', 'data', 'retainsArtifacts']),
    full_history_retention_period: c.fullHistoryRetentionPeriod ?? null,
    metadata_only_retention_period: c.metadataOnlyRetentionPeriod ?? null,
    workflow: c.workflowId,
    created_at: c.createdAt,
  };
}

export function collectionItemJson(i: CollectionItem) {
  return {
    id: i.id,
    parent_collection: i.collectionId,
    ...snakeCaseFields(i, ['name', 'childType', 'category']),
    artifact: i.artifactId,
    collection: i.collectionRef,
    ...snakeCaseFields(i, ['data', 'createdAt', 'createdBy', 'removedAt', 'removedBy']),
  };
}

/** Debusine's lookup response: ids of the item, artifact and collection found. */
export function lookupResultJson(r: LookupResult) {
  return { result_type: r.resultType, collection_item: r.collectionItem?.id ?? null, artifact: r.artifact, collection: r.collection };
}

/** `{name}` is one URL segment; Debusine-style URLs end with "/", which the route key already holds. */
function itemNameParam(req: HttpRequest): string {
  const name = req.params['name'];
  if (!name) throw ValidationError.field('name', 'an item name is required', 'Invalid item name');
  return name;
}

export function collectionRoutes(getDeps: () => Deps): Record<string, RouteHandler> {
  return {
    'GET /api/1.0/collection/': listRoute(listQuerySchema, '/api/1.0/collection/', (req, q, page) =>
      listCollections(getDeps(), req.caller, {
        scope: req.scope,
        workspace: q.workspace,
        ...page,
        ...(q.category !== undefined ? { category: q.category } : {}),
        ...(q.name !== undefined ? { name: q.name } : {}),
      }),
      (req) => (c) => collectionJson(c, req.baseUrl),
    ),
    'POST /api/1.0/collection/': withInput({ body: createSchema }, async (req) => {
      const body = parseWith(createSchema, jsonBody(req), 'Invalid collection');
      const created = await createCollection(getDeps(), req.caller, {
        ...addressedWorkspace(req, body),
        ...camelCaseFields(body, ['name', 'category', 'data', 'retains_artifacts']),
        fullHistoryRetentionPeriod: body.full_history_retention_period ?? null,
        metadataOnlyRetentionPeriod: body.metadata_only_retention_period ?? null,
      });
      return json(201, collectionJson(created, req.baseUrl));
    }),
    'GET /api/1.0/collection/{id}/': async (req) => json(200, collectionJson(await getCollection(getDeps(), req.caller, idParam(req)), req.baseUrl)),
    'GET /api/1.0/collection/{id}/items/': listRoute(
      itemsQuerySchema,
      (req) => `/api/1.0/collection/${idParam(req)}/items/`,
      (req, _q, page) => listCollectionItems(getDeps(), req.caller, idParam(req), page),
      () => collectionItemJson,
    ),
    'POST /api/1.0/collection/{id}/items/': withInput({ body: addItemSchema }, async (req) => {
      const id = idParam(req);
      const body = parseWith(addItemSchema, jsonBody(req), 'Invalid item');
      const item = await addCollectionItem(getDeps(), req.caller, id, body);
      return json(201, collectionItemJson(item));
    }),
    'DELETE /api/1.0/collection/{id}/items/{name}/': async (req) => {
      await removeCollectionItem(getDeps(), req.caller, idParam(req), itemNameParam(req));
      return noContent();
    },
    'POST /api/1.0/lookup/single/': lookupRoute(getDeps, lookupSingleSchema, async (deps, ctx, body) =>
      lookupResultJson(await resolveLookupSingle(deps, ctx, body.lookup, body.expect_type, body.default_category ?? undefined)),
    ),
    'POST /api/1.0/lookup/multiple/': lookupRoute(getDeps, lookupMultipleSchema, async (deps, ctx, body) =>
      (await resolveLookupMultiple(deps, ctx, body.lookup, body.expect_type, body.default_category ?? undefined)).map(lookupResultJson),
    ),
  };
}
