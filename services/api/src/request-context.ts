import type { TieredCache } from '@dmarc/cache';
import { authCacheId, bearerKey, callerOfKeyHash, hashApiKey, RateLimitedError, type Actor, type Caller, type RateLimiter } from '@dmarc/tenant-admin';
import type { Queryable } from '@dmarc/store';
import { UnauthorizedError } from '@dmarc/tenant-auth';
import { HttpError } from '@dmarc/service-runtime';
import type { FastifyInstance, FastifyRequest } from 'fastify';

const callers = new WeakMap<FastifyRequest, Caller>();

/** The authenticated caller of a request in a `requireCaller` scope. */
export function callerOf(request: FastifyRequest): Caller {
  const caller = callers.get(request);
  if (!caller) throw new Error('callerOf: route is outside a requireCaller scope');
  return caller;
}

/** The caller as the audit trail and the change events name it. */
export function actorOf(request: FastifyRequest): Actor {
  const caller = callerOf(request);
  return { tenantId: caller.tenantId, name: `api-key:${caller.apiKeyId}` };
}


/**
 * Every route of `scope` needs a live API key (401 otherwise, before the body is read) and counts against
 * its tenant's rate (429 with Retry-After). The key's caller is cached ('auth', 30 s, global: the tenant is what
 * it tells; keyed by the key's hash, never the key); revoking a key invalidates its entry in every process. An
 * unknown key is cached too (as null), so a client repeating a bad key, or a flood of them, does not cost a
 * database lookup per request (an issued key is random, so no key is ever asked for before it exists).
 */
export function requireCaller(scope: FastifyInstance, deps: { db: Queryable; cache: TieredCache; limiter: RateLimiter }): void {
  scope.addHook('onRequest', async (request, reply) => {
    let caller: Caller;
    try {
      const keyHash = hashApiKey(bearerKey(request.headers.authorization));
      const known = await deps.cache.getOrLoad<Caller | null>('global', 'auth', authCacheId(keyHash), () =>
        callerOfKeyHash(deps.db, keyHash).catch((err: unknown) => (err instanceof UnauthorizedError ? null : Promise.reject(err))),
      );
      if (known === null) throw new UnauthorizedError('unknown or revoked API key');
      caller = known;
    } catch (err) {
      if (err instanceof HttpError && err.statusCode === 401) reply.header('www-authenticate', 'Bearer');
      throw err;
    }
    callers.set(request, caller);
    const decision = await deps.limiter.take(caller.tenantId, caller.tier);
    if (!decision.allowed) {
      const seconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
      reply.header('retry-after', String(seconds));
      throw new RateLimitedError(seconds);
    }
  });
}

/**
 * Unknown body fields are refused (400 naming the field) instead of dropped: the platform's validator strips
 * properties a schema does not list, and a caller who misspells `pct` must hear about it. A route whose body
 * has no required field may be called without a body (it reads as `{}`). A JSON body's values must have the
 * JSON type their schema names: the validator would turn `"pct": "50"` into 50 and `"x": 1` into "1" (it
 * coerces, as the query string needs), so a caller sending a number as text hears about it. Runs after the
 * body is parsed and before the schema is checked.
 */
export function strictBodies(scope: FastifyInstance): void {
  scope.addHook('preValidation', async (request) => {
    const schema = request.routeOptions.schema?.body as { additionalProperties?: boolean; properties?: Record<string, unknown>; required?: string[] } | undefined;
    if (!schema) return;
    if (request.body === undefined && !schema.required?.length) request.body = {};
    const body = request.body;
    if (schema.additionalProperties !== false || body === null || typeof body !== 'object' || Array.isArray(body)) return;
    const known = (schema.properties ?? {}) as Record<string, { type?: string | string[] }>;
    const unknown = Object.keys(body).find((k) => !Object.prototype.hasOwnProperty.call(known, k));
    if (unknown !== undefined) throw new HttpError(400, 'VALIDATION_FAILED', `body has an unknown field: ${unknown}`, unknown);
    for (const [field, value] of Object.entries(body as Record<string, unknown>)) {
      const expected = known[field]?.type;
      if (expected === undefined || matchesJsonType(value, expected)) continue;
      const wanted = Array.isArray(expected) ? expected.join(' or ') : expected;
      throw new HttpError(400, 'VALIDATION_FAILED', `body/${field} must be ${wanted}, not ${jsonTypeOf(value)}`, field);
    }
  });
}

function jsonTypeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/** Whether a parsed JSON value has one of the JSON Schema types named (an integer is also a number). */
function matchesJsonType(value: unknown, type: string | string[]): boolean {
  const actual = jsonTypeOf(value);
  return (Array.isArray(type) ? type : [type]).some((t) => t === actual || (t === 'number' && actual === 'integer'));
}
