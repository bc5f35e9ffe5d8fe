import { createHash } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import { BlobNotClaimableError, ConflictError, ForbiddenError, NotFoundError, PayloadTooLargeError, ValidationError } from '../domain/errors';
import { MAX_RANGED_UPLOAD_BYTES } from '../domain/limits';
import { canModifyArtifact } from '../domain/roles';
import type { Artifact } from '../domain/artifacts';
import type { Deps, FileUploadState, StoredFile } from '../ports';
import { artifactEvent, noteUsageChangeAfterCommit } from './accounting';
import type { FollowUpFailure } from './follow-ups';
import { callerId, requireUser, type Caller } from './auth';
import { loadArtifact, loadArtifactForChange } from './artifacts';
import { blobObjectKey, stagingObjectKey } from '../domain/object-keys';

const MiB = 1024 * 1024;
/** Above this a file is uploaded in parts (S3 takes at most 5 GiB in one PUT; parts resume). */
export const MULTIPART_THRESHOLD = 100 * MiB;
const MIN_PART_SIZE = 16 * MiB;
const MAX_PARTS = 10_000;
export const UPLOAD_URL_TTL_SECONDS = 3600;

export type UploadPlan =
  | { complete: true }
  /** The bytes are in and being checked in the background: wait, do not upload again. */
  | { complete: false; verifying: true }
  | { complete: false; method: 'single'; url: string; headers: Record<string, string> }
  | {
      complete: false;
      method: 'multipart';
      uploadId: string;
      partSize: number;
      parts: { partNumber: number; size: number; url: string; uploaded: boolean; etag?: string }[];
    };

export function partSizeFor(size: number): number {
  const needed = Math.ceil(size / MAX_PARTS);
  return Math.max(MIN_PART_SIZE, Math.ceil(needed / MiB) * MiB);
}

export interface UploadTarget {
  artifactId: number;
  file: StoredFile;
  artifact: Artifact;
}

/**
 * Finds the file and checks the caller may upload its bytes. Uploading the declared
 * content is allowed on immutable artifacts too: it completes them, it changes nothing.
 */
export async function loadUploadTarget(deps: Deps, caller: Caller, id: number, path: string): Promise<UploadTarget> {
  let files: StoredFile[];
  let artifact: Artifact;
  if (caller.kind === 'worker') {
    ({ files, artifact } = await loadArtifactForChange(deps, caller, id, { allowImmutable: true }));
  } else {
    requireUser(caller);
    const loaded = await loadArtifact(deps, caller, id);
    if (!canModifyArtifact(loaded.role, callerId(caller), loaded.artifact.createdBy)) {
      throw new ForbiddenError('Permission denied', 'uploading needs the contributor role, or the uploader role on your own artifact');
    }
    files = loaded.files;
    artifact = loaded.artifact;
  }
  const file = files.find((f) => f.path === path);
  if (!file) throw new NotFoundError('Not found', `artifact ${id} has no file "${path}"`);
  return { artifactId: id, file, artifact };
}

/** Presigned URLs for the bytes of one file: one PUT, or parts for a big file (resumable). */
export async function requestUpload(deps: Deps, caller: Caller, id: number, path: string): Promise<UploadPlan> {
  const { artifactId, file, artifact } = await loadUploadTarget(deps, caller, id, path);
  if (file.complete) return { complete: true };
  const current = file.upload;
  if (current?.verifying) return { complete: false, verifying: true };
  if (file.size > MULTIPART_THRESHOLD) {
    let key = current?.key;
    let uploadId = current?.multipartUploadId;
    if (!key || !uploadId) {
      key = stagingObjectKey(deps.ids.random());
      uploadId = await deps.files.createMultipartUpload(key);
      await deps.artifacts.setUploadState(artifactId, path, { key, multipartUploadId: uploadId });
    }
    const partSize = partSizeFor(file.size);
    const done = new Map((await deps.files.listUploadedParts(key, uploadId)).map((p) => [p.partNumber, p]));
    const parts = [];
    for (let partNumber = 1, offset = 0; offset < file.size; partNumber++, offset += partSize) {
      const size = Math.min(partSize, file.size - offset);
      const uploaded = done.get(partNumber);
      const ok = uploaded !== undefined && uploaded.size === size;
      parts.push({
        partNumber,
        size,
        uploaded: ok,
        etag: ok ? uploaded.etag : undefined,
        url: ok ? '' : await deps.files.presignUploadPart(key, uploadId, partNumber, size, UPLOAD_URL_TTL_SECONDS),
      });
    }
    return { complete: false, method: 'multipart', uploadId, partSize, parts };
  }
  let key = current?.key;
  if (!key || current?.multipartUploadId || current?.rangedChunks) {
    key = stagingObjectKey(deps.ids.random());
    await deps.artifacts.setUploadState(artifactId, path, { key });
  }
  const { url, headers } = await deps.files.presignPut(key, file.size, file.sha256, UPLOAD_URL_TTL_SECONDS);
  return { complete: false, method: 'single', url, headers };
}

