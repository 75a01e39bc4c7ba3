import { authCacheId, createApiKey, createUser, getTenant, listApiKeys, listAudit, listUsers, revokeApiKey, setPermissions, type Permission } from '@dmarc/tenant-admin';
import type { FastifyInstance } from 'fastify';
import { adminContext, afterCommit, type ApiDeps } from '../api-deps';
import { actorOf, callerOf } from '../request-context';
import { apiKeyView, auditEntry, errors, idParams, permission, tenantView, userView } from '../schemas';

const permissions = { type: 'array', items: permission, maxItems: 32 } as const;

/** The tenant itself, its users and their permissions, its API keys, and its audit trail. */
export function registerTenantRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const ctx = adminContext(deps);
  const write = { bodyLimit: deps.maxBodyBytes };

  app.get('/v1/tenant', { schema: { tags: ['tenant'], summary: 'The tenant of the API key, and its tier', response: { 200: tenantView, ...errors } } }, async (request) =>
    getTenant(deps.db, callerOf(request).tenantId),
  );

  app.get('/v1/users', { schema: { tags: ['users'], summary: "The tenant's users", response: { 200: { type: 'object', properties: { users: { type: 'array', items: userView } } }, ...errors } } }, async (request) => ({
    users: await listUsers(deps.db, callerOf(request).tenantId),
  }));

  app.post<{ Body: { email: string; name?: string | null; permissions?: Permission[] } }>(
    '/v1/users',
    {
      ...write,
      schema: {
        tags: ['users'],
        summary: 'Add a user',
        body: {
          type: 'object',
          required: ['email'],
          additionalProperties: false,
          properties: {
            // An address shape, not a deliverability check: something@domain, no blanks, 254 characters at most.
            email: { type: 'string', maxLength: 254, pattern: '^[^\\s@]+@[^\\s@]+\\.[^\\s@]+$' },
            name: { type: ['string', 'null'], maxLength: 200 },
            permissions,
          },
        },
        response: { 201: userView, ...errors },
      },
    },
    async (request, reply) => reply.status(201).send(await createUser(ctx, actorOf(request), request.body)),
  );

  app.put<{ Params: { id: string }; Body: { permissions: Permission[] } }>(
    '/v1/users/:id/permissions',
    {
      ...write,
      schema: {
        tags: ['users'],
        summary: "Replace a user's permissions",
        params: idParams,
        body: { type: 'object', required: ['permissions'], additionalProperties: false, properties: { permissions } },
        response: { 200: userView, ...errors },
      },
    },
    async (request) => setPermissions(ctx, actorOf(request), request.params.id, request.body.permissions),
  );

  app.get('/v1/api-keys', { schema: { tags: ['api-keys'], summary: "The tenant's live API keys (never the keys themselves)", response: { 200: { type: 'object', properties: { apiKeys: { type: 'array', items: apiKeyView } } }, ...errors } } }, async (request) => ({
    apiKeys: await listApiKeys(deps.db, callerOf(request).tenantId),
  }));

  app.post<{ Body: { label?: string | null } }>(
    '/v1/api-keys',
    {
      ...write,
      schema: {
        tags: ['api-keys'],
        summary: 'Issue an API key; the key is in this answer only',
        body: { type: 'object', additionalProperties: false, properties: { label: { type: ['string', 'null'], maxLength: 100 } } },
        response: { 201: { type: 'object', properties: { ...apiKeyView.properties, key: { type: 'string' } } }, ...errors },
      },
    },
    async (request, reply) => reply.status(201).send(await createApiKey(ctx, actorOf(request), request.body.label ?? null)),
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/api-keys/:id',
    { schema: { tags: ['api-keys'], summary: 'Revoke an API key (401 for it from then on, in every API process)', params: idParams, response: { 204: { type: 'null' }, ...errors } } },
    async (request, reply) => {
      const { keyHash } = await revokeApiKey(ctx, actorOf(request), request.params.id);
      await afterCommit(deps, 'api key revoked', [() => deps.cache.invalidate('global', 'auth', authCacheId(keyHash))]);
      return reply.status(204).send();
    },
  );

  app.get<{ Querystring: { limit: number; before?: number } }>(
    '/v1/audit',
    {
      schema: {
        tags: ['audit'],
        summary: "The tenant's audit trail, newest first: who, when, what, before and after",
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { limit: { type: 'integer', minimum: 1, maximum: 500, default: 100 }, before: { type: 'integer', minimum: 1, description: 'entries older than this id (paging)' } },
        },
        response: { 200: { type: 'object', properties: { entries: { type: 'array', items: auditEntry } } }, ...errors },
      },
    },
    async (request) => ({ entries: await listAudit(deps.db, callerOf(request).tenantId, request.query) }),
  );
}
