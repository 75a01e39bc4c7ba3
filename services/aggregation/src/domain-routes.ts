import { AggregationError, domainSources, domainSummary, resolveDayRange } from '@dmarc/aggregates';
import { HttpError } from '@dmarc/service-runtime';
import type { Queryable } from '@dmarc/store';
import { authenticateApiKey } from '@dmarc/tenant-auth';
import type { FastifyInstance, FastifyRequest } from 'fastify';

export interface DomainRoutesOptions {
  db: Queryable;
  now?: () => number;
  /** Longest range of days one request may ask for. Default 366. */
  maxDays?: number;
}

// Shape checked by the schema (so a malformed date is a 400 naming the field before any work);
// calendar validity (no 2025-02-30) and the range by resolveDayRange.
const day = { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'UTC day, YYYY-MM-DD (inclusive)' } as const;
const params = {
  type: 'object',
  required: ['domain'],
  properties: { domain: { type: 'string', minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]*$' } },
} as const;

const count = { type: 'integer' } as const;
const rate = { type: ['number', 'null'] } as const;
const dispositions = { type: 'object', properties: { none: count, quarantine: count, reject: count, pass: count } } as const;
const counts = { messages: count, dmarcPass: count, dkimAligned: count, spfAligned: count, dispositions } as const;
const nullableText = { type: ['string', 'null'] } as const;
const source = {
  type: 'object',
  properties: {
    sourceIp: { type: 'string' },
    // From the DNS service (dmarc.reports.enriched); null without it.
    ptr: nullableText,
    baseDomain: nullableText,
    ...counts,
    passRate: rate,
    headerFroms: { type: 'array', items: { type: 'string' } },
  },
} as const;
const error = { type: 'object', properties: { error: { type: 'string' }, message: { type: 'string' }, field: { type: 'string' } } } as const;

const summarySchema = {
  params,
  querystring: {
    type: 'object',
    properties: { from: day, to: day, top: { type: 'integer', minimum: 1, maximum: 100, default: 10 } },
  },
  response: {
    200: {
      type: 'object',
      properties: {
        domain: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        totals: { type: 'object', properties: counts },
        complianceRate: rate,
        days: { type: 'array', items: { type: 'object', properties: { day: { type: 'string' }, ...counts, complianceRate: rate } } },
        topSources: { type: 'array', items: source },
        policy: {
          type: ['object', 'null'],
          properties: {
            day: { type: 'string' },
            p: nullableText,
            sp: nullableText,
            np: nullableText,
            pct: { type: ['integer', 'null'] },
            adkim: nullableText,
            aspf: nullableText,
            fo: nullableText,
            testing: nullableText,
          },
        },
        reports: { type: 'object', properties: { count, complete: count } },
      },
    },
    '4xx': error,
  },
} as const;

const sourcesSchema = {
  params,
  querystring: {
    type: 'object',
    properties: { from: day, to: day, limit: { type: 'integer', minimum: 1, maximum: 10_000, default: 1000 } },
  },
  response: {
    200: {
      type: 'object',
      properties: { domain: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, total: count, sources: { type: 'array', items: source } },
    },
    '4xx': error,
  },
} as const;

interface DomainParams {
  domain: string;
}
interface RangeQuery {
  from?: string;
  to?: string;
}

/**
 * The read API over a tenant's aggregates:
 *   GET /v1/domains/{domain}/summary?from&to&top   totals, compliance rate, daily series, top sources
 *   GET /v1/domains/{domain}/sources?from&to&limit every source with its counts
 * The tenant is the API key's (`Authorization: Bearer <key>`), and every query is scoped to it.
 */
export function registerDomainRoutes(app: FastifyInstance, options: DomainRoutesOptions): void {
  const { db } = options;
  const now = options.now ?? Date.now;
  const tenants = new WeakMap<FastifyRequest, string>();

  const range = (query: RangeQuery) => {
    try {
      return resolveDayRange(query.from, query.to, { now: now(), maxDays: options.maxDays });
    } catch (err) {
      if (err instanceof AggregationError) throw new HttpError(400, 'VALIDATION_FAILED', err.message, err.field);
      throw err;
    }
  };

  app.register(async (scope) => {
    // Before validation: a caller without a key learns nothing, not even that the query was malformed.
    scope.addHook('onRequest', async (request, reply) => {
      try {
        tenants.set(request, (await authenticateApiKey(db, request.headers.authorization)).tenantId);
      } catch (err) {
        if (err instanceof HttpError && err.statusCode === 401) reply.header('www-authenticate', 'Bearer');
        throw err;
      }
    });

    scope.get<{ Params: DomainParams; Querystring: RangeQuery & { top: number } }>(
      '/v1/domains/:domain/summary',
      { schema: summarySchema },
      async (request) => domainSummary(db, { tenantId: tenants.get(request)!, domain: request.params.domain, ...range(request.query), top: request.query.top }),
    );

    scope.get<{ Params: DomainParams; Querystring: RangeQuery & { limit: number } }>(
      '/v1/domains/:domain/sources',
      { schema: sourcesSchema },
      async (request) => domainSources(db, { tenantId: tenants.get(request)!, domain: request.params.domain, ...range(request.query), limit: request.query.limit }),
    );
  });
}
