import { checkType, DnsCacheError, normalizeName, type DnsCache } from '@dmarc/dns-cache';
import { HttpError } from '@dmarc/service-runtime';
import type { FastifyInstance } from 'fastify';

export interface DnsRoutesOptions {
  cache: DnsCache;
  /** The DMARC / SPF check of a (normalised) domain, through the cache. */
  checkDomain(domain: string): Promise<unknown>;
}

/**
 * `GET /v1/dns/{type}/{name}`: one cached lookup, saying where the answer came from and how fresh it is.
 * `GET /v1/domains/{domain}/dns-check`: the domain's DMARC and SPF records, parsed and validated.
 * DNS answers are public and shared by every tenant (`global:` keys), so neither needs a tenant.
 */
export function registerDnsRoutes(app: FastifyInstance, options: DnsRoutesOptions): void {
  const { cache } = options;
  // A wildcard, not `:name`: Fastify refuses parameters over 100 characters with a 404, and a name may
  // have 253; past that, it gets its 400 from normalizeName like any other bad name.
  app.get<{ Params: { type: string; '*': string } }>('/v1/dns/:type/*', async (request) => {
    const type = validType(request.params.type);
    const name = validName(request.params['*'], 'name');
    const lookup = await cached(() => cache.resolve(name, type));
    return {
      name: lookup.name,
      type: lookup.type,
      rcode: lookup.rcode,
      answers: lookup.answers,
      ttl: lookup.ttl,
      expiresAt: new Date(lookup.expiresAt).toISOString(),
      source: lookup.source,
      state: lookup.state,
    };
  });

  app.get<{ Params: { domain: string } }>('/v1/domains/:domain/dns-check', async (request) => {
    const domain = validName(request.params.domain, 'domain');
    return cached(() => options.checkDomain(domain));
  });
}

function validType(type: string): ReturnType<typeof checkType> {
  try {
    return checkType(type);
  } catch (error) {
    throw asHttpError(error, 'type');
  }
}

function validName(name: string, field: string): string {
  try {
    return normalizeName(name);
  } catch (error) {
    throw asHttpError(error, field);
  }
}

async function cached<T>(lookup: () => Promise<T>): Promise<T> {
  try {
    return await lookup();
  } catch (error) {
    throw asHttpError(error);
  }
}

// By the cache error's stable code (CONVENTIONS §4): bad input is the caller's 400; an upstream that failed
// with nothing stale to serve is a 502 the caller may retry.
function asHttpError(error: unknown, field?: string): unknown {
  if (!(error instanceof DnsCacheError)) return error;
  switch (error.code) {
    case 'DNS_INVALID_NAME':
    case 'DNS_UNSUPPORTED_TYPE':
      return new HttpError(400, error.code, error.message, field);
    case 'DNS_UPSTREAM_FAILED':
      return new HttpError(502, error.code, error.message);
    default:
      return error;
  }
}
