/**
 * The one logger of the handlers, the HTTP stack and the local stack: Powertools for AWS Lambda's
 * Logger. JSON lines with `level`, `message`, `service`, `timestamp`, the Lambda request id (once
 * `withLambdaContext` or the middy middleware added the context) and the keys of what is being
 * worked on (`work_request_id`, `worker`, `workspace`). The level comes from `LOG_LEVEL` (default
 * INFO). On the local stack `POWERTOOLS_DEV` makes each entry indented and readable.
 *
 * Use cases (shared/app) do not log: they return outcomes or throw errors with a `cause`; the
 * entry points here decide what is worth a log line.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import type { FollowUpFailure } from '../app/follow-ups';

export const logger = new Logger({ serviceName: process.env['POWERTOOLS_SERVICE_NAME'] ?? 'conveyor' });

/** The keys Conveyor's log entries carry when they apply (snake_case, like the API). */
export interface WorkKeys {
  work_request_id?: number;
  worker?: string;
  workspace?: string;
}

/** Adds the Lambda context (request id, function name, cold start) to every entry of this invocation. */
export function withLambdaContext<E, R>(handler: (event: E, context?: Context) => Promise<R>): (event: E, context?: Context) => Promise<R> {
  return async (event, context) => {
    if (context) logger.addContext(context);
    try {
      return await handler(event, context);
    } finally {
      logger.resetKeys();
    }
  };
}

/** An error as log attributes: name, message, stack and the chain of causes. */
export function errorKeys(err: unknown): { error: unknown } {
  return { error: err instanceof Error ? err : new Error(String(err)) };
}

/** One warning per follow-up that failed after its commit (the commit stands; most are handed on). */
export function logFollowUpFailures(failures: FollowUpFailure[], keys: WorkKeys = {}): void {
  for (const f of failures) {
    logger.warn(`follow-up failed: ${f.step}`, {
      ...keys,
      ...(f.workRequestId !== undefined ? { work_request_id: f.workRequestId } : {}),
      ...(f.artifactId !== undefined ? { artifact_id: f.artifactId } : {}),
      ...errorKeys(f.error),
    });
  }
}
