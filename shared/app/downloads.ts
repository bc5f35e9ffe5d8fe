import { createHash } from 'node:crypto';
import { NotFoundError, PayloadTooLargeError } from '../domain/errors';
import { MAX_ARCHIVE_BYTES, MAX_ARCHIVE_FILES } from '../domain/limits';
import type { Deps } from '../ports';
import type { Caller } from './auth';
import { loadArtifact } from './artifacts';
import { archiveObjectKey, blobObjectKey } from '../domain/object-keys';
import { createTarGzStream } from '../formats/tar';

export const DOWNLOAD_URL_TTL_SECONDS = 300;

/** A short-lived URL for one complete file: the bytes come from S3, never through the API. */
export async function fileDownloadUrl(deps: Deps, caller: Caller, id: number, path: string): Promise<string> {
  const { files } = await loadArtifact(deps, caller, id);
  const file = files.find((f) => f.path === path);
  if (!file) throw new NotFoundError('Not found', `artifact ${id} has no file "${path}"`);
  if (!file.complete) throw new NotFoundError('Not found', `file "${path}" of artifact ${id} has not been uploaded yet`);
  return deps.files.presignGet(blobObjectKey(file.sha256, file.size), {
    filename: path.split('/').pop(),
    contentType: file.contentType,
    expiresInSeconds: DOWNLOAD_URL_TTL_SECONDS,
  });
}

/**
 * A URL for a tar.gz of the whole artifact. The archive is built once and stored under a
 * key derived from its file list, so identical artifacts share one archive and a second
 * download is only a presign.
 */
export async function archiveDownloadUrl(deps: Deps, caller: Caller, id: number): Promise<string> {
  const { files } = await loadArtifact(deps, caller, id);
  const totalBytes = files.reduce((sum, f) => sum + f.size, 0);
  if (files.length > MAX_ARCHIVE_FILES || totalBytes > MAX_ARCHIVE_BYTES) {
    // Checked first (declared sizes suffice) and before the cached archive: the answer must not depend on who downloaded first.
    throw new PayloadTooLargeError(
      'Archive too large',
      `artifact ${id} has ${files.length} files and ${totalBytes} bytes; a tar.gz download packs at most ${MAX_ARCHIVE_FILES} files (MAX_ARCHIVE_FILES) and ${MAX_ARCHIVE_BYTES} bytes (MAX_ARCHIVE_BYTES); download its files one by one`,
    );
  }
  const incomplete = files.filter((f) => !f.complete);
  if (incomplete.length) {
    throw new NotFoundError('Not found', `artifact ${id} is incomplete: ${incomplete.map((f) => f.path).join(', ')} not uploaded`);
  }
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const manifest = createHash('sha256')
    .update(JSON.stringify(sorted.map((f) => [f.path, f.sha256, f.size])))
    .digest('hex');
  const key = archiveObjectKey(manifest);
  if (!(await deps.files.head(key))) {
    const mtime = deps.clock.now();
    async function* entries() {
      for (const f of sorted) {
        yield { path: f.path, size: f.size, mtime, open: () => deps.files.getStream(blobObjectKey(f.sha256, f.size)) };
      }
    }
    await deps.files.putStream(key, createTarGzStream(entries()), 'application/gzip');
  }
  return deps.files.presignGet(key, {
    filename: `artifact-${id}.tar.gz`,
    contentType: 'application/gzip',
    expiresInSeconds: DOWNLOAD_URL_TTL_SECONDS,
  });
}
