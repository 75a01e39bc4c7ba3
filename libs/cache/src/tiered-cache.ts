// The two-tier cache: an in-process LRU (L1) in front of a shared L2 (Redis), in front of the source. What a
// data type does (TTL, read back or not) comes from the policy table; keys come from cache-key.ts. Redis
// trouble never reaches callers: L2 is skipped for a moment after an error and the cache serves from L1 and
// the source, and L1 is trusted only briefly while invalidations from other processes could be missed.
import { randomUUID } from 'node:crypto';
import type { BroadcastListener, InvalidationMessage } from './broadcast';
import { cacheKey, groupBase, groupBaseOfKey, groupIndexKey, isInGroup, partitionOf, type CacheScope } from './cache-key';
import { decodeEntry, encodeEntry, entryBytes, isFresh, type CacheEntry } from './entry';
import { CacheClosedError } from './errors';
import { deepFreeze } from './freeze';
import { L1Store } from './l1-store';
import { L2Circuit } from './l2-circuit';
import { resolveOptions, type InvalidatedEvent, type ResolvedOptions, type TieredCacheOptions } from './options';
import { PendingInvalidations } from './pending-invalidations';
import { isReadable, lifetimeOf, type DataPolicy } from './policy';
import { SharedLoad } from './shared-load';
import { StatsCounter, type CacheStats } from './stats';

export interface EntryOptions {
  /** The entry's own TTL (a DNS record's), capped by its type's policy. */
  ttlMs?: number;
}

interface Flight {
  promise: Promise<unknown>;
  /** An invalidation of this key arrived while loading: what the load returns may predate it, so it is not kept. */
  invalidated: boolean;
}

export class TieredCache {
  private readonly o: ResolvedOptions;
  /** Tells this cache's own messages apart on the broadcast (it applied them already). */
  private readonly origin = randomUUID();
  private readonly l1 = new L1Store();
  private readonly flights = new Map<string, Flight>();
  private readonly counters = new StatsCounter();
  private readonly circuit: L2Circuit;
  private readonly pending: PendingInvalidations;
  private readonly shared: SharedLoad;
  private readonly unsubscribe: () => void;
  private closed = false;
  /**
   * Counts every invalidation or write this process has applied or heard of. A get() that read L2 while the
   * count moved may hold a value that was just replaced: it is returned but not put in L1.
   */
  private generation = 0;
  /**
   * Group base → the instant its entries were marked stale (refreshGroup, here or heard on the broadcast). An
   * L2 entry stored before it is served but refreshed; bounded, oldest marks forgotten first (an entry outlives
   * a forgotten mark by its TTL at most).
   */
  private readonly staleSince = new Map<string, number>();

  constructor(options: TieredCacheOptions) {
    this.o = resolveOptions(options);
    this.circuit = new L2Circuit(this.o.l2RetryMs, this.o.now);
    this.pending = new PendingInvalidations(this.o.maxPendingInvalidations);
    this.shared = new SharedLoad(this.o.l2, { leaseMs: this.o.leaseMs, pollMs: this.o.leasePollMs, maxWaitMs: this.o.leaseMs, onL2Error: () => this.l2Failed() });
    const listener: BroadcastListener = {
      onMessage: (message) => this.onRemote(message),
      // Whatever was invalidated while we were not listening may still be in L1.
      onConnected: () => this.forgetL1('reconnect'),
    };
    this.unsubscribe = this.o.broadcast.subscribe(listener);
  }

  /** The value from L1, L2 or `load` (once for all concurrent callers of one key in this process). */
  async getOrLoad<T>(scope: CacheScope, type: string, id: readonly string[], load: () => Promise<T>, options?: EntryOptions): Promise<T> {
    this.assertOpen();
    const policy = this.o.policies.of(type);
    const key = cacheKey(scope, type, id);
    const stats = this.counters.of(type);
    if (!isReadable(policy)) {
      // Never served from a cache (alerts): every read is a read of the source.
      this.counters.loads++;
      stats.loads++;
      return load();
    }
    const hit = this.readL1(key, stats);
    if (hit) {
      if (hit.stale) this.revalidate(scope, policy, key, stats, load, options?.ttlMs);
      return hit.value as T;
    }
    const running = this.flights.get(key);
    if (running) {
      this.counters.coalesced++;
      return running.promise as Promise<T>;
    }
    const flight: Flight = { promise: Promise.resolve(), invalidated: false };
    flight.promise = this.fill(scope, policy, key, stats, load, flight, options?.ttlMs).finally(() => {
      if (this.flights.get(key) === flight) this.flights.delete(key);
    });
    this.flights.set(key, flight);
    return flight.promise as Promise<T>;
  }

