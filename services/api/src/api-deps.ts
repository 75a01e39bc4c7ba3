import type { TieredCache, CacheScope } from '@dmarc/cache';
import type { Store } from '@dmarc/store';
import type { AdminContext, Caller, RateLimiter } from '@dmarc/tenant-admin';

/** What the routes are built from, chosen at wiring time (PostgreSQL or PGlite, Redis or in-memory cache). */
export interface ApiDeps {
  db: Store;
  cache: TieredCache;
  limiter: RateLimiter;
  /** Called after each committed change: the service kicks the outbox relay. */
  afterChange?: () => void;
  logger: { warn(obj: object, msg: string): void };
  /** Largest JSON body a write accepts, in bytes (413 beyond). */
  maxBodyBytes: number;
  /** Longest day range of a dashboard read. */
  maxRangeDays: number;
  now?: () => number;
}

export const adminContext = (deps: ApiDeps): AdminContext => ({ db: deps.db, afterChange: deps.afterChange });

export const cacheScope = (caller: Caller): CacheScope => ({ tenantId: caller.tenantId, tier: caller.tier });

/**
 * Runs cache invalidations after a committed change. The database already holds the truth; a failure here
 * (the cache is closing) must not turn a committed write into an error, and the entries expire within their TTL.
 */
export async function afterCommit(deps: ApiDeps, what: string, invalidations: Array<() => Promise<unknown>>): Promise<void> {
  const results = await Promise.allSettled(invalidations.map((f) => f()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) deps.logger.warn({ what, err: failed.reason instanceof Error ? failed.reason.message : String(failed.reason) }, 'cache invalidation after a change failed; entries expire with their TTL');
}
