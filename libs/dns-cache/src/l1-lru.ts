// The in-process tier: a size-bounded LRU with a synchronous get (CONVENTIONS §3). A Map keeps insertion
// order, so re-inserting makes the first key the least recently used one. A hit re-inserts only an entry in
// the older half (more than maxEntries / 2 insertions ago): re-inserting on every hit cost a Map delete and
// set per L1 hit (the cache's largest self time in bench:dns) and churned the table; an entry read since it
// was last moved is still never evicted before maxEntries / 2 newer insertions have passed it.

interface Slot<V> {
  value: V;
  /** The insertion count when this key was last (re)inserted. */
  at: number;
}

export class LruMap<V> {
  private readonly map = new Map<string, Slot<V>>();
  private readonly half: number;
  private insertions = 0;

  constructor(readonly maxEntries: number) {
    if (!(maxEntries >= 1)) throw new RangeError(`maxEntries must be >= 1, got ${maxEntries}`);
    this.half = Math.floor(maxEntries / 2);
  }

  get size(): number {
    return this.map.size;
  }

  /** The value, marked as recently used. */
  get(key: string): V | undefined {
    const slot = this.map.get(key);
    if (slot === undefined) return undefined;
    if (this.insertions - slot.at >= this.half) {
      this.map.delete(key);
      slot.at = ++this.insertions;
      this.map.set(key, slot);
    }
    return slot.value;
  }

  /** The value without touching its recency. */
  peek(key: string): V | undefined {
    return this.map.get(key)?.value;
  }

  set(key: string, value: V): void {
    this.map.delete(key);
    this.map.set(key, { value, at: ++this.insertions });
    if (this.map.size > this.maxEntries) this.map.delete(this.map.keys().next().value as string);
  }

  delete(key: string): boolean {
    return this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
  }
}
