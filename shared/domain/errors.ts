/**
 * Typed domain errors. The HTTP layer maps each class to one status code and an
 * RFC 7807 body; nothing else in the domain knows about HTTP.
 */
export type FieldErrors = Record<string, string[]>;

export abstract class DomainError extends Error {
  abstract readonly kind:
    | 'validation'
    | 'unauthorized'
    | 'forbidden'
    | 'not-found'
    | 'conflict'
    | 'payload-too-large'
    | 'unsupported-media-type'
    | 'too-many-requests';
  constructor(
    readonly title: string,
    readonly detail?: string,
  ) {
    super(detail ? `${title}: ${detail}` : title);
    this.name = new.target.name;
  }
}

/** Bad input: names each offending field and why. */
export class ValidationError extends DomainError {
  readonly kind = 'validation' as const;
  constructor(
    title: string,
    readonly fieldErrors: FieldErrors = {},
    detail?: string,
  ) {
    super(title, detail ?? describeFieldErrors(fieldErrors));
  }
  static field(field: string, reason: string, title = 'Invalid request'): ValidationError {
    return new ValidationError(title, { [field]: [reason] });
  }
}

/** The base of one error class per kind: the HTTP layer maps `kind` to one status code. */
function errorOfKind<K extends DomainError['kind']>(kind: K) {
  return class extends DomainError {
    readonly kind: K = kind;
  };
}

export class UnauthorizedError extends errorOfKind('unauthorized') {}
export class ForbiddenError extends errorOfKind('forbidden') {}
export class NotFoundError extends errorOfKind('not-found') {}
/** A state the caller expected did not hold (lost race, immutable artifact, checksum mismatch). */
export class ConflictError extends errorOfKind('conflict') {}
export class PayloadTooLargeError extends errorOfKind('payload-too-large') {}
export class UnsupportedMediaTypeError extends errorOfKind('unsupported-media-type') {}
/** A rate limit was reached: names the limit; the caller may retry later. */
export class TooManyRequestsError extends errorOfKind('too-many-requests') {}

function describeFieldErrors(errors: FieldErrors): string | undefined {
  const parts = Object.entries(errors).map(([field, reasons]) => `${field}: ${reasons.join('; ')}`);
  return parts.length ? parts.join('. ') : undefined;
}

/**
 * A new file row claimed stored bytes (complete without an upload) but the blob is no longer
 * claimable: an expiry pass condemned it meanwhile. The caller reads again and asks for an upload.
 */
export class BlobNotClaimableError extends ConflictError {
  constructor(readonly path: string) {
    super('Stored bytes are expiring', `the stored bytes of "${path}" are being deleted: upload them`);
  }
}

/**
 * The title of the ConflictError a work-request commit raises when a request's version check fails
 * (every adapter uses it): someone else changed the request first, and nothing else of the commit
 * is known to be stale (the scheduler goes on to its next candidate without re-reading the worker).
 */
export const WORK_REQUEST_CHANGED = 'Work request was changed concurrently';

export function isWorkRequestChanged(err: unknown): boolean {
  return err instanceof ConflictError && err.title === WORK_REQUEST_CHANGED;
}
