/**
 * When stored bytes (one S3 object per distinct sha256+size, shared by every workspace) may be
 * deleted: mark-and-sweep with a grace period, on the blob's own row, with conditional writes.
 *
 * States of a blob row: `uploading` (claimed by an upload that is copying the bytes in: not yet
 * claimable), `stored` (claimable), `condemned` (a sweep saw no file row referencing it; nobody may
 * claim it without uploading, an upload rescues it), `deleting` (the object is being deleted; nobody
 * may store or claim it until the row is gone). Absent = not stored.
 *
 * Why it is safe against an upload claiming the same bytes at the same moment:
 * - creating an artifact marks a file complete without an upload only with a conditional write
 *   that the blob row is `stored` (a condemned or deleting blob must be uploaded);
 * - an upload's verification first claims the row (absent or condemned → `uploading`; refused
 *   while `deleting`, and retried later: its staging object stays), then copies the bytes to the
 *   content address, then sets `stored` (only from `uploading`);
 * - the sweep moves `condemned` → `deleting` only if the row is still the one it condemned
 *   (same `condemnedAt`) and, after the grace period, still no file row references the bytes; it
 *   deletes the object and only then the row (conditional on `deleting`).
 * So the object is never deleted while a file row references it or after someone claimed it, and a
 * new copy is never written before the old object's delete.
 */

export type BlobState = 'uploading' | 'stored' | 'condemned' | 'deleting';

export interface BlobRow {
  state: BlobState;
  /** When the sweep condemned it (the version a later step is conditional on). */
  condemnedAt?: string;
}

/** A file of a new artifact may be complete without an upload only while the blob is `stored`. */
export function blobClaimable(row: BlobRow | undefined): boolean {
  return row?.state === 'stored';
}

/**
 * What an upload's verification does to the blob row before copying the bytes in: nothing when
 * they are stored already (no copy either), else set `uploading` (then copy, then `stored`);
 * while a delete is under way, try again later.
 */
export type UploadClaim = 'already-stored' | 'claim' | 'retry-later';

export function uploadClaim(row: BlobRow | undefined): UploadClaim {
  if (row?.state === 'stored') return 'already-stored';
  if (row?.state === 'deleting') return 'retry-later';
  return 'claim';
}

/** Minimum time between condemning a blob and deleting it: longer than any request that read it as stored. */
export const BLOB_GRACE_PERIOD_SECONDS = 3600;

export type SweepStep =
  /** Nothing to do for this candidate (gone, or referenced and stored). */
  | 'forget'
  /** Conditional on the state read (`stored` or `uploading`): set `condemned` with `condemnedAt = now`. */
  | 'condemn'
  /**
   * Referenced again: conditional on the same `condemnedAt`, set `uploading` (the bytes may not all
   * be there if it was condemned from `uploading`): the next upload of these bytes makes it `stored`.
   */
  | 'rescue'
  /** Condemned too recently: look again in a later pass. */
  | 'wait'
  /** Conditional on the same `condemnedAt`: set `deleting`, delete the object, then the row. */
  | 'delete'
  /** A delete that stopped half-way (state `deleting`): delete the object, then the row. */
  | 'finish-delete';

/**
 * One sweep step for a candidate blob, given whether any file row (any workspace, complete or not)
 * references its bytes, read after the row.
 */
export function sweepStep(
  row: BlobRow | undefined,
  referenced: boolean,
  now: Date,
  graceSeconds = BLOB_GRACE_PERIOD_SECONDS,
  /** When the blob became a candidate: an upload of a deleted artifact may still claim it for a while. */
  candidateSince?: string,
): SweepStep {
  if (!row) {
    // An upload that was under way when its artifact went may yet claim and copy the bytes: keep
    // watching for a grace period, or they would stay stored with nothing referencing them.
    const young = candidateSince !== undefined && now.getTime() - Date.parse(candidateSince) < graceSeconds * 1000;
    return young && !referenced ? 'wait' : 'forget';
  }
  switch (row.state) {
    case 'deleting':
      return 'finish-delete';
    case 'stored':
    case 'uploading': // an upload whose file row is gone (or that crashed) leaves `uploading` behind
      return referenced ? 'forget' : 'condemn';
    case 'condemned': {
      if (referenced) return 'rescue';
      const since = row.condemnedAt ? Date.parse(row.condemnedAt) : 0;
      return now.getTime() - since >= graceSeconds * 1000 ? 'delete' : 'wait';
    }
  }
}
