import * as z from 'zod';
import { artifactRetention } from '../../app/expiry';
import {
  attachFiles,
  createArtifact,
  deleteArtifact,
  getArtifact,
  listArtifacts,
  removeFile,
  updateArtifact,
  type FileDeclaration,
} from '../../app/artifacts';
import { archiveDownloadUrl, fileDownloadUrl } from '../../app/downloads';
import { createRelation, deleteRelation, listRelations, listRelationsPage } from '../../app/relations';
import { completeUpload, rangedUpload, requestUpload } from '../../app/uploads';
import type { FollowUpFailure } from '../../app/follow-ups';
import { logFollowUpFailures } from '../../observability/logger';
import { parseExpirationDelay, RELATION_TYPES } from '../../domain/artifacts';
import { ValidationError } from '../../domain/errors';
import { DEFAULT_WORKSPACE } from '../../domain/tenancy';
import { pickFields } from '../../domain/fields';
import { addressedWorkspace } from '../addressed-workspace';
import type { Deps } from '../../ports';
import type { RetentionGraphReader } from '../../ports/expiry';
import { artifactJson, artifactSummaryJson, relationJson, uploadPlanJson } from '../serializers';
import { listRoute, pagedJson, pageQueryFields } from '../paged-list';
import { json, jsonBody, noContent, redirect, type HttpRequest, type RouteHandler } from '../request';
import { parseId, parseWith, idParam } from '../validation';
import { withInput } from '../route-input';

const fileDeclarationSchema = z.strictObject({
  type: z.literal('file').optional(),
  size: z.number().int().nonnegative(),
  // Debusine clients may send more digests than sha256; sha256 is the one Conveyor checks.
  checksums: z.object({ sha256: z.string() }).catchall(z.string()),
  content_type: z.string().max(255).nullable().optional(),
});

const filesSchema = z.record(z.string(), fileDeclarationSchema);

const createSchema = z.strictObject({
  category: z.string().min(1),
  workspace: z.string().min(1).optional(),
  files: filesSchema.default({}),
  data: z.record(z.string(), z.unknown()).default({}),
  expiration_delay: z.union([z.number(), z.string()]).nullable().optional(),
  immutable: z.boolean().optional(),
  // Debusine's client always sends both: `work_request` null unless a worker creates the artifact,
  // `expire_at` an ISO datetime (naive means UTC) or null for the workspace's default delay.
  work_request: z.number().int().positive().nullable().optional(),
  expire_at: z.iso.datetime({ offset: true, local: true }).nullable().optional(),
});

const updateSchema = z
  .strictObject({ data: z.record(z.string(), z.unknown()).optional(), immutable: z.boolean().optional() })
  .refine((v) => v.data !== undefined || v.immutable !== undefined, { message: 'send "data" or "immutable"' });

const attachSchema = z.strictObject({ files: filesSchema });
const uploadRequestSchema = z.strictObject({});
const uploadCompleteSchema = z.strictObject({
  parts: z.array(z.strictObject({ part_number: z.number().int().positive(), etag: z.string() })).optional(),
});

/** `?artifact=` or `?target_artifact=`; `limit`/`cursor` opt into pages (without them: Debusine's bare array). */
const relationListQuerySchema = z.object({
  artifact: z.string().optional(),
  target_artifact: z.string().optional(),
  ...pageQueryFields,
});

const relationSchema = z.strictObject({
  artifact: z.number().int().positive(),
  target: z.number().int().positive(),
  type: z.enum(RELATION_TYPES),
});

const listQuerySchema = z.strictObject({
  workspace: z.string().min(1).default(DEFAULT_WORKSPACE),
  category: z.string().min(1).optional(),
  created_by: z.string().min(1).optional(),
  ...pageQueryFields,
});

function declarations(files: z.output<typeof filesSchema>): Record<string, FileDeclaration> {
  return Object.fromEntries(
    Object.entries(files).map(([path, f]) => [
      path,
      { size: f.size, sha256: f.checksums.sha256.toLowerCase(), contentType: f.content_type ?? undefined },
    ]),
  );
}

