import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { routeTable } from '../../shared/manifest';
import { openApiDocument, openApiPath } from '../../shared/http/openapi';
import { identityRoutes } from '../../shared/http/routes/identity';
import type { HttpRequest } from '../../shared/http/request';
import { createMemoryDeps } from '../../shared/adapters/memory';

type Doc = { openapi: string; paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown> } }> }; parameters: { name: string; in: string }[] }>> };
const doc = openApiDocument() as Doc;

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1 and has every route of the manifest, and nothing else', () => {
    expect(doc.openapi).toBe('3.1.0');
    const manifest = routeTable().map(({ routeKey }) => {
      const [method, path] = routeKey.split(' ') as [string, string];
      return `${method.toLowerCase()} ${openApiPath(path)}`;
    });
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method} ${path}`));
    expect(documented.sort()).toEqual([...new Set(manifest)].sort());
  });

  it('describes request bodies and queries with the zod schemas that validate them', () => {
    const create = doc.paths['/api/1.0/artifact/']!['post']!.requestBody!.content['application/json']!.schema;
    expect(Object.keys(create.properties!)).toEqual(expect.arrayContaining(['category', 'files', 'work_request', 'expire_at']));
    const completed = doc.paths['/api/1.0/work-request/{id}/completed/']!['put']!;
    expect(completed.requestBody!.content['application/json']!.schema.properties).toHaveProperty('result');
    expect(completed.parameters).toContainEqual(expect.objectContaining({ name: 'id', in: 'path' }));
    expect(doc.paths['/api/1.0/work-request/']!['get']!.parameters.map((p) => p.name)).toEqual(expect.arrayContaining(['workspace', 'status', 'limit', 'cursor']));
    expect(doc.paths['/api/1.0/artifact/{id}/files/{path}']!['put']!.parameters).toContainEqual(expect.objectContaining({ name: 'path', in: 'path' }));
  });

  it('docs/openapi.json is the generated document (npm run openapi)', () => {
    expect(JSON.parse(readFileSync(join(__dirname, '../../docs/openapi.json'), 'utf8'))).toEqual(doc);
  });

  it('is served at GET /api/1.0/openapi.json', async () => {
    const res = await identityRoutes(() => createMemoryDeps())['GET /api/1.0/openapi.json']!({} as HttpRequest);
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(String(res.body))).toEqual(doc);
  });
});
