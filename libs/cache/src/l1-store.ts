// The in-process tier: synchronous (CONVENTIONS §3), bounded by bytes per partition (one tenant, or global).
// Each partition keeps its own least-recently-used list through its slots, so going over a tenant's quota
// evicts that tenant's oldest entries and nothing of anyone else's. A group index (key base → keys) lets a
// pattern invalidation drop a domain's entries without scanning the whole tier.
import { isFresh } from './entry';

class Slot {
  prev: Slot | null = null;
  next: Slot | null = null;
  /** Its group was marked stale after it was stored: served while one refresh runs (TieredCache.refreshGroup). */
  stale = false;

  constructor(
    readonly key: string,
    readonly partition: Partition,
    readonly group: string,
    readonly value: unknown,
    readonly expiresAt: number,
    /** When this process stored it: bounds how long it is trusted while invalidations may be missed. */
    readonly storedAt: number,
    readonly bytes: number,
  ) {}
}

class Partition {
  /** Least recently used. */
  head: Slot | null = null;
  /** Most recently used. */
  tail: Slot | null = null;
  bytes = 0;
  entries = 0;

  constructor(
    readonly name: string,
    public budget: number,
  ) {}

  unlink(slot: Slot): void {
    if (slot.prev) slot.prev.next = slot.next;
    else this.head = slot.next;
    if (slot.next) slot.next.prev = slot.prev;
    else this.tail = slot.prev;
    slot.prev = slot.next = null;
  }

  append(slot: Slot): void {
    slot.prev = this.tail;
    if (this.tail) this.tail.next = slot;
    else this.head = slot;
    this.tail = slot;
  }
}

export interface L1Hit {
  readonly value: unknown;
  readonly expiresAt: number;
  readonly stale: boolean;
}

export interface L1Put {
  key: string;
  partition: string;
  /** The partition's byte budget (its tenant tier's quota), applied on this write. */
  budget: number;
  group: string;
  value: unknown;
  expiresAt: number;
  storedAt: number;
  bytes: number;
  /** Stored already stale (an L2 entry older than its group's stale mark). */
  stale?: boolean;
}

export class L1Store {
  private readonly slots = new Map<string, Slot>();
  private readonly partitions = new Map<string, Partition>();
  private readonly groups = new Map<string, Set<string>>();
  /** Entries dropped to keep a partition within its budget. */
  evictions = 0;

  get size(): number {
    return this.slots.size;
  }

  /**
   * The entry if fresh at `now` and, when `trustedSince` is given, stored at or after it; marked as recently
   * used. An expired entry is dropped on the way: it can never be served again.
   */
  get(key: string, now: number, trustedSince?: number): L1Hit | undefined {
    const slot = this.slots.get(key);
    if (slot === undefined) return undefined;
    if (!isFresh(slot.expiresAt, now)) {
      this.remove(slot);
      return undefined;
    }
    if (trustedSince !== undefined && slot.storedAt < trustedSince) return undefined;
    const partition = slot.partition;
    if (slot !== partition.tail) {
      partition.unlink(slot);
      partition.append(slot);
    }
    return slot;
  }

  has(key: string): boolean {
    return this.slots.has(key);
  }

  isStale(key: string): boolean {
    return this.slots.get(key)?.stale === true;
  }

  /** Stores the entry, then evicts the partition's least recently used entries until it fits its budget. */
  set(put: L1Put): void {
    const existing = this.slots.get(put.key);
    if (existing) this.remove(existing);
    let partition = this.partitions.get(put.partition);
    if (!partition) this.partitions.set(put.partition, (partition = new Partition(put.partition, put.budget)));
    partition.budget = put.budget;
    // An entry bigger than the whole budget would evict everything and still not fit.
    if (put.bytes > partition.budget) return;
    const slot = new Slot(put.key, partition, put.group, put.value, put.expiresAt, put.storedAt, put.bytes);
    slot.stale = put.stale === true;
    this.slots.set(put.key, slot);
    partition.append(slot);
    partition.bytes += slot.bytes;
    partition.entries++;
    let members = this.groups.get(put.group);
    if (!members) this.groups.set(put.group, (members = new Set()));
    members.add(put.key);
    while (partition.bytes > partition.budget && partition.head && partition.head !== slot) {
      this.remove(partition.head);
      this.evictions++;
    }
  }

  delete(key: string): boolean {
    const slot = this.slots.get(key);
    if (!slot) return false;
    this.remove(slot);
    return true;
  }

  /** Drops every entry of the group whose base is `base`; returns how many. */
  deleteGroup(base: string): number {
    const members = this.groups.get(base);
    if (!members) return 0;
    let dropped = 0;
    for (const key of [...members]) if (this.delete(key)) dropped++;
    this.groups.delete(base);
    return dropped;
  }

  /** Marks every entry of the group stale (kept, served, refreshed on the next read); returns how many. */
  markGroupStale(base: string): number {
    const members = this.groups.get(base);
    if (!members) return 0;
    for (const key of members) this.slots.get(key)!.stale = true;
    return members.size;
  }

  clear(): void {
    this.slots.clear();
    this.partitions.clear();
    this.groups.clear();
  }

  /** Bytes held by one partition (`tenant:{escaped id}` or `global`). */
  bytesOf(partition: string): number {
    return this.partitions.get(partition)?.bytes ?? 0;
  }

  entriesOf(partition: string): number {
    return this.partitions.get(partition)?.entries ?? 0;
  }

  private remove(slot: Slot): void {
    const partition = slot.partition;
    partition.unlink(slot);
    partition.bytes -= slot.bytes;
    partition.entries--;
    this.slots.delete(slot.key);
    const members = this.groups.get(slot.group);
    if (members) {
      members.delete(slot.key);
      if (members.size === 0) this.groups.delete(slot.group);
    }
    // An empty partition is forgotten, so tenants that come and go leave nothing behind.
    if (partition.entries === 0 && this.partitions.get(partition.name) === partition) this.partitions.delete(partition.name);
  }
}
