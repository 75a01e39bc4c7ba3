import { addDomain, addSource, getDomain, getPolicy, listDomains, listSources, parseDomainName, putPolicy, removeDomain, removeSource, type DmarcPolicyInput } from '@dmarc/tenant-admin';
import type { FastifyInstance } from 'fastify';
import { adminContext, afterCommit, cacheScope, type ApiDeps } from '../api-deps';
import { actorOf, callerOf } from '../request-context';
import { domainParams, domainParam, domainView, errors, policyBody, policyView, sourceView, uuid } from '../schemas';

const tags = ['domains'];

/**
 * Domains, their DMARC policy and approved sending sources. Writes go to PostgreSQL (with the audit row and
 * the dmarc.config.changes outbox row, one transaction), then drop this tenant's dependent cache entries so
 * the next read anywhere is fresh; the invalidator does the rest from the event.
 */
export function registerDomainRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const ctx = adminContext(deps);
  const write = { bodyLimit: deps.maxBodyBytes };

  app.post<{ Body: { name: string } }>(
    '/v1/domains',
    {
      ...write,
      schema: {
        tags,
        summary: 'Register a domain',
        body: { type: 'object', required: ['name'], additionalProperties: false, properties: { name: domainParam } },
        response: { 201: domainView, ...errors },
      },
    },
    async (request, reply) => {
      const view = await addDomain(ctx, actorOf(request), parseDomainName(request.body.name, 'name'));
      return reply.status(201).send(view);
    },
  );

  app.get('/v1/domains', { schema: { tags, summary: "The tenant's domains", response: { 200: { type: 'object', properties: { domains: { type: 'array', items: domainView } } }, ...errors } } }, async (request) => ({
    domains: await listDomains(deps.db, callerOf(request).tenantId),
  }));

  app.get<{ Params: { domain: string } }>('/v1/domains/:domain', { schema: { tags, summary: 'One domain', params: domainParams, response: { 200: domainView, ...errors } } }, async (request) =>
    getDomain(deps.db, callerOf(request).tenantId, parseDomainName(request.params.domain, 'domain')),
  );

  app.delete<{ Params: { domain: string } }>(
    '/v1/domains/:domain',
    { schema: { tags, summary: 'Remove a domain, its policy and approved sources', params: domainParams, response: { 204: { type: 'null' }, ...errors } } },
    async (request, reply) => {
      const domain = parseDomainName(request.params.domain, 'domain');
      await removeDomain(ctx, actorOf(request), domain);
      const scope = cacheScope(callerOf(request));
      await afterCommit(deps, 'domain removed', [
        () => deps.cache.invalidate(scope, 'policy', [domain]),
        ...['compliance', 'dashboard', 'trend'].map((type) => () => deps.cache.invalidateGroup(scope, type, domain)),
      ]);
      return reply.status(204).send();
    },
  );

  app.get<{ Params: { domain: string } }>(
    '/v1/domains/:domain/policy',
    { schema: { tags, summary: "The domain's DMARC policy (cached 30 s, dropped on change)", params: domainParams, response: { 200: policyView, ...errors } } },
    async (request) => {
      const caller = callerOf(request);
      const domain = parseDomainName(request.params.domain, 'domain');
      return deps.cache.getOrLoad(cacheScope(caller), 'policy', [domain], () => getPolicy(deps.db, caller.tenantId, domain));
    },
  );

  app.put<{ Params: { domain: string }; Body: DmarcPolicyInput }>(
    '/v1/domains/:domain/policy',
    { ...write, schema: { tags, summary: "Set the domain's DMARC policy", params: domainParams, body: policyBody, response: { 200: policyView, ...errors } } },
    async (request) => {
      const domain = parseDomainName(request.params.domain, 'domain');
      const policy = await putPolicy(ctx, actorOf(request), domain, request.body);
      const scope = cacheScope(callerOf(request));
      // A policy change drops the policy and what is computed from it: compliance and dashboards of the domain.
      await afterCommit(deps, 'policy changed', [
        () => deps.cache.invalidate(scope, 'policy', [domain]),
        () => deps.cache.invalidateGroup(scope, 'compliance', domain),
        () => deps.cache.invalidateGroup(scope, 'dashboard', domain),
      ]);
      return policy;
    },
  );

  const sourcesPath = '/v1/domains/:domain/sources/approved';
  app.get<{ Params: { domain: string } }>(
    sourcesPath,
    { schema: { tags, summary: 'Approved sending sources of the domain', params: domainParams, response: { 200: { type: 'object', properties: { sources: { type: 'array', items: sourceView } } }, ...errors } } },
    async (request) => ({ sources: await listSources(deps.db, callerOf(request).tenantId, parseDomainName(request.params.domain, 'domain')) }),
  );

  const sourcesChanged = (request: Parameters<typeof callerOf>[0], domain: string) => {
    const scope = cacheScope(callerOf(request));
    return afterCommit(deps, 'sources changed', [() => deps.cache.invalidateGroup(scope, 'compliance', domain), () => deps.cache.invalidateGroup(scope, 'dashboard', domain)]);
  };

  app.post<{ Params: { domain: string }; Body: { source: string; description?: string | null } }>(
    sourcesPath,
    {
      ...write,
      schema: {
        tags,
        summary: 'Approve a sending source: an IP address, a CIDR block or a host name',
        params: domainParams,
        body: {
          type: 'object',
          required: ['source'],
          additionalProperties: false,
          properties: { source: { type: 'string', minLength: 1, maxLength: 260 }, description: { type: ['string', 'null'], maxLength: 500 } },
        },
        response: { 201: sourceView, ...errors },
      },
    },
    async (request, reply) => {
      const domain = parseDomainName(request.params.domain, 'domain');
      const source = await addSource(ctx, actorOf(request), domain, request.body);
      await sourcesChanged(request, domain);
      return reply.status(201).send(source);
    },
  );

  app.delete<{ Params: { domain: string; id: string } }>(
    `${sourcesPath}/:id`,
    {
      schema: {
        tags,
        summary: 'Withdraw an approved source',
        params: { type: 'object', required: ['domain', 'id'], additionalProperties: false, properties: { domain: domainParam, id: uuid } },
        response: { 204: { type: 'null' }, ...errors },
      },
    },
    async (request, reply) => {
      const domain = parseDomainName(request.params.domain, 'domain');
      await removeSource(ctx, actorOf(request), domain, request.params.id);
      await sourcesChanged(request, domain);
      return reply.status(204).send();
    },
  );
}
