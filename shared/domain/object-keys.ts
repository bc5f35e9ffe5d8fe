import { ARCHIVE_PREFIX, blobKey } from './artifacts';

/** Where verified content lives: one object per distinct (sha256, size). */
export function blobObjectKey(sha256: string, size: number): string {
  return `blobs/${blobKey(sha256, size)}`;
}

/**
 * Uploads land under `tmp/` first and are copied to their content address only once
 * verified, so bad bytes can never overwrite good ones. The bucket expires `tmp/`
 * objects after a day, which cleans up abandoned uploads.
 */
export function stagingObjectKey(random: string): string {
  return `tmp/uploads/${random}`;
}

export { ARCHIVE_PREFIX };

/** A whole-artifact archive is addressed by the list of files it holds. */
export function archiveObjectKey(manifestSha256: string): string {
  return `${ARCHIVE_PREFIX}${manifestSha256}.tar.gz`;
}
