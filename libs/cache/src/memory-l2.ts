// L2 in this process's memory, with the same expiry and index semantics as Redis: for unit tests and the
// embedded pipeline (no Redis). Expired entries are dropped when read, as Redis does lazily.
import { entryL2Bytes, type CacheL2Driver, type L2Budget } from './l2-driver';

interface Held {
  value: string;
  expiresAt: number;
}

export class MemoryCacheL2 implements CacheL2Driver {
  private readonly values = new Map<string, Held>();
  private readonly indexes = new Map<string, { members: Set<string>; expiresAt: number }>();
  /** Per partition: its keys' sizes in write order (a Map keeps insertion order; a rewrite moves a key last). */
  private readonly budgets = new Map<string, { sizes: Map<string, number>; total: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  async get(key: string): Promise<string | null> {
    return this.live(key)?.value ?? null;
  }

  async set(key: string, value: string, ttlMs: number, indexKey: string, budget?: L2Budget): Promise<number> {
    const expiresAt = this.now() + Math.max(1, Math.ceil(ttlMs));
    this.values.set(key, { value, expiresAt });
    let index = this.indexes.get(indexKey);
    if (!index || index.expiresAt <= this.now()) this.indexes.set(indexKey, (index = { members: new Set(), expiresAt }));
    index.members.add(key);
    index.expiresAt = Math.max(index.expiresAt, expiresAt);
    return budget ? this.account(key, value, budget) : 0;
  }

  /** The Redis script's accounting, in memory: the partition's oldest writes go while it is over its bytes. */
  private account(key: string, value: string, budget: L2Budget): number {
    let b = this.budgets.get(budget.accountKey);
    if (!b) this.budgets.set(budget.accountKey, (b = { sizes: new Map(), total: 0 }));
    b.total -= b.sizes.get(key) ?? 0;
    b.sizes.delete(key);
    const bytes = entryL2Bytes(key, value);
    b.sizes.set(key, bytes);
    b.total += bytes;
    let evicted = 0;
    for (const [oldest, size] of b.sizes) {
      if (b.total <= budget.maxBytes || oldest === key) break;
      this.values.delete(oldest);
      b.sizes.delete(oldest);
      b.total -= size;
      evicted++;
    }
    return evicted;
  }

  async delete(keys: readonly string[]): Promise<number> {
    let n = 0;
    for (const key of keys) if (this.live(key) && this.values.delete(key)) n++;
    return n;
  }

  async deleteIndexed(indexKey: string): Promise<number> {
    const index = this.indexes.get(indexKey);
    this.indexes.delete(indexKey);
    if (!index || index.expiresAt <= this.now()) return 0;
    return this.delete([...index.members]);
  }

  async acquireLease(leaseKey: string, token: string, ttlMs: number): Promise<boolean> {
    if (this.live(leaseKey)) return false;
    this.values.set(leaseKey, { value: token, expiresAt: this.now() + Math.max(1, Math.ceil(ttlMs)) });
    return true;
  }

  async releaseLease(leaseKey: string, token: string): Promise<void> {
    if (this.live(leaseKey)?.value === token) this.values.delete(leaseKey);
  }

  async close(): Promise<void> {
    this.values.clear();
    this.indexes.clear();
    this.budgets.clear();
  }

  /** Entry keys currently held (expired ones and leases excluded), for tests. */
  keys(): string[] {
    return [...this.values.keys()].filter((key) => !key.endsWith(':~lease') && this.live(key));
  }

  private live(key: string): Held | undefined {
    const held = this.values.get(key);
    if (held && held.expiresAt <= this.now()) {
      this.values.delete(key);
      return undefined;
    }
    return held;
  }
}
