import { AggregationError, domainSources, domainSummary, resolveDayRange } from '@dmarc/aggregates';
import { HttpError } from '@dmarc/service-runtime';
import type { EntryOptions } from '@dmarc/cache';
import { domainId, getPolicy, NotFoundError, parseDomainName, type Caller } from '@dmarc/tenant-admin';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { cacheScope, type ApiDeps } from '../api-deps';
import { callerOf } from '../request-context';
import { domainParams, errors } from '../schemas';
import { WireBodies } from './wire-bodies';

const tags = ['dashboard'];
const day = { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'UTC day, YYYY-MM-DD (inclusive)' } as const;
const figures = { type: 'object', additionalProperties: true, description: 'see services/api/README.md' } as const;

interface RangeQuery {
  from?: string;
  to?: string;
}

/**
 * Dashboard reads of a registered domain, through the cache: summary (with the policy the tenant set) and
 * sources as 'dashboard' entries (30 s, dropped on a policy, source or aggregate change), the daily series as 'trend' (24 h). A domain the
 * tenant has not registered is 404 (another tenant's domain included); the check runs inside the load, so
 * a cached entry exists only for a domain that was the tenant's, and removing the domain drops them.
 */
export function registerDashboardRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const now = deps.now ?? Date.now;
  const wire = new WireBodies();
  const target = (request: FastifyRequest<{ Params: { domain: string }; Querystring: RangeQuery }>) => {
    const domain = parseDomainName(request.params.domain, 'domain');
    try {
      return { caller: callerOf(request), domain, ...resolveDayRange(request.query.from, request.query.to, { now: now(), maxDays: deps.maxRangeDays }) };
    } catch (err) {
      if (err instanceof AggregationError) throw new HttpError(400, 'VALIDATION_FAILED', err.message, err.field);
      throw err;
    }
  };
  /**
   * A registered domain's figures through the cache, kept and sent as their JSON text (see `json`). The domain
   * check runs inside the load, so only a domain that was the tenant's ever has an entry.
   */
  const cachedFigures = (reply: FastifyReply, caller: Caller, type: string, id: string[], load: () => Promise<unknown>, options?: EntryOptions) =>
    json(
      reply,
      wire,
      deps.cache.getOrLoad(
        cacheScope(caller),
        type,
        id,
        async () => {
          await domainId(deps.db, caller.tenantId, id[0]);
          return JSON.stringify(await load());
        },
        options,
      ),
    );
  // The policy the tenant set, shown beside the one its reports saw published; null until one is set.
  const configured = (tenantId: string, domain: string) => getPolicy(deps.db, tenantId, domain).catch((err: unknown) => (err instanceof NotFoundError ? null : Promise.reject(err)));

  app.get<{ Params: { domain: string }; Querystring: RangeQuery & { top: number } }>(
    '/v1/domains/:domain/summary',
    {
      schema: {
        tags,
        summary: 'Totals, compliance rate, daily series, top sources, the policy seen in reports and the policy the tenant set (configuredPolicy)',
        params: domainParams,
        querystring: { type: 'object', additionalProperties: false, properties: { from: day, to: day, top: { type: 'integer', minimum: 1, maximum: 100, default: 10 } } },
        response: { 200: figures, ...errors },
      },
    },
    async (request, reply) => {
      const { caller, domain, from, to } = target(request);
      const top = request.query.top;
      return cachedFigures(reply, caller, 'dashboard', [domain, 'summary', from, to, String(top)], async () => {
        const [summary, configuredPolicy] = await Promise.all([domainSummary(deps.db, { tenantId: caller.tenantId, domain, from, to, top }), configured(caller.tenantId, domain)]);
        return { ...summary, configuredPolicy };
      });
    },
  );

  app.get<{ Params: { domain: string }; Querystring: RangeQuery & { limit: number } }>(
    '/v1/domains/:domain/sources',
    {
      schema: {
        tags,
        summary: 'Every sending source of the domain with its counts',
        params: domainParams,
        querystring: { type: 'object', additionalProperties: false, properties: { from: day, to: day, limit: { type: 'integer', minimum: 1, maximum: 10_000, default: 1000 } } },
        response: { 200: figures, ...errors },
      },
    },
    async (request, reply) => {
      const { caller, domain, from, to } = target(request);
      const limit = request.query.limit;
      return cachedFigures(reply, caller, 'dashboard', [domain, 'sources', from, to, String(limit)], () => domainSources(deps.db, { tenantId: caller.tenantId, domain, from, to, limit }));
    },
  );

  app.get<{ Params: { domain: string }; Querystring: RangeQuery }>(
    '/v1/domains/:domain/trends',
    {
      schema: {
        tags,
        summary: 'Daily series of messages, DMARC passes and compliance rate',
        params: domainParams,
        querystring: { type: 'object', additionalProperties: false, properties: { from: day, to: day } },
        response: { 200: figures, ...errors },
      },
    },
    async (request, reply) => {
      const { caller, domain, from, to } = target(request);
      const load = async () => {
        const summary = await domainSummary(deps.db, { tenantId: caller.tenantId, domain, from, to, top: 1 });
        return { domain, from, to, days: summary.days.map((d) => ({ day: d.day, messages: d.messages, dmarcPass: d.dmarcPass, complianceRate: d.complianceRate })) };
      };
      return cachedFigures(reply, caller, 'trend', [domain, from, to], load, { ttlMs: trendTtlMs(to, now()) });
    },
  );
}

/**
 * Sends a cached body that is already JSON text. Dashboard entries are cached serialised: a sources list of a
 * thousand senders is ~200 KB, and serialising it again on every hit cost more than the rest of the read
 * (bench:cache: p50 11.8 ms during a spike with 98 % L1 hits); a large one goes out as the bytes kept for it
 * (WireBodies), not encoded again. Fastify sends a string or a Buffer with a JSON content type as it is; the
 * route's response schema documents the shape (/docs/json).
 */
async function json(reply: FastifyReply, wire: WireBodies, body: Promise<string>): Promise<string | Buffer> {
  const text = await body;
  void reply.type('application/json; charset=utf-8');
  return wire.bodyOf(text);
}

/** Reports about a day keep arriving for a few days after it (senders report yesterday, some later). */
const LATE_REPORT_DAYS = 3;
/** How long a trend ending on a day that can still change is kept: the write-invalidate TTL of live figures. */
export const LIVE_TREND_TTL_MS = 30_000;

/**
 * The TTL of a trend entry: a range that ended more than LATE_REPORT_DAYS ago is history and keeps the type's
 * 24 h; one reaching into the last days still changes as reports arrive, so it lives 30 s at most. Its drops on
 * dmarc.aggregates.updated are folded by the invalidator, and one it misses (a crash) is then outlived in 30 s.
 */
export function trendTtlMs(to: string, now: number): number | undefined {
  const settled = new Date(now - LATE_REPORT_DAYS * 86_400_000).toISOString().slice(0, 10);
  return to < settled ? undefined : LIVE_TREND_TTL_MS;
}
