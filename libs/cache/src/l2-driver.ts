// The shared tier behind one small interface (CONVENTIONS §2): Redis in services, memory in unit tests and the
// embedded pipeline. Values are opaque strings (the cache's JSON entries); every write also indexes the key in
// its group's set, so a pattern invalidation finds its keys without KEYS or SCAN.

/**
 * A partition's (tenant's, or the global entries') share of L2: its writes are accounted under `accountKey`
 * (bytes per key, most recently written last), and a write that takes the partition over `maxBytes` evicts its
 * own least recently written keys, never another partition's.
 */
export interface L2Budget {
  readonly accountKey: string;
  readonly maxBytes: number;
}

export interface CacheL2Driver {
  get(key: string): Promise<string | null>;
  /**
   * Stores `value` for `ttlMs` and adds `key` to the set `indexKey`, which then lives at least as long; with a
   * budget, accounts the entry to its partition and evicts that partition's oldest entries past the budget.
   * Returns how many entries were evicted.
   */
  set(key: string, value: string, ttlMs: number, indexKey: string, budget?: L2Budget): Promise<number>;
  /** Deletes the keys; returns how many existed. */
  delete(keys: readonly string[]): Promise<number>;
  /** Deletes every key indexed in `indexKey` and the index itself, at once; returns how many keys existed. */
  deleteIndexed(indexKey: string): Promise<number>;
  /** Takes `leaseKey` for `ttlMs` if nobody holds it (SET NX PX); optional: without it loads are not shared. */
  acquireLease?(leaseKey: string, token: string, ttlMs: number): Promise<boolean>;
  /** Drops the lease if `token` still holds it (a holder whose lease expired must not drop its successor's). */
  releaseLease?(leaseKey: string, token: string): Promise<void>;
  close(): Promise<void>;
}

/** The keys a partition's L2 accounting lives under (`~` never occurs in an escaped key part). */
export function budgetKeys(accountKey: string): { order: string; sizes: string; total: string } {
  return { order: `${accountKey}:order`, sizes: `${accountKey}:sizes`, total: `${accountKey}:bytes` };
}

/** What an entry costs in Redis, estimated: its key and its value, in UTF-8 bytes. */
export const entryL2Bytes = (key: string, value: string): number => Buffer.byteLength(key) + Buffer.byteLength(value);
