import { z } from 'zod';
import { ValidationError, type FieldErrors } from '../domain/errors';

/** Field path as clients see it: `files.a/b.size`, `data`, `(body)` for the whole body. */
function fieldName(path: readonly PropertyKey[]): string {
  return path.length ? path.map(String).join('.') : '(body)';
}

/** Converts zod issues into per-field reasons; unknown keys are named one by one. */
export function zodFieldErrors(error: z.ZodError): FieldErrors {
  const errors: FieldErrors = {};
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) (errors[fieldName([...issue.path, key])] ??= []).push('unknown field');
      continue;
    }
    let reason = issue.message;
    if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) reason = 'this field is required';
    (errors[fieldName(issue.path)] ??= []).push(reason);
  }
  return errors;
}

export function parseWith<T extends z.ZodType>(schema: T, value: unknown, title = 'Invalid request'): z.output<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw new ValidationError(title, zodFieldErrors(result.error));
  return result.data;
}

/** Positive integer path parameter (`<id>` in the URL). */
export function parseId(value: string | undefined, field = 'id'): number {
  if (value === undefined || !/^[1-9][0-9]{0,15}$/.test(value)) throw ValidationError.field(field, 'must be a positive integer', 'Invalid identifier');
  return Number(value);
}