  /** The cached value, or undefined (never for a type that is not read back). */
  async get<T>(scope: CacheScope, type: string, id: readonly string[]): Promise<T | undefined> {
    this.assertOpen();
    const policy = this.o.policies.of(type);
    const key = cacheKey(scope, type, id);
    if (!isReadable(policy)) return undefined;
    const stats = this.counters.of(type);
    const hit = this.readL1(key, stats);
    if (hit) return hit.value as T;
    const generation = this.generation;
    const entry = await this.readL2(key, stats);
    if (!entry) {
      stats.misses++;
      return undefined;
    }
    if (generation !== this.generation) return frozenValueOf(entry.raw) as T;
    return this.putL1(scope, key, entry, entry.raw) as T;
  }

  /**
   * Write-through: L2, then this process's L1, then every other process drops its copy (and reads the new
   * value from L2 next time). For a type that is not read back, only L2 keeps it, as a record.
   * `undefined` cannot be stored: it invalidates instead.
   */
  async set<T>(scope: CacheScope, type: string, id: readonly string[], value: T, options?: EntryOptions): Promise<void> {
    this.assertOpen();
    const policy = this.o.policies.of(type);
    const key = cacheKey(scope, type, id);
    if (value === undefined) return this.invalidate(scope, type, id);
    // A load that started before this write would bring back what it read then.
    this.markFlights((k) => k === key);
    const indexKey = groupIndexKey(groupBase(scope, type, id[0]));
    const now = this.o.now();
    if (!isReadable(policy)) {
      const recordMs = policy.recordMs ?? 1;
      await this.writeL2(scope, key, encodeEntry(value, now + recordMs), recordMs, indexKey);
      return;
    }
    const ttlMs = lifetimeOf(policy, options?.ttlMs);
    if (ttlMs <= 0) return this.invalidate(scope, type, id);
    const entry = { value, expiresAt: now + ttlMs };
    const json = encodeEntry(value, entry.expiresAt, now);
    // Not written, L2 may still hold the old value: it is deleted as soon as L2 answers again.
    if (!(await this.writeL2(scope, key, json, ttlMs, indexKey))) this.pending.addKey(key);
    this.putL1(scope, key, entry, json);
    await this.publish({ origin: this.origin, keys: [key] });
  }

  /** Drops the entry from L2, then from this process's L1, then tells every other process to drop it. */
  async invalidate(scope: CacheScope, type: string, id: readonly string[]): Promise<void> {
    this.assertOpen();
    this.o.policies.of(type);
    const key = cacheKey(scope, type, id);
    this.markFlights((k) => k === key);
    try {
      if (this.circuit.usable()) {
        await this.o.l2.delete([key]);
        this.l2Succeeded();
      } else this.pending.addKey(key);
    } catch {
      this.l2Failed();
      this.pending.addKey(key);
    }
    // After the L2 delete, so a read in between cannot put the old value back from L2.
    const dropped = this.l1.delete(key) ? 1 : 0;
    this.o.onInvalidated?.({ source: 'local', keys: [key], groups: [], dropped });
    await this.publish({ origin: this.origin, keys: [key] });
  }

  /**
   * Drops every entry of `type` whose first id segment is `group` (the pattern `type:{group}:*`, and the key
   * `type:{group}` itself), through the group's index set: no KEYS, no SCAN. Returns how many L2 entries went
   * (this process's L1 count when L2 could not be reached).
   */
  async invalidateGroup(scope: CacheScope, type: string, group: string): Promise<number> {
    this.assertOpen();
    this.o.policies.of(type);
    const base = groupBase(scope, type, group);
    const indexKey = groupIndexKey(base);
    this.markFlights((k) => isInGroup(k, base));
    let removed: number | undefined;
    try {
      if (this.circuit.usable()) {
        removed = await this.o.l2.deleteIndexed(indexKey);
        this.l2Succeeded();
      } else this.pending.addIndex(indexKey);
    } catch {
      this.l2Failed();
      this.pending.addIndex(indexKey);
    }
    const dropped = this.l1.deleteGroup(base);
    this.o.onInvalidated?.({ source: 'local', keys: [], groups: [base], dropped });
    await this.publish({ origin: this.origin, groups: [base] });
    return removed ?? dropped;
  }

