import { createHash } from 'node:crypto';
import { artifactEvent, noteUsageChangeAfterCommit } from './accounting';
import type { FollowUpFailure } from './follow-ups';
import { enforceQuotas } from './quotas';
import {
  categoryProblem,
  SHA256_HEX,
  type Artifact,
  type ArtifactFile,
} from '../domain/artifacts';
import { BlobNotClaimableError, ConflictError, NotFoundError, ForbiddenError, PayloadTooLargeError, ValidationError, type FieldErrors } from '../domain/errors';
import { MAX_FILES_PER_ARTIFACT, tooMany } from '../domain/limits';
import type { Workspace, WorkspaceRef } from '../domain/tenancy';
import { artifactExpireAt } from '../domain/expiry';
import { filePathProblem } from '../domain/paths';
import { canModifyArtifact, type Role } from '../domain/roles';
import type { ArtifactListFilter, ArtifactWithFiles, Deps, Page, StoredFile } from '../ports';
import { accessWorkspace, callerId, checkTaskRequest, requireUser, type Caller } from './auth';
import { recordAudit } from './audit';
import { withRetries } from './concurrency';
import { blobObjectKey } from '../domain/object-keys';

export interface FileDeclaration {
  size: number;
  sha256: string;
  contentType?: string;
}

export interface CreateArtifactInput extends WorkspaceRef {
  category: string;
  data: Record<string, unknown>;
  files: Record<string, FileDeclaration>;
  /** Seconds; absent means the workspace default, 0 means never. */
  expirationDelay?: number;
  /** An explicit expiry (ISO, in the future): wins over `expirationDelay` (Debusine's `expire_at`). */
  expireAt?: string;
  immutable?: boolean;
  /** With a worker token: the running request this artifact is an output of. */
  workRequest?: number;
}

/** S3's single-object limit; larger files would need a multipart copy on verification. */
export const MAX_FILE_SIZE = 5 * 1024 ** 3;
export const MAX_FILES_PER_REQUEST = 10_000;

export const artifactNotFound = () => new NotFoundError('Not found', 'No Artifact matches the given query.');

function validateDeclarations(files: Record<string, FileDeclaration>): void {
  const errors: FieldErrors = {};
  const entries = Object.entries(files);
  if (entries.length > MAX_FILES_PER_REQUEST) errors['files'] = [tooMany('MAX_FILES_PER_REQUEST', MAX_FILES_PER_REQUEST, 'files per request')];
  for (const [path, decl] of entries) {
    const problem = filePathProblem(path);
    const field = `files.${path.replace(/\0/g, '\\0').slice(0, 120)}`;
    if (problem) (errors[field] ??= []).push(`file path ${problem}`);
    if (!SHA256_HEX.test(decl.sha256)) (errors[`${field}.checksums.sha256`] ??= []).push('must be 64 lowercase hex digits');
    if (!Number.isSafeInteger(decl.size) || decl.size < 0) (errors[`${field}.size`] ??= []).push('must be a non-negative integer');
    else if (decl.size > MAX_FILE_SIZE) (errors[`${field}.size`] ??= []).push(`must be at most ${MAX_FILE_SIZE} bytes (5 GiB, MAX_FILE_SIZE)`);
  }
  if (Object.keys(errors).length) throw new ValidationError('Invalid files', errors);
}

/** SHA-256 of the empty string: empty files need no upload. */
const EMPTY_SHA256 = createHash('sha256').digest('hex');

/**
 * Builds the file rows of new or attached files. A file is complete at once when it is
 * empty, or when the same bytes are already verified in the store and visible in this
 * workspace; bytes held only by another workspace must be uploaded again, so that
 * nobody can claim content they do not have (Debusine's `file_needs_upload`).
 */
