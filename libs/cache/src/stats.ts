// Counters for the cache hit ratio per tier and type (ARCHITECTURE "Observability"), read by stats().

export interface TypeStats {
  l1Hits: number;
  l2Hits: number;
  /** Reads that neither tier could answer. */
  misses: number;
  loads: number;
}

export interface CacheStats {
  l1: { hits: number; misses: number };
  l2: { hits: number; misses: number };
  byType: Record<string, TypeStats>;
  /** Calls to a loader (the source). */
  loads: number;
  /** getOrLoad calls that joined a load already running for the same key. */
  coalesced: number;
  l2Errors: number;
  /** L1 entries dropped to keep a partition within its quota. */
  evictions: number;
  /** L2 entries dropped to keep a partition within its quota (its own least recently written). */
  l2Evictions: number;
  /** Invalidations heard from other processes. */
  invalidationsReceived: number;
  /** Reads answered with an entry of a group marked stale (refreshGroup): served, refreshed behind. */
  staleServed: number;
  /** Background refreshes started for stale entries. */
  refreshes: number;
  l1Entries: number;
  /** Redis is skipped after failures, or invalidations may be missed: serving from L1 (bounded) and the source. */
  degraded: boolean;
  l2Available: boolean;
  broadcastConnected: boolean;
}

export class StatsCounter {
  l1Hits = 0;
  l1Misses = 0;
  l2Hits = 0;
  l2Misses = 0;
  loads = 0;
  coalesced = 0;
  l2Errors = 0;
  invalidationsReceived = 0;
  staleServed = 0;
  refreshes = 0;
  l2Evictions = 0;
  private readonly types = new Map<string, TypeStats>();

  of(type: string): TypeStats {
    let t = this.types.get(type);
    if (!t) this.types.set(type, (t = { l1Hits: 0, l2Hits: 0, misses: 0, loads: 0 }));
    return t;
  }

  byType(): Record<string, TypeStats> {
    return Object.fromEntries([...this.types].map(([type, t]) => [type, { ...t }]));
  }
}
