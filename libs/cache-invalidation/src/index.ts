export { CacheInvalidator, discoverOverDnsCache, type AppliedChange, type CacheInvalidatorDeps, type CacheInvalidatorLogger, type DnsResolve } from './cache-invalidator';
export { CacheInvalidationError, type CacheInvalidationErrorCode } from './errors';
export {
  AGGREGATES_UPDATED_TOPIC,
  CONFIG_CHANGES_TOPIC,
  DNS_CHANGES_TOPIC,
  DOMAIN_TYPES,
  planInvalidation,
  type ChangeEvent,
  type GroupDrop,
  type InvalidationPlan,
  type KeyDrop,
  type KeySet,
  type StrategyOf,
} from './invalidation-policy';
export { SequenceTracker } from './sequence-tracker';
