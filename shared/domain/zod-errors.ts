import type { z } from 'zod';
import type { FieldErrors } from './errors';

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

/** The same errors under a parent field (`task_data.x`); a whole-body error becomes the parent. */
export function prefixFields(prefix: string, errors: FieldErrors): FieldErrors {
  return Object.fromEntries(Object.entries(errors).map(([k, v]) => [k === '(body)' ? prefix : `${prefix}.${k}`, v]));
}
