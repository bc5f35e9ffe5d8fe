/**
 * The expiry pass (every 15 minutes, and `conveyor admin expire`): one bounded slice of
 * shared/app/expiry.ts. It stops starting new work a minute before the Lambda's timeout; whatever
 * is left stays in the expiry index for the next run. `CONVEYOR_EXPIRY_MAX_ARTIFACTS` overrides the
 * slice size (default 500).
 */
import { createAwsDeps } from '../shared/adapters/aws';
import { expiryStoreFor } from '../shared/adapters/expiry';
import { runExpiryPass, type ExpiryOptions, type ExpiryReport } from '../shared/app/expiry';
import type { Deps } from '../shared/ports';

export const MAX_ARTIFACTS_ENV_VAR = 'CONVEYOR_EXPIRY_MAX_ARTIFACTS';
const SAFETY_MARGIN_MS = 60_000;

let deps: Deps | undefined;
const getDeps = () => (deps ??= createAwsDeps());

export function expiryOptionsFromEnv(env: NodeJS.ProcessEnv): ExpiryOptions {
  const text = env[MAX_ARTIFACTS_ENV_VAR];
  if (text === undefined || text === '') return {};
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${MAX_ARTIFACTS_ENV_VAR} must be a positive whole number, not ${JSON.stringify(text)}`);
  return { maxArtifacts: n };
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
    finished: report.finished,
    ...(report.notReady ? { notReady: 'run `conveyor admin expire --backfill` once' } : {}),
  };
}

export function expiryHandler(getDeps: () => Deps, env: NodeJS.ProcessEnv = process.env) {
  return async (_event: unknown, context?: { getRemainingTimeInMillis?: () => number }) => {
    const d = getDeps();
    const remaining = context?.getRemainingTimeInMillis?.();
    const deadline = remaining === undefined ? undefined : Date.now() + Math.max(0, remaining - SAFETY_MARGIN_MS);
    const report = await runExpiryPass(d, expiryStoreFor(d), { ...expiryOptionsFromEnv(env), ...(deadline !== undefined ? { deadline } : {}) });
    const summary = summarise(report);
    console.log(JSON.stringify({ msg: 'expiry pass', ...summary }));
    return summary;
  };
}

export const handler = expiryHandler(getDeps);
