/**
 * The expiry pass (every 15 minutes, and `conveyor admin expire`): one bounded slice of
 * shared/app/expiry.ts. It stops starting new work a minute before the Lambda's timeout; whatever
 * is left stays in the expiry index for the next run. `CONVEYOR_EXPIRY_MAX_ARTIFACTS` overrides the
 * slice size (default 500).
 */
import { awsDeps, awsExpiryStore, artifacts, audit, workRequests, collections, accountingQueue, identity, templates, recurringJobs } from '../shared/adapters/aws-adapters';
import { files } from '../shared/adapters/aws-files';
import { runExpiryPass, type ExpiryOptions, type ExpiryReport } from '../shared/app/expiry';
import type { Deps } from '../shared/ports';
import type { ExpiryStore } from '../shared/ports/expiry';
import { logFollowUpFailures, logger } from '../shared/observability/logger';

export const MAX_ARTIFACTS_ENV_VAR = 'CONVEYOR_EXPIRY_MAX_ARTIFACTS';
/** Seconds between condemning stored bytes and deleting them (default 3600; the e2e tests shorten it). */
export const BLOB_GRACE_ENV_VAR = 'CONVEYOR_EXPIRY_BLOB_GRACE_SECONDS';
const SAFETY_MARGIN_MS = 60_000;

// identity, templates and recurringJobs: the workspace step reads what a due workspace still holds.
const getDeps = awsDeps({ artifacts, audit, files, workRequests, collections, accountingQueue, identity, templates, recurringJobs });

function wholeNumber(env: NodeJS.ProcessEnv, name: string, min: number): number | undefined {
  const text = env[name];
  if (text === undefined || text === '') return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be a whole number of at least ${min}, not ${JSON.stringify(text)}`);
  return n;
}

export function expiryOptionsFromEnv(env: NodeJS.ProcessEnv): ExpiryOptions {
  const maxArtifacts = wholeNumber(env, MAX_ARTIFACTS_ENV_VAR, 1);
  const blobGraceSeconds = wholeNumber(env, BLOB_GRACE_ENV_VAR, 0);
  return { ...(maxArtifacts !== undefined ? { maxArtifacts } : {}), ...(blobGraceSeconds !== undefined ? { blobGraceSeconds } : {}) };
}

/** A one-line summary for the logs (the full report lists every id). */
export function summarise(report: ExpiryReport) {
  return {
    condemned: report.condemned.length,
    deleted: report.deleted.length,
    reprieved: report.reprieved.length,
    kept: report.kept.length,
    waiting: report.waiting.length,
    blobsCondemned: report.blobs.condemned.length,
    blobsDeleted: report.blobs.deleted.length,
    itemLinksDropped: report.items.linkDropped.length,
    itemsDeleted: report.items.deleted.length,
    tokensDeleted: report.tokens.deleted.length,
    workRequestsDeleted: report.workRequests.deleted.length,
    workRequestTreesKept: report.workRequests.kept.length,
    workspacesDeleted: report.workspaces.deleted.length,
    workspacesWaiting: report.workspaces.waiting.length,
    workspacesBeingEmptied: report.workspaces.contents.length,
    finished: report.finished,
    ...(report.notReady ? { notReady: 'run `conveyor admin expire --backfill` once' } : {}),
  };
}

/** `storeFor`: the expiry store of the deps' backend (awsExpiryStore here; tests pass expiryStoreFor). */
export function expiryHandler(getDeps: () => Deps, env: NodeJS.ProcessEnv, storeFor: (deps: Deps) => ExpiryStore) {
  return async (_event: unknown, context?: { getRemainingTimeInMillis?: () => number }) => {
    const d = getDeps();
    const remaining = context?.getRemainingTimeInMillis?.();
    const deadline = remaining === undefined ? undefined : Date.now() + Math.max(0, remaining - SAFETY_MARGIN_MS);
    const report = await runExpiryPass(d, storeFor(d), { ...expiryOptionsFromEnv(env), ...(deadline !== undefined ? { deadline } : {}) });
    const summary = summarise(report);
    logger.info('expiry pass', summary);
    logFollowUpFailures(report.followUpFailures ?? []);
    return summary;
  };
}

export const handler = expiryHandler(getDeps, process.env, awsExpiryStore);