export type UploadOutcome = { complete: true } | { complete: false; verifying: true };

/**
 * The client says the bytes are in place. A single PUT is checked at once (S3 enforced
 * the SHA-256 on AWS; the local stack reads the object back); a multipart upload is
 * assembled and its full-object SHA-256 checked in the background, because S3 only
 * checksums parts and reading gigabytes back does not fit in an API request.
 */
export async function completeUpload(deps: Deps, caller: Caller, id: number, path: string, followUpFailures?: FollowUpFailure[]): Promise<UploadOutcome> {
  const { artifactId, file, artifact } = await loadUploadTarget(deps, caller, id, path);
  if (file.complete) return { complete: true };
  const upload = file.upload;
  if (!upload?.key || upload.rangedChunks) {
    throw new ConflictError('No upload in progress', `request an upload URL for "${path}" first`);
  }
  if (upload.verifying) {
    await requeueLostVerification(deps, artifactId, path, upload);
    return { complete: false, verifying: true };
  }
  if (upload.multipartUploadId) {
    const parts = await deps.files.listUploadedParts(upload.key, upload.multipartUploadId);
    const received = parts.reduce((n, p) => n + p.size, 0);
    if (received !== file.size) {
      throw new ConflictError('Upload incomplete', `received ${received} of ${file.size} bytes; upload the missing parts`);
    }
    await deps.files.completeMultipartUpload(
      upload.key,
      upload.multipartUploadId,
      parts.map((p) => ({ partNumber: p.partNumber, etag: p.etag })),
    );
    await queueVerification(deps, artifactId, path, upload.key);
    return { complete: false, verifying: true };
  }
  const verdict = await deps.files.verify(upload.key, file.size, file.sha256);
  if (verdict === 'missing') throw new ConflictError('Upload not received', `nothing was uploaded for "${path}" yet`);
  if (verdict === 'unknown') {
    await queueVerification(deps, artifactId, path, upload.key);
    return { complete: false, verifying: true };
  }
  if (verdict === 'mismatch') {
    await discardUpload(deps, artifactId, file, upload, 'the uploaded bytes do not match the declared size and SHA-256');
    throw new ConflictError('Checksum mismatch', `the bytes uploaded for "${path}" do not match its size and SHA-256; upload it again`);
  }
  await acceptVerifiedBytes(deps, artifact, file, upload.key, followUpFailures);
  return { complete: true };
}

/** After this long a verification still outstanding is taken as lost and queued again. */
export const VERIFICATION_REQUEUE_AFTER_MS = 15 * 60 * 1000;

/**
 * Marks the file as being verified and queues the check. If queueing fails the mark is taken
 * back, so that the file is not left "verifying" with no check coming (finding 6): the client's
 * retry of upload-complete starts again.
 */
async function queueVerification(deps: Deps, artifactId: number, path: string, key: string): Promise<void> {
  await deps.artifacts.setUploadState(artifactId, path, { key, verifying: true, verifyingSince: deps.clock.now().toISOString() });
  try {
    await deps.queues.enqueueFileVerification({ artifactId, path });
  } catch (err) {
    await deps.artifacts.setUploadState(artifactId, path, { key }).catch(() => undefined);
    throw err;
  }
}

/** A verification queued long ago and never settled (a lost message, a crash) is queued again. */
async function requeueLostVerification(deps: Deps, artifactId: number, path: string, upload: FileUploadState): Promise<void> {
  const since = upload.verifyingSince ? Date.parse(upload.verifyingSince) : 0;
  if (!upload.key || deps.clock.now().getTime() - since < VERIFICATION_REQUEUE_AFTER_MS) return;
  await queueVerification(deps, artifactId, path, upload.key);
}

/** The background half of `completeUpload`: reads the object back and settles the file. */
export async function verifyQueuedUpload(
  deps: Deps,
  job: { artifactId: number; path: string },
  followUpFailures?: FollowUpFailure[],
): Promise<'complete' | 'mismatch' | 'skipped'> {
  const found = await deps.artifacts.get(job.artifactId);
  const file = found?.files.find((f) => f.path === job.path);
  // Replayed or stale messages find nothing to do: that is what makes this consumer idempotent.
  if (!file || file.complete || !file.upload?.verifying || !file.upload.key) return 'skipped';
  const verdict = await deps.files.verify(file.upload.key, file.size, file.sha256);
  if (verdict === 'ok') {
    await acceptVerifiedBytes(deps, found!.artifact, file, file.upload.key, followUpFailures);
    return 'complete';
  }
  await discardUpload(deps, job.artifactId, file, file.upload, `verification failed (${verdict}): upload the file again`);
  return 'mismatch';
}

