// Options with defaults, resolved once into a complete object (CONVENTIONS §8); hot paths read resolved fields.
import type { InvalidationBroadcast } from './broadcast';
import { InvalidCacheOptionsError } from './errors';
import type { CacheL2Driver } from './l2-driver';
import { PolicyTable, type DataPolicy } from './policy';
import { resolveQuotas, type CacheQuotas } from './quotas';

export interface InvalidatedEvent {
  /** 'remote': heard on the broadcast; 'local': this process invalidated; 'reconnect': L1 cleared after a gap. */
  readonly source: 'local' | 'remote' | 'reconnect';
  readonly keys: readonly string[];
  readonly groups: readonly string[];
  /** L1 entries dropped by it in this process. */
  readonly dropped: number;
}

export interface TieredCacheOptions {
  l2: CacheL2Driver;
  broadcast: InvalidationBroadcast;
  /** Per data type overrides of DEFAULT_POLICIES; new types may be added. */
  policies?: Readonly<Record<string, Partial<DataPolicy>>>;
  /** L1 byte budgets per tenant tier and for global entries. */
  quotas?: Partial<CacheQuotas>;
  /** Milliseconds since the epoch; tests pass their own. */
  now?: () => number;
  /** After an L2 error, L2 is skipped for this long, then tried again (default 1000 ms). */
  l2RetryMs?: number;
  /**
   * While the broadcast is disconnected invalidations can be missed, so L1 entries stored longer ago than this
   * are not served (default 1000 ms). L1 is cleared when the broadcast reconnects.
   */
  unsubscribedL1MaxAgeMs?: number;
  /**
   * Cross-process coalescing: the first process to miss a key holds a Redis lease this long while it loads,
   * the others wait for its value (default 5000 ms; 0: every process loads for itself).
   */
  leaseMs?: number;
  /** How often a waiting process re-reads L2 (default 20 ms). */
  leasePollMs?: number;
  /** Invalidations still to apply to L2 once it answers again, at most (default 10,000 keys or groups). */
  maxPendingInvalidations?: number;
  /** close() also closes the L2 driver and the broadcast (when this cache owns them). */
  closeDrivers?: boolean;
  /** Told of each invalidation applied to this process's L1 (metrics, tests). */
  onInvalidated?: (event: InvalidatedEvent) => void;
}

export interface ResolvedOptions {
  readonly l2: CacheL2Driver;
  readonly broadcast: InvalidationBroadcast;
  readonly policies: PolicyTable;
  readonly quotas: Readonly<CacheQuotas>;
  readonly now: () => number;
  readonly l2RetryMs: number;
  readonly unsubscribedL1MaxAgeMs: number;
  readonly maxPendingInvalidations: number;
  readonly leaseMs: number;
  readonly leasePollMs: number;
  readonly closeDrivers: boolean;
  readonly onInvalidated?: (event: InvalidatedEvent) => void;
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!(Number.isFinite(value) && value >= 0)) throw new InvalidCacheOptionsError(`${name} must be a finite number >= 0`);
  return value;
}

export function resolveOptions(options: TieredCacheOptions): ResolvedOptions {
  if (!options?.l2) throw new InvalidCacheOptionsError('l2 driver is required');
  if (!options.broadcast) throw new InvalidCacheOptionsError('broadcast is required');
  return {
    l2: options.l2,
    broadcast: options.broadcast,
    policies: new PolicyTable(options.policies),
    quotas: resolveQuotas(options.quotas),
    now: options.now ?? Date.now,
    l2RetryMs: nonNegative('l2RetryMs', options.l2RetryMs, 1000),
    unsubscribedL1MaxAgeMs: nonNegative('unsubscribedL1MaxAgeMs', options.unsubscribedL1MaxAgeMs, 1000),
    maxPendingInvalidations: nonNegative('maxPendingInvalidations', options.maxPendingInvalidations, 10_000),
    leaseMs: nonNegative('leaseMs', options.leaseMs, 5_000),
    leasePollMs: Math.max(1, nonNegative('leasePollMs', options.leasePollMs, 20)),
    closeDrivers: options.closeDrivers ?? false,
    onInvalidated: options.onInvalidated,
  };
}
