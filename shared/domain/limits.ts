/**
 * Size limits on what one caller may ask for (security findings 5 and 6). Each is named in the
 * 400/413 problem it causes, and documented in docs/api.md ("Limits").
 */

/** Lookups in one list of a task's input (`binary_artifacts`): each is resolved while scheduling. */
export const MAX_LOOKUPS_PER_LIST = 100;
/** Architectures of one build-and-lint workflow: each one is a build and a lint child. */
export const MAX_WORKFLOW_ARCHITECTURES = 32;
/** Tags in a lintian `include_tags` / `exclude_tags` list. */
export const MAX_TAGS_PER_LIST = 1_000;
/** Event reactions of one event of one work request. */
export const MAX_REACTIONS_PER_EVENT = 20;
/** Addresses in a send-notification reaction's `to` or `cc`. */
export const MAX_NOTIFICATION_ADDRESSES = 50;
/** Files one artifact may hold in total, across its creation and every later attach. */
export const MAX_FILES_PER_ARTIFACT = 10_000;
/**
 * Relations `GET artifact-relation/?artifact=` (or `?target_artifact=`) lists as a bare array (what
 * Debusine's client parses); more answer 413, and `?limit=&cursor=` pages through any number.
 */
export const MAX_RELATIONS_LISTED = 1_000;

/**
 * How many consecutive pages holding only items the caller may not see a list (work requests,
 * relations) reads on before it ends (without a cursor, which would name a hidden item).
 * `?workspace=` work-request lists are never cut.
 */
export const MAX_HIDDEN_PAGES_SKIPPED = 10;

/**
 * Work done inside the API function, which API Gateway cuts off after 29 s (security finding 6;
 * docs/decisions.md "Bounded in-function work"). Streaming S3 → gzip → S3 runs at roughly
 * 40 MB/s on one Lambda vCPU, so these bounds keep the work near 15 s with room for S3's latency.
 */
/** Total bytes of the files one tar.gz download packs (the archive is built on its first download). */
export const MAX_ARCHIVE_BYTES = 512 * 1024 * 1024;
/** Files one tar.gz download packs (one S3 read each, ~20 ms apiece). */
export const MAX_ARCHIVE_FILES = 500;
/** Size of a file uploaded with Debusine's ranged protocol (its chunks are reassembled in the API function). */
export const MAX_RANGED_UPLOAD_BYTES = 512 * 1024 * 1024;

/** The message of a list that is too long, naming the limit. */
export function tooMany(limitName: string, limit: number, what = 'entries'): string {
  return `at most ${limit} ${what} (${limitName})`;
}