async function prepareFiles(
  deps: Deps,
  scope: string,
  workspace: string,
  files: Record<string, FileDeclaration>,
): Promise<StoredFile[]> {
  const rows: StoredFile[] = [];
  for (const [path, decl] of Object.entries(files)) {
    let complete = false;
    if (decl.size === 0) {
      if (decl.sha256 !== EMPTY_SHA256) {
        throw ValidationError.field(`files.${path}.checksums.sha256`, 'an empty file has SHA-256 ' + EMPTY_SHA256, 'Invalid files');
      }
      await ensureEmptyBlob(deps);
      complete = true;
    } else {
      complete =
        (await deps.artifacts.isBlobStored(decl.sha256, decl.size)) &&
        (await deps.artifacts.blobVisibleInWorkspace(scope, workspace, decl.sha256, decl.size));
    }
    rows.push({ path, sha256: decl.sha256, size: decl.size, contentType: decl.contentType, complete });
  }
  return rows;
}

async function ensureEmptyBlob(deps: Deps): Promise<void> {
  if (await deps.artifacts.isBlobStored(EMPTY_SHA256, 0)) return;
  const at = deps.clock.now().toISOString();
  if ((await deps.artifacts.claimBlobForUpload(EMPTY_SHA256, 0, at)) === 'already-stored') return;
  await deps.files.put(blobObjectKey(EMPTY_SHA256, 0), Buffer.alloc(0));
  await deps.artifacts.markBlobStored(EMPTY_SHA256, 0, at);
}

/** The request a worker is creating outputs for: it must be running on that worker. */
async function runningRequestOf(deps: Deps, caller: Extract<Caller, { kind: 'worker' }>, id: number) {
  checkTaskRequest(caller, id);
  const wr = await deps.workRequests.get(id);
  if (!wr) throw ValidationError.field('work_request', `work request ${id} does not exist`, 'Invalid artifact');
  if (wr.worker !== caller.worker.name || wr.status !== 'running') {
    throw new ForbiddenError('Permission denied', `work request ${id} is not running on worker ${caller.worker.name}`);
  }
  return wr;
}

export async function createArtifact(deps: Deps, caller: Caller, input: CreateArtifactInput, followUpFailures?: FollowUpFailure[]): Promise<ArtifactWithFiles> {
  const categoryIssue = categoryProblem(input.category);
  if (categoryIssue) throw ValidationError.field('category', categoryIssue, 'Invalid artifact');
  validateDeclarations(input.files);
  if (input.expireAt !== undefined && !(Date.parse(input.expireAt) > deps.clock.now().getTime())) {
    throw ValidationError.field('expire_at', 'must be in the future', 'Invalid artifact');
  }
  if (caller.kind === 'worker') {
    if (input.workRequest === undefined) throw ValidationError.field('work_request', 'a worker must say which work request this artifact comes from', 'Invalid artifact');
    const wr = await runningRequestOf(deps, caller, input.workRequest);
    const created = await storeNewArtifact(deps, { ...input, scope: wr.scope, workspace: wr.workspace }, `work-request:${wr.id}`);
    await noteCompleteFiles(deps, created, followUpFailures);
    await withRetries(async () => {
      const current = (await deps.workRequests.get(wr.id))!;
      await deps.workRequests.commit({
        update: [{ workRequest: { ...current, outputArtifacts: [...current.outputArtifacts, created.artifact.id], version: current.version + 1 }, expectedVersion: current.version }],
      });
    });
    return created;
  }
  requireUser(caller);
  if (input.workRequest !== undefined) throw new ForbiddenError('Permission denied', '"work_request" may only be given with a worker token');
  const created = await storeNewArtifact(deps, input, callerId(caller)!, caller);
  await noteCompleteFiles(deps, created, followUpFailures);
  return created;
}

/** Files whose bytes the workspace already holds are complete at once: they count now. */
async function noteCompleteFiles(deps: Deps, { artifact, files }: ArtifactWithFiles, followUpFailures: FollowUpFailure[] | undefined): Promise<void> {
  if (files.some((f) => f.complete)) await noteUsageChangeAfterCommit(deps, artifactEvent(artifact), followUpFailures);
}

async function storeNewArtifact(deps: Deps, input: CreateArtifactInput, createdBy: string, caller?: Caller): Promise<ArtifactWithFiles> {
  const workspace = caller
    ? (await accessWorkspace(deps, caller, input.scope, input.workspace, 'uploader')).workspace
    : await deps.identity.getWorkspace(input.scope, input.workspace);
  if (!workspace) throw new NotFoundError('Not found', `workspace "${input.workspace}" not found`);
  if (caller) await enforceQuotas(deps, caller, input.scope, input.workspace, { disk: declaredBytes(input.files) });
  const id = await deps.sequences.next('artifact');
  try {
    return await writeNewArtifact(deps, input, createdBy, workspace, id);
  } catch (err) {
    // Bytes it meant to claim were condemned by an expiry pass in between: look again (they are
    // no longer claimable, so this time those files wait for an upload).
    if (!(err instanceof BlobNotClaimableError)) throw err;
    return writeNewArtifact(deps, input, createdBy, workspace, id);
  }
}