/** Whether the file row is complete with these bytes (another completion of the same upload won the race). */
async function completedMeanwhile(deps: Deps, artifactId: number, file: StoredFile, stagingKey: string): Promise<boolean> {
  const row = (await deps.artifacts.get(artifactId))?.files.find((f) => f.path === file.path);
  return !!row?.complete && row.sha256 === file.sha256 && row.size === file.size && !(await deps.files.head(stagingKey));
}

/** Claim-copy-complete rounds lost to an expiry sweep before the upload gives up (the client retries). */
const MAX_COMPLETE_ATTEMPTS = 3;

async function acceptVerifiedBytes(deps: Deps, artifact: Artifact, file: StoredFile, stagingKey: string, followUpFailures?: FollowUpFailure[]): Promise<void> {
  const artifactId = artifact.id;
  for (let attemptNo = 1; ; attemptNo++) {
    const now = deps.clock.now().toISOString();
    // Claim first, copy second (shared/domain/blob-gc.ts): an expiry pass deleting these bytes makes
    // the claim fail (ConflictError, retried later; the staging object stays), so a fresh copy can
    // never land before the old object's delete.
    if ((await deps.artifacts.claimBlobForUpload(file.sha256, file.size, now)) === 'claim') {
      try {
        await deps.files.copy(stagingKey, blobObjectKey(file.sha256, file.size));
      } catch (err) {
        // A concurrent completion of the same upload finished first and removed the staging object.
        if (await completedMeanwhile(deps, artifactId, file, stagingKey)) return;
        throw err;
      }
      await deps.artifacts.markBlobStored(file.sha256, file.size, now);
    }
    try {
      // Conditional on the row still being the one verified (SHA-256, size, upload key) and on the
      // bytes being stored right now: bytes found stored above may have been condemned since; then
      // they are copied in again from the staging object, which is kept until the file is complete.
      await deps.artifacts.completeFile(artifactId, file.path, now, { sha256: file.sha256, size: file.size, uploadKey: stagingKey });
      break;
    } catch (err) {
      if (!(err instanceof BlobNotClaimableError) || attemptNo >= MAX_COMPLETE_ATTEMPTS) throw err;
    }
  }
  await deps.files.delete(stagingKey);
  await noteUsageChangeAfterCommit(deps, artifactEvent(artifact), followUpFailures);
}

async function discardUpload(deps: Deps, artifactId: number, file: StoredFile, upload: FileUploadState, reason: string): Promise<void> {
  if (upload.key) await deps.files.delete(upload.key);
  for (const chunk of upload.rangedChunks ?? []) await deps.files.delete(chunk);
  await deps.artifacts.setUploadState(artifactId, file.path, { lastError: reason });
}

// ---------------------------------------------------------------------------------------------
// Debusine's ranged upload protocol: bytes arrive through the API in Content-Range chunks.
// Each chunk is kept as a staging object; the last one triggers assembly, which hashes the
// bytes as it writes them, so the SHA-256 check needs no second read.

export type ContentRange = { kind: 'status'; size: number } | { kind: 'chunk'; start: number; end: number; size: number };

export function parseContentRange(header: string | undefined, bodyLength: number, declaredSize: number): ContentRange {
  if (header === undefined) return { kind: 'chunk', start: 0, end: bodyLength - 1, size: bodyLength };
  const status = /^bytes \*\/(\d+)$/.exec(header.trim());
  if (status) return { kind: 'status', size: Number(status[1]) };
  const chunk = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(header.trim());
  if (!chunk) throw ValidationError.field('Content-Range', 'must be "bytes */SIZE" or "bytes START-END/SIZE"', 'Invalid Content-Range');
  const [start, end, size] = [Number(chunk[1]), Number(chunk[2]), Number(chunk[3])];
  if (end < start) throw ValidationError.field('Content-Range', 'END must not be before START', 'Invalid Content-Range');
  if (size !== declaredSize) {
    throw ValidationError.field('Content-Range', `size ${size} differs from the declared size ${declaredSize}`, 'Invalid Content-Range');
  }
  return { kind: 'chunk', start, end, size };
}

export type RangedOutcome =
  | { status: 200; complete: true }
  | { status: 200 | 206; complete: false; received: number }
  | { status: 201 };

