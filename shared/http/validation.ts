import * as z from 'zod';
import { ValidationError } from '../domain/errors';
import { zodFieldErrors } from '../domain/zod-errors';
import type { HttpRequest } from './request';

export { zodFieldErrors };

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

/** The zod schemas that validate a route's body and query, by route key (for the OpenAPI document). */
export type RouteInputSchemas = Record<string, { body?: z.ZodType; query?: z.ZodType }>;

/** The `{id}` of a route's path, a positive whole number (else a 400 naming `id`). */
export function idParam(req: HttpRequest): number {
  return parseId(req.params['id']);
}
