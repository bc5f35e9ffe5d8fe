import { whoami, listVisibleWorkspaces } from '../../app/identity';
import { json, type RouteHandler } from '../request';
// The generated document (`npm run openapi`; test/unit/openapi.test.ts keeps it equal to what the
// routes declare), bundled as data: generating it here would pull every route into this function.
import openApiDocument from '../../../docs/openapi.json';

export const identityRoutes: (getDeps: () => import('../../ports').Deps) => Record<string, RouteHandler> = (getDeps) => ({
  'GET /api/1.0/whoami/': async (req) => json(200, whoami(req.caller)),
  // The OpenAPI document of the whole REST API (public, like Debusine's schema endpoint).
  'GET /api/1.0/openapi.json': async () => json(200, openApiDocument),
  'GET /api/1.0/workspace/': async (req) => {
    const visible = await listVisibleWorkspaces(getDeps(), req.caller, req.scope);
    return json(200, {
      results: visible.map(({ workspace, role }) => ({
        name: workspace.name,
        scope: workspace.scope,
        public: workspace.public,
        default_expiration_delay: workspace.defaultExpirationDelay,
        expiration_delay: workspace.expirationDelay ?? null,
        created_at: workspace.createdAt,
        role: role ?? null,
      })),
    });
  },
});
