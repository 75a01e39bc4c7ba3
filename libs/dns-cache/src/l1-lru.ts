// The in-process tier: a size-bounded LRU with a synchronous get (CONVENTIONS §3). A Map finds the slot; a
// doubly linked list through the slots keeps the order of use, least recent at the head. The Map is never
// iterated: evicting through `map.keys().next()` walks every deleted entry V8 keeps at the front of the
// table until its next rehash, so with a full cache each eviction cost a scan of up to a third of the
// table (a million distinct names through a 100,000-entry L1 took 100 s of CPU in evictions alone; the
// list takes a few pointer moves). A hit moves its slot to the tail, so an entry read is never evicted
// before maxEntries newer insertions or reads have passed it.

class Slot<V> {
  prev: Slot<V> | null = null;
  next: Slot<V> | null = null;

  constructor(
    readonly key: string,
    public value: V,
  ) {}
}

export class LruMap<V> {
  private readonly map = new Map<string, Slot<V>>();
  /** Least recently used. */
  private head: Slot<V> | null = null;
  /** Most recently used. */
  private tail: Slot<V> | null = null;

  constructor(readonly maxEntries: number) {
    if (!(maxEntries >= 1)) throw new RangeError(`maxEntries must be >= 1, got ${maxEntries}`);
  }

  get size(): number {
    return this.map.size;
  }

  /** The value, marked as recently used. */
  get(key: string): V | undefined {
    const slot = this.map.get(key);
    if (slot === undefined) return undefined;
    if (slot !== this.tail) {
      this.unlink(slot);
      this.append(slot);
    }
    return slot.value;
  }

  /** The value without touching its recency. */
  peek(key: string): V | undefined {
    return this.map.get(key)?.value;
  }

  set(key: string, value: V): void {
    const slot = this.map.get(key);
    if (slot !== undefined) {
      slot.value = value;
      if (slot !== this.tail) {
        this.unlink(slot);
        this.append(slot);
      }
      return;
    }
    const added = new Slot(key, value);
    this.map.set(key, added);
    this.append(added);
    if (this.map.size > this.maxEntries) {
      const oldest = this.head!;
      this.unlink(oldest);
      this.map.delete(oldest.key);
    }
  }

  delete(key: string): boolean {
    const slot = this.map.get(key);
    if (slot === undefined) return false;
    this.unlink(slot);
    return this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
    this.head = this.tail = null;
  }

  private unlink(slot: Slot<V>): void {
    if (slot.prev) slot.prev.next = slot.next;
    else this.head = slot.next;
    if (slot.next) slot.next.prev = slot.prev;
    else this.tail = slot.prev;
    slot.prev = slot.next = null;
  }

  private append(slot: Slot<V>): void {
    slot.prev = this.tail;
    if (this.tail) this.tail.next = slot;
    else this.head = slot;
    this.tail = slot;
  }
}
