/**
 * The OpenAPI 3.1 document of the REST API, built from the manifest's routes and the same zod
 * schemas that validate each route's body and query (z.toJSONSchema). Written to docs/openapi.json
 * (`npm run openapi`), which `GET /api/1.0/openapi.json` serves (test/unit/openapi.test.ts checks
 * that the checked-in document is this one).
 */
import * as z from 'zod';
import { routeTable } from '../manifest';
import type { RouteInputSchemas } from './validation';
import { artifactRoutes } from './routes/artifacts';
import { collectionRoutes } from './routes/collections';
import { workRequestRoutes } from './routes/work-requests';
import { workerRoutes } from './routes/workers';
import { workflowRoutes } from './routes/workflows';
import { adminWorkerRoutes, auditRoutes } from './routes/admin';
import { inputSchemasOf, noDepsForDeclarations } from './route-input';

/**
 * The body and query schemas the routes declare on their handlers (withInput), read from route
 * tables built only for that. Only the generator imports this module: the served document is the
 * generated docs/openapi.json, so no function's bundle carries every route to describe them.
 */
function requestSchemas(): RouteInputSchemas {
  const tables = [artifactRoutes, collectionRoutes, workRequestRoutes, workerRoutes, workflowRoutes, adminWorkerRoutes, auditRoutes];
  return Object.assign({}, ...tables.map((routesOf) => inputSchemasOf(routesOf(noDepsForDeclarations))));
}

const problem = { description: 'Problem (RFC 7807)', content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } };

/** `/api/1.0/artifact/{id}/files/{path+}` → `/api/1.0/artifact/{id}/files/{path}` (OpenAPI has no greedy parameters). */
export function openApiPath(path: string): string {
  return path.replace(/\{([A-Za-z0-9_]+)\+\}/g, '{$1}');
}

export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const inputSchemas = requestSchemas();
  for (const { routeKey, functionName } of routeTable()) {
    const [method, path] = routeKey.split(' ') as [string, string];
    const schemas = inputSchemas[routeKey] ?? {};
    const parameters: unknown[] = [...path.matchAll(/\{([A-Za-z0-9_]+)\+?\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    if (schemas.query) {
      const query = z.toJSONSchema(schemas.query, { io: 'input', unrepresentable: 'any' }) as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, schema] of Object.entries(query.properties ?? {})) {
        parameters.push({ name, in: 'query', required: query.required?.includes(name) ?? false, schema });
      }
    }
    const operation: Record<string, unknown> = {
      operationId: `${method.toLowerCase()}${path.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      tags: [functionName],
      parameters,
      security: [{ token: [] }, {}],
      responses: { '2XX': { description: 'Success (see docs/api.md for the shapes)' }, '4XX': problem },
    };
    if (schemas.body) {
      operation['requestBody'] = { required: true, content: { 'application/json': { schema: z.toJSONSchema(schemas.body, { io: 'input', unrepresentable: 'any' }) } } };
    }
    (paths[openApiPath(path)] ??= {})[method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Conveyor', version: '1.0', description: 'Debusine-compatible artifact store and work scheduler (REST API, /api/1.0/)' },
    paths,
    components: {
      securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'Token' } },
      schemas: {
        Problem: {
          type: 'object',
          properties: {
            type: { type: 'string' },
            title: { type: 'string' },
            status: { type: 'integer' },
            detail: { type: 'string' },
            validation_errors: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } },
          },
          required: ['title'],
        },
      },
    },
  };
}
