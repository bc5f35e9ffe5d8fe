/**
 * The zod schemas of a route's body and query, declared on its handler where the route is written,
 * so that the OpenAPI generator (shared/http/openapi.ts, `npm run openapi`) reads them from the
 * routes themselves rather than from a second table beside each route file. Only the generator
 * builds route tables to read them; a function's bundle keeps just the routes it serves.
 */
import type * as z from 'zod';
import type { Deps } from '../ports';
import type { RouteHandler } from './request';
import type { RouteInputSchemas } from './validation';

export interface RouteInput {
  body?: z.ZodType;
  query?: z.ZodType;
}

const declaredInputs = new WeakMap<RouteHandler, RouteInput>();

/** `handler`, declared to validate its body and/or query with `input` (the handler still parses them itself). */
export function withInput(input: RouteInput, handler: RouteHandler): RouteHandler {
  declaredInputs.set(handler, input);
  return handler;
}

/** The declared inputs of a route file's routes, by route key. */
export function inputSchemasOf(routes: Record<string, RouteHandler>): RouteInputSchemas {
  return Object.fromEntries(Object.entries(routes).flatMap(([routeKey, handler]) => {
    const input = declaredInputs.get(handler);
    return input ? [[routeKey, input]] : [];
  }));
}

/** For building a route table only to read its declarations: its handlers are never called. */
export function noDepsForDeclarations(): Deps {
  throw new Error('the route table was built only to read its input schemas');
}