export async function rangedUpload(
  deps: Deps,
  caller: Caller,
  id: number,
  path: string,
  contentRangeHeader: string | undefined,
  body: Buffer,
  followUpFailures?: FollowUpFailure[],
): Promise<RangedOutcome> {
  const { artifactId, file, artifact } = await loadUploadTarget(deps, caller, id, path);
  if (file.size > MAX_RANGED_UPLOAD_BYTES && !file.complete) {
    // Its chunks would be reassembled inside the API function, past its 29 s.
    throw new PayloadTooLargeError(
      'File too large for a ranged upload',
      `"${path}" has ${file.size} bytes; a ranged (Content-Range) upload takes at most ${MAX_RANGED_UPLOAD_BYTES} bytes (MAX_RANGED_UPLOAD_BYTES); upload it with its presigned URL (files_to_upload / conveyor upload)`,
    );
  }
  const range = parseContentRange(contentRangeHeader, body.length, file.size);
  if (range.kind === 'status') {
    if (range.size !== file.size) {
      throw ValidationError.field('Content-Range', `size ${range.size} differs from the declared size ${file.size}`, 'Invalid Content-Range');
    }
    if (file.complete) return { status: 200, complete: true };
    return { status: 206, complete: false, received: file.upload?.rangedReceived ?? 0 };
  }
  if (file.complete) return { status: 201 };
  if (range.size !== file.size) {
    throw ValidationError.field('Content-Range', `size ${range.size} differs from the declared size ${file.size}`, 'Invalid Content-Range');
  }
  const received = file.upload?.rangedChunks ? (file.upload.rangedReceived ?? 0) : 0;
  if (range.end >= file.size) {
    throw ValidationError.field('Content-Range', `END ${range.end} is beyond the file size ${file.size}`, 'Invalid Content-Range');
  }
  if (range.start !== received) {
    throw ValidationError.field('Content-Range', `the upload stands at byte ${received}. Please continue from ${received}`, 'Invalid Content-Range');
  }
  if (body.length !== range.end - range.start + 1) {
    throw ValidationError.field('body', `has ${body.length} bytes but the range names ${range.end - range.start + 1}`, 'Invalid Content-Range');
  }
  const chunkKey = stagingObjectKey(deps.ids.random());
  await deps.files.put(chunkKey, body);
  const chunks = [...(file.upload?.rangedChunks ?? []), chunkKey];
  const nowReceived = range.end + 1;
  if (nowReceived < file.size) {
    await deps.artifacts.setUploadState(artifactId, path, { rangedReceived: nowReceived, rangedChunks: chunks });
    return { status: 200, complete: false, received: nowReceived };
  }
  await assembleRanges(deps, { artifactId, file, artifact }, chunks, followUpFailures);
  return { status: 201 };
}

/**
 * Joins the staged ranges of a file (in order, covering it exactly), checks the SHA-256 while
 * writing and completes the file; the ranges are deleted either way. 409 on a mismatch.
 */
export async function assembleRanges(deps: Deps, target: UploadTarget, chunks: string[], followUpFailures?: FollowUpFailure[]): Promise<void> {
  const { artifactId, file, artifact } = target;
  const assembledKey = stagingObjectKey(deps.ids.random());
  // Recorded before assembly so that completing is conditional on this upload (see completeFile):
  // a file deleted and attached again while the chunks are assembled has no such key.
  await deps.artifacts.setUploadState(artifactId, file.path, { key: assembledKey, rangedReceived: file.size, rangedChunks: chunks });
  const sha256 = await assembleChunks(deps, chunks, assembledKey);
  for (const chunk of chunks) await deps.files.delete(chunk);
  if (sha256 !== file.sha256) {
    await discardUpload(deps, artifactId, file, { key: assembledKey }, 'the uploaded bytes do not match the declared SHA-256');
    throw new ConflictError('Checksum mismatch', `the bytes uploaded for "${file.path}" do not match its SHA-256; upload it again from the start`);
  }
  await acceptVerifiedBytes(deps, artifact, file, assembledKey, followUpFailures);
}

async function assembleChunks(deps: Deps, chunkKeys: string[], targetKey: string): Promise<string> {
  const hash = createHash('sha256');
  const out = new PassThrough();
  const writing = deps.files.putStream(targetKey, out);
  try {
    for (const key of chunkKeys) {
      const stream: Readable = await deps.files.getStream(key);
      for await (const piece of stream) {
        const buf = piece as Buffer;
        hash.update(buf);
        if (!out.write(buf)) await new Promise((resolve) => out.once('drain', resolve));
      }
    }
    out.end();
  } catch (err) {
    out.destroy(err as Error);
    await writing.catch(() => undefined);
    throw err;
  }
  await writing;
  return hash.digest('hex');
}
