import type { z } from 'zod';
import type { FieldErrors } from './errors';

/** Field path as clients see it: `files.a/b.size`, `data`, `(body)` for the whole body. */
function fieldName(path: readonly PropertyKey[]): string {
  return path.length ? path.map(String).join('.') : '(body)';
}

/** Converts zod issues into per-field reasons; unknown keys are named one by one. */
export function zodFieldErrors(error: z.ZodError): FieldErrors {
  // A Map, not an object literal: a client's field may be called `__proto__` or `constructor`.
  const errors = new Map<string, string[]>();
  const add = (field: string, reason: string) => errors.set(field, [...(errors.get(field) ?? []), reason]);
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) add(fieldName([...issue.path, key]), 'unknown field');
      continue;
    }
    let reason = issue.message;
    if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) reason = 'this field is required';
    add(fieldName(issue.path), reason);
  }
  // fromEntries defines own properties, so `__proto__` is a field name like any other.
  return Object.fromEntries(errors);
}

/** The same errors under a parent field (`task_data.x`); a whole-body error becomes the parent. */
export function prefixFields(prefix: string, errors: FieldErrors): FieldErrors {
  return Object.fromEntries(Object.entries(errors).map(([k, v]) => [k === '(body)' ? prefix : `${prefix}.${k}`, v]));
}