  /**
   * Stale-while-revalidate for a group (`type:{group}:*`): its entries stay and are served, each read of one
   * starts one refresh of it in the background (coalesced per key), and the refreshed value replaces it. For
   * changes that make figures older but not wrong (new aggregates during an ingestion spike): readers never
   * wait on the database for them, and each entry is loaded once per mark per process at most (once in all
   * when another process's refresh already put a newer value in L2). Configuration changes drop instead.
   * Every process marks its L1 through the broadcast; returns how many L1 entries this process marked.
   */
  async refreshGroup(scope: CacheScope, type: string, group: string): Promise<number> {
    this.assertOpen();
    this.o.policies.of(type);
    const base = groupBase(scope, type, group);
    const marked = this.markStale(base, this.o.now());
    await this.publish({ origin: this.origin, staleGroups: [base] });
    return marked;
  }

  stats(): CacheStats {
    const c = this.counters;
    const broadcastConnected = this.o.broadcast.isConnected();
    const l2Available = !this.circuit.degraded;
    return {
      l1: { hits: c.l1Hits, misses: c.l1Misses },
      l2: { hits: c.l2Hits, misses: c.l2Misses },
      byType: c.byType(),
      loads: c.loads,
      coalesced: c.coalesced,
      l2Errors: c.l2Errors,
      evictions: this.l1.evictions,
      l2Evictions: c.l2Evictions,
      invalidationsReceived: c.invalidationsReceived,
      staleServed: c.staleServed,
      refreshes: c.refreshes,
      l1Entries: this.l1.size,
      degraded: !l2Available || !broadcastConnected,
      l2Available,
      broadcastConnected,
    };
  }

  /** L1 bytes held for a scope (its tenant's quota use). */
  l1Bytes(scope: CacheScope): number {
    return this.l1.bytesOf(partitionOf(scope));
  }

  /** Whether this process's L1 holds the key (tests, diagnostics); does not touch recency. */
  l1Has(scope: CacheScope, type: string, id: readonly string[]): boolean {
    return this.l1.has(cacheKey(scope, type, id));
  }

  /** Whether this process's L1 holds the key marked stale (tests, diagnostics); does not touch recency. */
  l1IsStale(scope: CacheScope, type: string, id: readonly string[]): boolean {
    return this.l1.isStale(cacheKey(scope, type, id));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    this.l1.clear();
    if (this.o.closeDrivers) await Promise.allSettled([this.o.broadcast.close(), this.o.l2.close()]);
  }

  private async fill<T>(
    scope: CacheScope,
    policy: DataPolicy,
    key: string,
    stats: { l2Hits: number; misses: number; loads: number },
    load: () => Promise<T>,
    flight: Flight,
    requestedTtlMs: number | undefined,
  ): Promise<T> {
    const cached = await this.readL2(key, stats);
    if (cached && !flight.invalidated) {
      // Older than its group's stale mark: served; the next read of it (from L1) starts its refresh.
      const stale = this.isStaleInL2(key, scope, cached);
      if (stale) this.counters.staleServed++;
      return this.putL1(scope, key, cached, cached.raw, stale) as T;
    }
    let token: string | undefined;
    if (!flight.invalidated && this.circuit.usable() && this.shared.enabled) {
      // Another process may be loading this key right now: wait for its value rather than load it again.
      const outcome = await this.shared.acquireOrWait(key, () => this.readL2(key, stats, false), () => flight.invalidated);
      if (outcome.kind === 'landed' && !flight.invalidated) return this.putL1(scope, key, outcome.entry, outcome.entry.raw) as T;
      if (outcome.kind === 'load') token = outcome.token;
    }
    try {
      return await this.loadAndStore(scope, policy, key, stats, load, flight, requestedTtlMs);
    } finally {
      // After the write: a waiter that finds the lease gone finds the value too.
      if (token) await this.shared.release({ key, token });
    }
  }

