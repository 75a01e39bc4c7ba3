import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import type { ApiDeps } from './api-deps';
import { strictBodies, requireCaller } from './request-context';
import { registerAlertRoutes } from './routes/alert-routes';
import { registerAutopilotRoutes } from './routes/autopilot-routes';
import { registerDashboardRoutes } from './routes/dashboard-routes';
import { registerDomainRoutes } from './routes/domain-routes';
import { registerGuidanceRoutes } from './routes/guidance-routes';
import { registerTenantRoutes } from './routes/tenant-routes';

/**
 * The tenant API on `app`: the OpenAPI document at GET /docs/json, generated from the route schemas, and
 * every /v1 route behind an API key and its tenant's rate limit.
 */
export async function registerApi(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'dmarc-platform tenant API', version: '1.0.0', description: 'Errors: { "error": CODE, "message": ..., "field"?: ... }. See services/api/README.md.' },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <api key>' } } },
      security: [{ apiKey: [] }],
    },
  });
  app.get('/docs/json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(async (scope) => {
    requireCaller(scope, deps);
    strictBodies(scope);
    registerDomainRoutes(scope, deps);
    registerDashboardRoutes(scope, deps);
    registerTenantRoutes(scope, deps);
    registerGuidanceRoutes(scope, deps);
    registerAlertRoutes(scope, deps);
    registerAutopilotRoutes(scope, deps);
  });
}
