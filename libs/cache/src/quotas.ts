// What each tenant tier may use (issue 6 point 5). The cache enforces the memory half in its L1: a tenant's
// entries count against its tier's bytes, and going over evicts that tenant's own least recently used
// entries. The rate half (ops/s) is enforced where requests come in (the API); it is here so both read one table.
import type { TenantTier } from './cache-key';
import { InvalidCacheOptionsError } from './errors';

export interface TierQuota {
  readonly opsPerSecond: number;
  readonly cacheBytes: number;
}

const MB = 1024 * 1024;

export const DEFAULT_TIER_QUOTAS: Readonly<Record<TenantTier, TierQuota>> = Object.freeze({
  enterprise: { opsPerSecond: 1000, cacheBytes: 1024 * MB },
  business: { opsPerSecond: 250, cacheBytes: 256 * MB },
  starter: { opsPerSecond: 50, cacheBytes: 64 * MB },
});

/** L1 bytes for entries every tenant shares (scope 'global': DNS answers). */
export const DEFAULT_GLOBAL_CACHE_BYTES = 256 * MB;

/** Byte budgets by tier (and 'global'), overridable; tests use a few kilobytes. */
export type CacheQuotas = Record<TenantTier | 'global', number>;

export function resolveQuotas(overrides: Partial<CacheQuotas> = {}): Readonly<CacheQuotas> {
  const quotas: CacheQuotas = {
    enterprise: DEFAULT_TIER_QUOTAS.enterprise.cacheBytes,
    business: DEFAULT_TIER_QUOTAS.business.cacheBytes,
    starter: DEFAULT_TIER_QUOTAS.starter.cacheBytes,
    global: DEFAULT_GLOBAL_CACHE_BYTES,
    ...overrides,
  };
  for (const [name, bytes] of Object.entries(quotas)) {
    if (!(Number.isFinite(bytes) && bytes >= 0)) throw new InvalidCacheOptionsError(`quota ${name}: bytes must be a finite number >= 0`);
  }
  return Object.freeze(quotas);
}
