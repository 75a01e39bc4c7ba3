// The one public entry point of @dmarc/cache (see README.md).
export { TieredCache, type EntryOptions } from './tiered-cache';
export { observeCacheStats } from './cache-metrics';
export type { TieredCacheOptions, InvalidatedEvent } from './options';
export { cacheKey, escapeKeyPart, groupBase, groupIndexKey, partitionOf, type CacheScope, type TenantTier } from './cache-key';
export { DEFAULT_POLICIES, PolicyTable, type CacheStrategy, type DataPolicy } from './policy';
export { DEFAULT_GLOBAL_CACHE_BYTES, DEFAULT_TIER_QUOTAS, resolveQuotas, type CacheQuotas, type TierQuota } from './quotas';
export type { CacheStats, TypeStats } from './stats';
export type { CacheL2Driver } from './l2-driver';
export { MemoryCacheL2 } from './memory-l2';
export { RedisCacheL2 } from './redis-l2';
export { InProcessBroadcast, type BroadcastListener, type InvalidationBroadcast, type InvalidationMessage } from './broadcast';
export { DEFAULT_INVALIDATION_CHANNEL, RedisBroadcast } from './redis-broadcast';
export { connectRedisCache, type RedisCacheConnection, type RedisCacheConnectionOptions } from './redis-connection';
export { CacheClosedError, CacheError, InvalidCacheOptionsError, InvalidKeyError, UnknownDataTypeError, type CacheErrorCode } from './errors';
