// The shared tier behind one small interface (CONVENTIONS §2): Redis in services, memory in unit tests and the
// embedded pipeline. Values are opaque strings (the cache's JSON entries); every write also indexes the key in
// its group's set, so a pattern invalidation finds its keys without KEYS or SCAN.

export interface CacheL2Driver {
  get(key: string): Promise<string | null>;
  /** Stores `value` for `ttlMs` and adds `key` to the set `indexKey`, which then lives at least as long. */
  set(key: string, value: string, ttlMs: number, indexKey: string): Promise<void>;
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