  private async loadAndStore<T>(
    scope: CacheScope,
    policy: DataPolicy,
    key: string,
    stats: { misses: number; loads: number },
    load: () => Promise<T>,
    flight: Flight,
    requestedTtlMs: number | undefined,
  ): Promise<T> {
    stats.misses++;
    this.counters.loads++;
    stats.loads++;
    // What the source said as of the load's start: a stale mark landing while it runs leaves the result stale.
    const startedAt = this.o.now();
    const value = await load();
    const ttlMs = lifetimeOf(policy, requestedTtlMs);
    if (value === undefined || ttlMs <= 0 || flight.invalidated || this.closed) return value;
    const entry = { value, expiresAt: this.o.now() + ttlMs, storedAt: startedAt };
    let json: string;
    try {
      json = encodeEntry(value, entry.expiresAt, startedAt);
    } catch {
      // Not representable as JSON (a BigInt, a cycle): served, not cached.
      return value;
    }
    const indexKey = groupIndexKey(groupBaseOfKey(key, scope));
    await this.writeL2(scope, key, json, ttlMs, indexKey);
    if (flight.invalidated) {
      // Invalidated while we wrote: another process may have deleted L2 before our write landed. Undo it.
      await this.deleteL2Quietly(key);
      return value;
    }
    return this.putL1(scope, key, entry, json, this.isStaleInL2(key, scope, entry)) as T;
  }

  private readL1(key: string, stats: { l1Hits: number }): { value: unknown; stale: boolean } | undefined {
    const now = this.o.now();
    // While the broadcast is down, an invalidation may have been missed: only trust what is very recent.
    const trustedSince = this.o.broadcast.isConnected() ? undefined : now - this.o.unsubscribedL1MaxAgeMs;
    const hit = this.l1.get(key, now, trustedSince);
    if (hit) {
      this.counters.l1Hits++;
      stats.l1Hits++;
      return hit;
    }
    this.counters.l1Misses++;
    return undefined;
  }

  /** `countMiss`: false while polling for another process's value (each poll is not a miss of its own). */
  private async readL2(key: string, stats: { l2Hits: number }, countMiss = true): Promise<(CacheEntry & { raw: string }) | undefined> {
    if (!this.circuit.usable()) return undefined;
    let raw: string | null;
    try {
      raw = await this.o.l2.get(key);
      this.l2Succeeded();
    } catch {
      this.l2Failed();
      return undefined;
    }
    const entry = decodeEntry(raw);
    if (!entry || !isFresh(entry.expiresAt, this.o.now())) {
      if (countMiss) this.counters.l2Misses++;
      return undefined;
    }
    this.counters.l2Hits++;
    stats.l2Hits++;
    return { ...entry, raw: raw! };
  }

  /** Writes the entry to L2 within its partition's budget (the tier's quota there too: its own oldest go first). */
  private async writeL2(scope: CacheScope, key: string, json: string, ttlMs: number, indexKey: string): Promise<boolean> {
    if (!this.circuit.usable()) return false;
    const budget = { accountKey: `${partitionOf(scope)}:~quota`, maxBytes: this.quotaOf(scope) };
    try {
      this.counters.l2Evictions += await this.o.l2.set(key, json, ttlMs, indexKey, budget);
      this.l2Succeeded();
      return true;
    } catch {
      this.l2Failed();
      return false;
    }
  }

  private async deleteL2Quietly(key: string): Promise<void> {
    try {
      await this.o.l2.delete([key]);
    } catch {
      this.l2Failed();
      this.pending.addKey(key);
    }
  }

  /** The bytes a scope's partition may hold, in each tier: its tenant tier's quota, or the global one. */
  private quotaOf(scope: CacheScope): number {
    return scope === 'global' ? this.o.quotas.global : this.o.quotas[scope.tier];
  }

  /** Stores a frozen copy of the entry (`json`: its encoded form) in L1 and returns it (what every caller gets). */
  private putL1(scope: CacheScope, key: string, entry: CacheEntry, json: string, stale = false): unknown {
    // A primitive (a string: the API keeps dashboards as their JSON text) is immutable: no copy to make, and
    // parsing a 200 KB entry back only to find the same string cost more than the rest of a refresh.
    const value = isPrimitive(entry.value) ? entry.value : frozenValueOf(json);
    if (this.closed) return value;
    const partition = partitionOf(scope);
    const budget = this.quotaOf(scope);
    // L1 keeps its own frozen copy: a caller changing what it got back cannot change what the next one gets.
    this.l1.set({
      key,
      partition,
      budget,
      group: groupBaseOfKey(key, scope),
      value,
      expiresAt: entry.expiresAt,
      storedAt: this.o.now(),
      bytes: entryBytes(key, json),
      stale,
    });
    return value;
  }

