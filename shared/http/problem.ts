import { DomainError, ValidationError } from '../domain/errors';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { errorKeys, logger } from '../observability/logger';

const STATUS_BY_KIND: Record<DomainError['kind'], number> = {
  validation: 400,
  unauthorized: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  'payload-too-large': 413,
  'unsupported-media-type': 415,
  'too-many-requests': 429,
};

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  validation_errors?: Record<string, string[]>;
  [extension: string]: unknown;
}

/**
 * Turns any error into an RFC 7807 response. Domain errors keep their title and detail;
 * anything else becomes a bare 500 with no internals (the cause goes to the log only).
 */
export function problemResponse(err: unknown, log: (msg: string, err: unknown) => void = defaultLog): APIGatewayProxyStructuredResultV2 {
  let problem: Problem;
  if (err instanceof DomainError) {
    const status = STATUS_BY_KIND[err.kind];
    problem = { type: 'about:blank', title: err.title, status };
    if (err.detail) problem.detail = err.detail;
    if (err instanceof ValidationError && Object.keys(err.fieldErrors).length) problem.validation_errors = err.fieldErrors;
    // RFC 7807 extension members (e.g. a quota error's resource, usage and limit); never overriding the standard ones.
    const extensions = (err as { extensions?: unknown }).extensions;
    if (extensions && typeof extensions === 'object') problem = { ...(extensions as Record<string, unknown>), ...problem };
  } else {
    log('unhandled error', err);
    problem = { type: 'about:blank', title: 'Internal Server Error', status: 500 };
  }
  const headers: Record<string, string> = { 'content-type': 'application/problem+json' };
  if (problem.status === 401) headers['www-authenticate'] = 'Token';
  return { statusCode: problem.status, headers, body: JSON.stringify(problem) };
}

function defaultLog(msg: string, err: unknown): void {
  logger.error(msg, errorKeys(err));
}
