import { deleteAutopilot, getAutopilot, MAX_SECRET_BYTES, PROVIDERS, putAutopilot, RECORD_TTL_RANGE, TSIG_ALGORITHMS, type AutopilotSettingsInput } from '@dmarc/dns-update';
import { parseDomainName } from '@dmarc/tenant-admin';
import type { FastifyInstance } from 'fastify';
import { adminContext, type ApiDeps } from '../api-deps';
import { actorOf, callerOf } from '../request-context';
import { domainParams, errors } from '../schemas';

const tags = ['domains'];

const settingsBody = {
  type: 'object',
  required: ['host', 'zone', 'keyName', 'algorithm', 'secret'],
  additionalProperties: false,
  properties: {
    provider: { type: 'string', enum: [...PROVIDERS], description: 'default rfc2136 (dynamic update: BIND, Knot, PowerDNS)' },
    host: { type: 'string', maxLength: 64, description: "the zone primary's IPv4 or IPv6 address" },
    port: { type: 'integer', minimum: 1, maximum: 65535, description: 'default 53' },
    zone: { type: 'string', maxLength: 254, description: 'the zone holding _dmarc.<domain>: the domain, a parent of it, or _dmarc.<domain> itself' },
    keyName: { type: 'string', maxLength: 254, description: 'the TSIG key name allow-update names' },
    algorithm: { type: 'string', maxLength: 32, description: `one of ${TSIG_ALGORITHMS.join(', ')}` },
    secret: { type: 'string', maxLength: Math.ceil(MAX_SECRET_BYTES / 3) * 4, description: 'the TSIG secret, base64; stored, never returned' },
    ttl: { type: 'integer', minimum: RECORD_TTL_RANGE.min, maximum: RECORD_TTL_RANGE.max, description: 'TTL of the published record, default 300' },
  },
} as const;

const jobView = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    status: { type: 'string', enum: ['pending', 'applied', 'verified', 'failed', 'superseded', 'cancelled'] },
    policyVersion: { type: ['integer', 'null'] },
    requestedBy: { type: 'string' },
    record: { type: ['string', 'null'] },
    attempts: { type: 'integer' },
    lastErrorCode: { type: ['string', 'null'] },
    lastError: { type: ['string', 'null'] },
    nextAttemptAt: { type: ['string', 'null'] },
    createdAt: { type: 'string' },
    appliedAt: { type: ['string', 'null'] },
    verifiedAt: { type: ['string', 'null'] },
    finishedAt: { type: ['string', 'null'] },
    alertedAt: { type: ['string', 'null'] },
  },
} as const;

// Serialised from this schema: a field not listed here (the secret) can never reach a response.
const autopilotView = {
  type: 'object',
  properties: {
    domain: { type: 'string' },
    provider: { type: 'string' },
    host: { type: 'string' },
    port: { type: 'integer' },
    zone: { type: 'string' },
    keyName: { type: 'string' },
    algorithm: { type: 'string' },
    ttl: { type: 'integer' },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
    jobs: { type: 'array', items: jobView },
  },
} as const;

/**
 * The DNS autopilot of a domain (@dmarc/dns-update): opting in with the zone primary's address and TSIG key,
 * opting out, and the settings (never the secret) with the latest update jobs. Once opted in, each approved
 * policy change is written to the domain's DNS by the dns service's worker.
 */
export function registerAutopilotRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const ctx = adminContext(deps);
  const path = '/v1/domains/:domain/autopilot';

  app.get<{ Params: { domain: string } }>(
    path,
    { schema: { tags, summary: "The domain's DNS autopilot settings (without the secret) and its latest update jobs", params: domainParams, response: { 200: autopilotView, ...errors } } },
    async (request) => getAutopilot(deps.db, callerOf(request).tenantId, parseDomainName(request.params.domain, 'domain')),
  );

  app.put<{ Params: { domain: string }; Body: AutopilotSettingsInput }>(
    path,
    {
      bodyLimit: deps.maxBodyBytes,
      schema: { tags, summary: "Opt the domain in to the DNS autopilot (or change its settings): approved policy changes are written to its DNS", params: domainParams, body: settingsBody, response: { 200: autopilotView, ...errors } },
    },
    async (request) => putAutopilot(ctx, actorOf(request), parseDomainName(request.params.domain, 'domain'), request.body),
  );

  app.delete<{ Params: { domain: string } }>(
    path,
    { schema: { tags, summary: 'Opt the domain out of the DNS autopilot; queued updates are cancelled', params: domainParams, response: { 204: { type: 'null' }, ...errors } } },
    async (request, reply) => {
      await deleteAutopilot(ctx, actorOf(request), parseDomainName(request.params.domain, 'domain'));
      return reply.status(204).send();
    },
  );
}
