// The shared tier behind one small interface (CONVENTIONS §2): Redis across processes, or memory for unit
// tests and the embedded mode. The cache knows nothing else of Redis. Values are opaque strings.

export interface L2Lease {
  key: string;
  token: string;
}

export interface L2Driver {
  get(key: string): Promise<string | null>;
  /** Many keys in one round trip (MGET), values in key order. Optional: without it, readMany reads L1 only. */
  getMany?(keys: readonly string[]): Promise<Array<string | null>>;
  /**
   * Stores `value` for `ttlMs`, then tells `channel`'s subscribers (carrying the value, so they need no GET),
   * then drops `lease` if it still holds its token — one round trip where the driver can.
   */
  land(key: string, value: string, ttlMs: number, channel: string, lease?: L2Lease): Promise<void>;
  /** SET NX PX: true when this token now holds the lease. */
  acquireLease(lease: L2Lease, ttlMs: number): Promise<boolean>;
  /** Pushes the lease's expiry to `ttlMs` from now while it still holds `token`; false when it was lost. */
  renewLease(lease: L2Lease, ttlMs: number): Promise<boolean>;
  /** Drops the lease only while it still holds `token` (a late holder never drops its successor's). */
  releaseLease(lease: L2Lease): Promise<void>;
  /** Resolves once subscribed, so nothing published after it can be missed; returns the unsubscribe. */
  subscribe(channel: string, onMessage: (message: string) => void): Promise<() => void>;
}