/** A datetime without a zone is UTC, as on Debusine's server (Django's TIME_ZONE is UTC). */
function isoWithZone(value: string): string {
  const zoned = /(Z|[+-]\d{2}:?\d{2})$/i.test(value) ? value : `${value}Z`;
  return new Date(zoned).toISOString();
}

/** The greedy `{path+}` parameter carries the trailing "/" of Debusine URLs: drop exactly one. */
function filePathParam(req: HttpRequest): string {
  const raw = req.params['path'] ?? '';
  const path = raw.endsWith('/') ? raw.slice(0, -1) : raw;
  if (!path) throw ValidationError.field('path', 'a file path is required', 'Invalid file path');
  return path;
}

/** Runs a use case that hands back the follow-ups that failed after its commit, and logs them. */
async function withFollowUps<T>(run: (followUps: FollowUpFailure[]) => Promise<T>): Promise<T> {
  const followUps: FollowUpFailure[] = [];
  const result = await run(followUps);
  logFollowUpFailures(followUps);
  return result;
}

/**
 * `expiryStoreOf` (wired by the handler, which knows the adapters) lets the single artifact view say
 * whether something keeps the artifact; without it the view omits `retention`.
 */
export function artifactRoutes(getDeps: () => Deps, expiryStoreOf?: (deps: Deps) => RetentionGraphReader): Record<string, RouteHandler> {
  return {
    'POST /api/1.0/artifact/': withInput({ body: createSchema }, async (req) => {
      const body = parseWith(createSchema, jsonBody(req), 'Invalid artifact');
      const followUps: FollowUpFailure[] = [];
      const created = await createArtifact(getDeps(), req.caller, {
        ...addressedWorkspace(req, body),
        ...pickFields(body, ['category', 'data']),
        files: declarations(body.files),
        expirationDelay: body.expiration_delay == null ? undefined : parseExpirationDelay(body.expiration_delay),
        immutable: body.immutable,
        workRequest: body.work_request ?? undefined,
        expireAt: body.expire_at == null ? undefined : isoWithZone(body.expire_at),
      }, followUps);
      logFollowUpFailures(followUps, { workspace: created.artifact.workspace });
      return json(201, artifactJson(created, req.baseUrl));
    }),
    'GET /api/1.0/artifact/': listRoute(
      listQuerySchema,
      '/api/1.0/artifact/',
      (req, q, page) => listArtifacts(getDeps(), req.caller, { scope: req.scope, workspace: q.workspace, category: q.category, createdBy: q.created_by, ...page }),
      (req) => (a) => artifactSummaryJson(a, req.baseUrl),
    ),
    'GET /api/1.0/artifact/{id}/': async (req) => {
      const found = await getArtifact(getDeps(), req.caller, idParam(req));
      // Only the single view says whether something keeps it (it may read the related artifacts).
      const deps = getDeps();
      const retention = expiryStoreOf ? await artifactRetention(deps, expiryStoreOf(deps), found.artifact) : undefined;
      return json(200, { ...artifactJson(found, req.baseUrl), ...(retention ? { retention } : {}) });
    },
    'PATCH /api/1.0/artifact/{id}/': withInput({ body: updateSchema }, async (req) => {
      const id = idParam(req);
      const body = parseWith(updateSchema, jsonBody(req), 'Invalid change');
      return json(200, artifactJson(await updateArtifact(getDeps(), req.caller, id, body), req.baseUrl));
    }),
    'DELETE /api/1.0/artifact/{id}/': async (req) => {
      await withFollowUps((followUps) => deleteArtifact(getDeps(), req.caller, idParam(req), followUps));
      return noContent();
    },
    'POST /api/1.0/artifact/{id}/attach/': withInput({ body: attachSchema }, async (req) => {
      const id = idParam(req);
      const body = parseWith(attachSchema, jsonBody(req), 'Invalid files');
      return json(200, artifactJson(await withFollowUps((followUps) => attachFiles(getDeps(), req.caller, id, declarations(body.files), followUps)), req.baseUrl));
    }),
    'DELETE /api/1.0/artifact/{id}/files/{path+}': async (req) => {
      await withFollowUps((followUps) => removeFile(getDeps(), req.caller, idParam(req), filePathParam(req), followUps));
      return noContent();
    },
    'PUT /api/1.0/artifact/{id}/files/{path+}': async (req) => {
      const outcome = await withFollowUps((followUps) => rangedUpload(getDeps(), req.caller, idParam(req), filePathParam(req), req.headers['content-range'], req.rawBody, followUps));
      if (outcome.status === 201) return json(201, { complete: true });
      if (outcome.complete) return json(200, { complete: true });
      // Debusine's quirk: the end of the range is the next offset, not an inclusive end.
      return json(outcome.status, { complete: false, received: outcome.received }, { range: `bytes=0-${outcome.received}` });
    },
    'GET /api/1.0/artifact/{id}/files/{path+}': async (req) => redirect(await fileDownloadUrl(getDeps(), req.caller, idParam(req), filePathParam(req))),
    'POST /api/1.0/artifact/{id}/upload/{path+}': withInput({ body: uploadRequestSchema }, async (req) => {
      const id = idParam(req);
      const path = filePathParam(req);
      parseWith(uploadRequestSchema, jsonBody(req));
      return json(200, uploadPlanJson(await requestUpload(getDeps(), req.caller, id, path)));
    }),
    'POST /api/1.0/artifact/{id}/upload-complete/{path+}': withInput({ body: uploadCompleteSchema }, async (req) => {
      const id = idParam(req);
      const path = filePathParam(req);
      // Part ETags are accepted for compatibility but S3's own list of parts is what gets assembled.
      parseWith(uploadCompleteSchema, jsonBody(req));
      const outcome = await withFollowUps((followUps) => completeUpload(getDeps(), req.caller, id, path, followUps));
      return outcome.complete ? json(201, { complete: true }) : json(202, { complete: false, verifying: true });
    }),
    'GET /api/1.0/artifact/{id}/download/': async (req) => {
      const archive = req.query['archive'] ?? 'tar.gz';
      if (archive !== 'tar.gz') throw ValidationError.field('archive', 'only "tar.gz" is supported', 'Invalid query');
      return redirect(await archiveDownloadUrl(getDeps(), req.caller, idParam(req)));
    },
    'GET /api/1.0/artifact-relation/': withInput({ query: relationListQuerySchema }, async (req) => {
      const { artifact, target_artifact } = req.query;
      if ((artifact === undefined) === (target_artifact === undefined)) {
        throw ValidationError.field('artifact', 'give exactly one of "artifact" or "target_artifact"', 'Invalid query');
      }
      const by = artifact !== undefined ? { artifact: parseId(artifact, 'artifact') } : { target: parseId(target_artifact, 'target_artifact') };
      if (req.query['limit'] === undefined && req.query['cursor'] === undefined) {
        return json(200, (await listRelations(getDeps(), req.caller, by)).map(relationJson));
      }
      const q = parseWith(relationListQuerySchema, req.query, 'Invalid query');
      const page = await listRelationsPage(getDeps(), req.caller, by, { limit: q.limit, ...(q.cursor !== undefined ? { cursor: q.cursor } : {}) });
      return pagedJson(req, '/api/1.0/artifact-relation/', page, relationJson);
    }),
    'POST /api/1.0/artifact-relation/': withInput({ body: relationSchema }, async (req) => {
      const body = parseWith(relationSchema, jsonBody(req), 'Invalid relation');
      const { relation, created } = await createRelation(getDeps(), req.caller, body);
      return json(created ? 201 : 200, relationJson(relation));
    }),
    'DELETE /api/1.0/artifact-relation/{id}/': async (req) => {
      await deleteRelation(getDeps(), req.caller, idParam(req));
      return noContent();
    },
  };
}
