// The policy per data type is a table, not code in services (ARCHITECTURE "Cache layers"). Services name a
// type; the table says how long it lives and whether it may be read back. Overrides are merged once.
import { InvalidCacheOptionsError, UnknownDataTypeError } from './errors';

export type CacheStrategy = 'write-through' | 'write-invalidate' | 'lazy-load' | 'write-behind';

export interface DataPolicy {
  /** How long an entry may be served after it was loaded or written; 0 = never served from a cache. */
  readonly ttlMs: number;
  readonly strategy: CacheStrategy;
  /**
   * For ttl 0 types only: how long the L2 copy is kept as a record of what was written (never read back).
   * Redis cannot hold a key for 0 ms, and an alert nobody can see later is no record at all.
   */
  readonly recordMs?: number;
}

const SECOND = 1000;
const HOUR = 3600 * SECOND;

export const DEFAULT_POLICIES: Readonly<Record<string, DataPolicy>> = Object.freeze({
  alert: { ttlMs: 0, strategy: 'write-through', recordMs: HOUR },
  policy: { ttlMs: 30 * SECOND, strategy: 'write-invalidate' },
  compliance: { ttlMs: 30 * SECOND, strategy: 'write-invalidate' },
  dashboard: { ttlMs: 30 * SECOND, strategy: 'write-invalidate' },
  auth: { ttlMs: 30 * SECOND, strategy: 'write-invalidate' },
  // A cap: callers pass the record's own TTL (getOrLoad / set options.ttlMs), never above this.
  dns: { ttlMs: HOUR, strategy: 'lazy-load' },
  aggregate: { ttlMs: HOUR, strategy: 'write-behind' },
  trend: { ttlMs: 24 * HOUR, strategy: 'lazy-load' },
});

const STRATEGIES: readonly CacheStrategy[] = ['write-through', 'write-invalidate', 'lazy-load', 'write-behind'];

export class PolicyTable {
  private readonly table: Map<string, DataPolicy>;

  constructor(overrides: Readonly<Record<string, Partial<DataPolicy>>> = {}) {
    this.table = new Map(Object.entries(DEFAULT_POLICIES));
    for (const [type, override] of Object.entries(overrides)) {
      const base = this.table.get(type);
      const merged = { ...base, ...override } as DataPolicy;
      if (!(Number.isFinite(merged.ttlMs) && merged.ttlMs >= 0)) {
        throw new InvalidCacheOptionsError(`policy ${type}: ttlMs must be a finite number >= 0`);
      }
      if (!STRATEGIES.includes(merged.strategy)) throw new InvalidCacheOptionsError(`policy ${type}: unknown strategy ${String(merged.strategy)}`);
      if (merged.recordMs !== undefined && !(merged.recordMs > 0)) throw new InvalidCacheOptionsError(`policy ${type}: recordMs must be > 0`);
      this.table.set(type, Object.freeze(merged));
    }
  }

  of(type: string): DataPolicy {
    const policy = this.table.get(type);
    if (!policy) throw new UnknownDataTypeError(type, [...this.table.keys()]);
    return policy;
  }

  types(): string[] {
    return [...this.table.keys()];
  }
}

/** A type whose entries are never served from a cache (alerts): reads always go to the source. */
export const isReadable = (policy: DataPolicy): boolean => policy.ttlMs > 0;

/** The entry's lifetime: the caller's own TTL (a DNS record's) capped by the policy's. */
export function lifetimeOf(policy: DataPolicy, requestedMs?: number): number {
  if (requestedMs === undefined || !Number.isFinite(requestedMs)) return policy.ttlMs;
  return Math.max(0, Math.min(policy.ttlMs, requestedMs));
}