async function writeNewArtifact(deps: Deps, input: CreateArtifactInput, createdBy: string, workspace: Workspace, id: number): Promise<ArtifactWithFiles> {
  const files = await prepareFiles(deps, input.scope, input.workspace, input.files);
  const now = deps.clock.now();
  const artifact: Artifact = {
    id,
    scope: input.scope,
    workspace: input.workspace,
    category: input.category,
    data: input.data,
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    createdBy,
    expireAt: input.expireAt ?? artifactExpireAt({ createdAt: now, delaySeconds: input.expirationDelay, workspaceDefaultDelay: workspace.defaultExpirationDelay }),
    immutable: input.immutable ?? false,
    incompleteFiles: files.filter((f) => !f.complete).length,
    version: 1,
  };
  await deps.artifacts.create(artifact, files);
  return { artifact, files };
}

/** Loads an artifact the caller may see, with the caller's role in its workspace. */
export async function loadArtifact(
  deps: Deps,
  caller: Caller,
  id: number,
  needed: Role = 'viewer',
): Promise<ArtifactWithFiles & { role: Role | undefined }> {
  const found = await deps.artifacts.get(id);
  if (!found) throw artifactNotFound();
  const { role } = await accessWorkspace(deps, caller, found.artifact.scope, found.artifact.workspace, needed, artifactNotFound);
  return { ...found, role };
}

/** Loads an artifact the caller may change: contributors any, uploaders their own; never an immutable one. */
export async function loadArtifactForChange(
  deps: Deps,
  caller: Caller,
  id: number,
  opts: { allowImmutable?: boolean } = {},
): Promise<ArtifactWithFiles> {
  if (caller.kind === 'worker') {
    // A worker changes only the outputs of a request it is running (uploads, relations).
    const loaded = await loadArtifact(deps, caller, id, 'viewer');
    const m = /^work-request:(\d+)$/.exec(loaded.artifact.createdBy);
    if (!m) throw new ForbiddenError('Permission denied', 'a worker may only change the outputs of its own work requests');
    await runningRequestOf(deps, caller, Number(m[1]));
    if (!opts.allowImmutable) assertMutable(loaded.artifact);
    return loaded;
  }
  requireUser(caller);
  const loaded = await loadArtifact(deps, caller, id, 'viewer');
  if (!canModifyArtifact(loaded.role, callerId(caller), loaded.artifact.createdBy)) {
    throw new ForbiddenError('Permission denied', 'changing this artifact needs the contributor role, or the uploader role on your own artifact');
  }
  assertMutable(loaded.artifact);
  return loaded;
}

export function assertMutable(artifact: Artifact): void {
  if (artifact.immutable) throw new ConflictError('Artifact is immutable', `artifact ${artifact.id} is immutable and cannot be changed`);
}

export async function getArtifact(deps: Deps, caller: Caller, id: number): Promise<ArtifactWithFiles> {
  const { artifact, files } = await loadArtifact(deps, caller, id);
  return { artifact, files };
}

/** What a listing asks for is what the repository filters on. */
export type ListArtifactsInput = ArtifactListFilter;

export async function listArtifacts(deps: Deps, caller: Caller, input: ListArtifactsInput): Promise<Page<Artifact>> {
  await accessWorkspace(deps, caller, input.scope, input.workspace, 'viewer');
  return deps.artifacts.list(input);
}

export interface UpdateArtifactInput {
  data?: Record<string, unknown>;
  immutable?: boolean;
}

