import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Queryable } from '@dmarc/store';
import { authenticateApiKey } from '@dmarc/tenant-auth';

const tenants = new WeakMap<FastifyRequest, string>();

/**
 * Every route of `scope` answers for the tenant of the request's API key. The key is checked on
 * request, before any body is read: an unauthenticated upload costs us nothing but its headers.
 */
export function requireTenant(scope: FastifyInstance, db: Queryable): void {
  scope.addHook('onRequest', async (request) => {
    const { tenantId } = await authenticateApiKey(db, request.headers.authorization);
    tenants.set(request, tenantId);
  });
}

/** The authenticated tenant of a request in a `requireTenant` scope. */
export function tenantOf(request: FastifyRequest): string {
  const tenantId = tenants.get(request);
  if (tenantId === undefined) throw new Error('tenantOf: route is outside a requireTenant scope');
  return tenantId;
}
