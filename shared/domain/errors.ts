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
    | 'unsupported-media-type';
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

export class UnauthorizedError extends DomainError {
  readonly kind = 'unauthorized' as const;
}

export class ForbiddenError extends DomainError {
  readonly kind = 'forbidden' as const;
}

export class NotFoundError extends DomainError {
  readonly kind = 'not-found' as const;
}

/** A state the caller expected did not hold (lost race, immutable artifact, checksum mismatch). */
export class ConflictError extends DomainError {
  readonly kind = 'conflict' as const;
}

export class PayloadTooLargeError extends DomainError {
  readonly kind = 'payload-too-large' as const;
}

export class UnsupportedMediaTypeError extends DomainError {
  readonly kind = 'unsupported-media-type' as const;
}

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
