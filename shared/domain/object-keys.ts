import { blobKey } from './artifacts';

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

/**
 * Cached whole-artifact archives live under this prefix. They are a cache (rebuilt on the next
 * download when missing), so the bucket expires them (infra/stacks/data-stack.ts).
 */
export const ARCHIVE_PREFIX = 'archives/';

/** A whole-artifact archive is addressed by the list of files it holds. */
export function archiveObjectKey(manifestSha256: string): string {
  return `${ARCHIVE_PREFIX}${manifestSha256}.tar.gz`;
}
