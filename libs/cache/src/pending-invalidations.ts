// Invalidations L2 did not take (Redis unreachable). Dropping them would leave the old value in Redis for the
// rest of its TTL after Redis comes back; kept here, they are applied as soon as an L2 call succeeds again.
// Bounded: past the bound the oldest are forgotten, and those entries fall back to expiring by TTL.
import type { CacheL2Driver } from './l2-driver';

export class PendingInvalidations {
  private keys = new Set<string>();
  private indexes = new Set<string>();
  private replaying = false;

  constructor(private readonly max: number) {}

  get size(): number {
    return this.keys.size + this.indexes.size;
  }

  addKey(key: string): void {
    this.add(this.keys, key);
  }

  addIndex(indexKey: string): void {
    this.add(this.indexes, indexKey);
  }

  /** Applies everything pending to `l2`; what fails stays pending. One replay at a time. */
  async replay(l2: CacheL2Driver): Promise<boolean> {
    if (this.replaying || this.size === 0) return true;
    this.replaying = true;
    const keys = this.keys;
    const indexes = this.indexes;
    this.keys = new Set();
    this.indexes = new Set();
    try {
      for (const index of indexes) await l2.deleteIndexed(index);
      if (keys.size > 0) await l2.delete([...keys]);
      return true;
    } catch {
      for (const key of keys) this.addKey(key);
      for (const index of indexes) this.addIndex(index);
      return false;
    } finally {
      this.replaying = false;
    }
  }

  private add(set: Set<string>, item: string): void {
    set.delete(item);
    set.add(item);
    // Sets iterate in insertion order: the first is the oldest.
    while (this.size > this.max) {
      const oldest = set.values().next();
      if (oldest.done) break;
      set.delete(oldest.value);
    }
  }
}