export async function updateArtifact(deps: Deps, caller: Caller, id: number, input: UpdateArtifactInput): Promise<ArtifactWithFiles> {
  if (input.immutable === false) throw ValidationError.field('immutable', 'an artifact cannot be made mutable again', 'Invalid change');
  const { artifact, files } = await loadArtifactForChange(deps, caller, id);
  const updated: Artifact = {
    ...artifact,
    data: input.data ?? artifact.data,
    immutable: input.immutable ?? artifact.immutable,
    updatedAt: deps.clock.now().toISOString(),
    version: artifact.version + 1,
  };
  await deps.artifacts.update(updated, artifact.version);
  return { artifact: updated, files };
}

export async function deleteArtifact(deps: Deps, caller: Caller, id: number, followUpFailures?: FollowUpFailure[]): Promise<void> {
  const { artifact, files } = await loadArtifactForChange(deps, caller, id);
  await deps.artifacts.delete(artifact);
  await noteUsageChangeAfterCommit(deps, artifactEvent(artifact), followUpFailures);
  const actor = caller.kind === 'worker' ? `worker:${caller.worker.name}` : callerId(caller)!;
  await recordAudit(deps, actor, 'artifact.delete', {
    artifact: id,
    scope: artifact.scope,
    workspace: artifact.workspace,
    category: artifact.category,
    files: files.map((f) => f.path),
  });
}

export async function attachFiles(
  deps: Deps,
  caller: Caller,
  id: number,
  declarations: Record<string, FileDeclaration>,
  followUpFailures?: FollowUpFailure[],
): Promise<ArtifactWithFiles> {
  validateDeclarations(declarations);
  if (Object.keys(declarations).length === 0) throw ValidationError.field('files', 'at least one file is required', 'Invalid files');
  let { artifact, files } = await loadArtifactForChange(deps, caller, id);
  const total = files.length + Object.keys(declarations).length;
  if (total > MAX_FILES_PER_ARTIFACT) {
    throw new PayloadTooLargeError(
      'Too many files',
      `artifact ${id} would hold ${total} files; ${tooMany('MAX_FILES_PER_ARTIFACT', MAX_FILES_PER_ARTIFACT, 'files')} per artifact`,
    );
  }
  if (caller.kind === 'user') await enforceQuotas(deps, caller, artifact.scope, artifact.workspace, { disk: declaredBytes(declarations) });
  const existing = new Set(files.map((f) => f.path));
  const clash = Object.keys(declarations).find((p) => existing.has(p));
  if (clash) throw new ConflictError('File exists', `artifact ${id} already has a file at "${clash}"; remove it first`);
  const rows = await prepareFiles(deps, artifact.scope, artifact.workspace, declarations);
  for (const row of rows) {
    const next: Artifact = {
      ...artifact,
      incompleteFiles: artifact.incompleteFiles + (row.complete ? 0 : 1),
      updatedAt: deps.clock.now().toISOString(),
      version: artifact.version + 1,
    };
    await deps.artifacts.attachFile(next, artifact.version, row);
    artifact = next;
    files = [...files, row];
  }
  if (rows.some((r) => r.complete)) await noteUsageChangeAfterCommit(deps, artifactEvent(artifact), followUpFailures);
  return { artifact, files };
}

export async function removeFile(deps: Deps, caller: Caller, id: number, path: string, followUpFailures?: FollowUpFailure[]): Promise<void> {
  const { artifact, files } = await loadArtifactForChange(deps, caller, id);
  const file = files.find((f) => f.path === path);
  if (!file) throw new NotFoundError('Not found', `artifact ${id} has no file "${path}"`);
  const next: Artifact = {
    ...artifact,
    incompleteFiles: artifact.incompleteFiles - (file.complete ? 0 : 1),
    updatedAt: deps.clock.now().toISOString(),
    version: artifact.version + 1,
  };
  await deps.artifacts.removeFile(next, artifact.version, file);
  if (file.complete) await noteUsageChangeAfterCommit(deps, artifactEvent(artifact), followUpFailures);
}

/** The bytes an artifact's file declarations would add (the quota check's estimate). */
function declaredBytes(declarations: Record<string, FileDeclaration>): number {
  return Object.values(declarations).reduce((sum, d) => sum + (typeof d.size === 'number' ? d.size : 0), 0);
}

export function filesToUpload(files: ArtifactFile[]): string[] {
  return files.filter((f) => !f.complete).map((f) => f.path).sort();
}