  /**
   * One background refresh of a stale entry (none when a load of the key is running). A newer value already in
   * L2 (another process refreshed it) is taken as it is; otherwise the source is read. Failures leave the stale
   * entry to its TTL; a later read tries again.
   */
  private revalidate<T>(
    scope: CacheScope,
    policy: DataPolicy,
    key: string,
    stats: { l2Hits: number; misses: number; loads: number },
    load: () => Promise<T>,
    requestedTtlMs: number | undefined,
  ): void {
    this.counters.staleServed++;
    if (this.flights.has(key) || this.closed) return;
    this.counters.refreshes++;
    const flight: Flight = { promise: Promise.resolve(), invalidated: false };
    flight.promise = (async () => {
      const newer = await this.readL2(key, stats, false);
      if (newer && !flight.invalidated && !this.isStaleInL2(key, scope, newer)) {
        this.putL1(scope, key, newer, newer.raw);
        return;
      }
      await this.loadAndStore(scope, policy, key, stats, load, flight, requestedTtlMs);
    })()
      .catch(() => undefined)
      .finally(() => {
        if (this.flights.get(key) === flight) this.flights.delete(key);
      });
    this.flights.set(key, flight);
  }

  private isStaleInL2(key: string, scope: CacheScope, entry: CacheEntry): boolean {
    const since = this.staleSince.get(groupBaseOfKey(key, scope));
    return since !== undefined && (entry.storedAt ?? 0) < since;
  }

  private markStale(base: string, at: number): number {
    this.staleSince.delete(base);
    this.staleSince.set(base, at);
    if (this.staleSince.size > MAX_STALE_MARKS) this.staleSince.delete(this.staleSince.keys().next().value!);
    return this.l1.markGroupStale(base);
  }

  private async publish(message: InvalidationMessage): Promise<void> {
    try {
      await this.o.broadcast.publish(message);
    } catch {
      // Other processes' subscribers are cut off too (same Redis): they distrust their L1 until they reconnect,
      // then clear it.
    }
  }

  private onRemote(message: InvalidationMessage): void {
    if (message.origin === this.origin || this.closed) return;
    this.counters.invalidationsReceived++;
    const keys = message.keys ?? [];
    const groups = message.groups ?? [];
    let dropped = 0;
    for (const key of keys) if (this.l1.delete(key)) dropped++;
    for (const base of groups) dropped += this.l1.deleteGroup(base);
    for (const base of message.staleGroups ?? []) this.markStale(base, this.o.now());
    const keySet = new Set(keys);
    this.markFlights((k) => keySet.has(k) || groups.some((base) => isInGroup(k, base)));
    this.o.onInvalidated?.({ source: 'remote', keys, groups, dropped });
  }

  private forgetL1(source: InvalidatedEvent['source']): void {
    const dropped = this.l1.size;
    this.l1.clear();
    this.markFlights(() => true);
    this.o.onInvalidated?.({ source, keys: [], groups: [], dropped });
  }

  private markFlights(matches: (key: string) => boolean): void {
    this.generation++;
    for (const [key, flight] of this.flights) if (matches(key)) flight.invalidated = true;
  }

  private l2Succeeded(): void {
    if (this.circuit.succeeded() || this.pending.size > 0) void this.pending.replay(this.o.l2);
  }

  private l2Failed(): void {
    this.counters.l2Errors++;
    this.circuit.failed();
  }

  private assertOpen(): void {
    if (this.closed) throw new CacheClosedError();
  }
}

/** Stale marks kept per process (group bases); the oldest go first beyond it. */
const MAX_STALE_MARKS = 100_000;

const isPrimitive = (v: unknown): boolean => v === null || (typeof v !== 'object' && typeof v !== 'function');

/** The value of an encoded entry, as a deep-frozen copy. */
const frozenValueOf = (json: string): unknown => deepFreeze(JSON.parse(json) as { v: unknown }).v;
