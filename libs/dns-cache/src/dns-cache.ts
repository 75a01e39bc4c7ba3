// The asynchronous DNS cache: L1 (in-process LRU, synchronous) → L2 (shared, async, with a shared lease)
// → the upstream. One flight per question per process, one lease per question across processes, so a
// name costs one upstream query per TTL however many callers and replicas ask for it.
import type { Meter } from '@opentelemetry/api';
import type { RecordType, Upstream, UpstreamAnswer } from '@dmarc/dns-wire';
import { systemClock, type Clock } from './clock';
import { checkType, normalizeName, sharedKey, type CachedType } from './dns-name';
import { extendedEntry, failedEntry, judgeAnswer, negativeEntry, positiveEntry } from './entry-policy';
import { encodeEntry, decodeEntry, isNewer, remainingTtl, type DnsEntry } from './entry';
import { UpstreamFailedError } from './errors';
import { Flight, type Filled } from './flight';
import { freshness, isServable, type Freshness } from './freshness';
import { LruMap } from './l1-lru';
import type { L2Driver, L2Lease } from './l2-driver';
import { LatencyEstimator } from './latency-estimator';
import type { DnsLookup, LookupSource } from './lookup';
import { DnsCacheMetrics } from './metrics';
import { resolvePolicy, resolveTiming, type CachePolicyOptions, type ResolvedPolicy, type ResolvedTiming, type TimingOptions } from './options';
import { PrefetchScheduler } from './prefetch-scheduler';
import { landingChannel, SharedLease } from './shared-lease';

/** pino's call shape, so a pino logger (or a child) is passed in as is. */
export interface DnsCacheLogger {
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
}

const silent: DnsCacheLogger = { info() {}, warn() {} };

export interface DnsCacheOptions extends CachePolicyOptions, TimingOptions {
  upstream: Upstream;
  /** The shared tier; without it the cache is process-local (L1 only). */
  l2?: L2Driver;
  clock?: Clock;
  logger?: DnsCacheLogger;
  /** When given, the counters and the upstream latency are exported through it. */
  meter?: Meter;
}

export class DnsCache {
  readonly metrics: DnsCacheMetrics;
  readonly policy: ResolvedPolicy;
  readonly timing: ResolvedTiming;
  private readonly upstream: Upstream;
  private readonly l2?: L2Driver;
  private readonly lease?: SharedLease;
  private readonly clock: Clock;
  private readonly log: DnsCacheLogger;
  private readonly l1: LruMap<DnsEntry>;
  private readonly flights = new Map<string, Flight>();
  private readonly latency = new LatencyEstimator();
  private readonly prefetch: PrefetchScheduler;
  private l2Down = false;

  constructor(options: DnsCacheOptions) {
    this.policy = resolvePolicy(options);
    this.timing = resolveTiming(options);
    this.upstream = options.upstream;
    this.clock = options.clock ?? systemClock;
    this.log = options.logger ?? silent;
    this.metrics = new DnsCacheMetrics(options.meter);
    this.l1 = new LruMap(this.timing.l1MaxEntries);
    this.prefetch = new PrefetchScheduler(this.clock, this.latency, this.timing, (slot, wanted) => this.prefetchDue(slot, wanted));
    this.l2 = options.l2;
    if (this.l2) {
      this.lease = new SharedLease(this.l2, this.timing, this.clock, (e) => this.l2Failed(e), () => this.metrics.counters.leaseWaits++);
    }
  }

  /**
   * The synchronous L1 path: the answer if this process holds a servable one (fresh, in the prefetch window,
   * or stale inside its window — a refresh is started as needed), otherwise undefined. Throws
   * UpstreamFailedError for a remembered upstream failure, and InvalidNameError / UnsupportedTypeError.
   */
  peek(name: string, type: RecordType | string): DnsLookup | undefined {
    // A peek that finds nothing is not counted as a lookup: the resolve() its caller makes next is.
    let served: DnsLookup | undefined;
    try {
      served = this.peekL1(name, type);
    } catch (error) {
      this.metrics.counters.lookups++;
      throw error;
    }
    if (served !== undefined) this.metrics.counters.lookups++;
    return served;
  }

  private peekL1(name: string, type: RecordType | string): DnsLookup | undefined {
    const slot = `${type}:${name}`;
    const entry = this.l1.get(slot);
    // Only checked names are ever stored, so a hit on the raw key needs no validation.
    if (entry !== undefined) return this.serveL1(slot, name, type as CachedType, entry, this.clock.now());
    const q = question(name, type);
    if (q.slot === slot) return undefined;
    const stored = this.l1.get(q.slot);
    return stored === undefined ? undefined : this.serveL1(q.slot, q.name, q.type, stored, this.clock.now());
  }

  /** The answer, from L1 without awaiting anything when it holds one, else from L2 or the upstream. */
  resolve(name: string, type: RecordType | string): Promise<DnsLookup> {
    this.metrics.counters.lookups++;
    try {
      let slot = `${type}:${name}`;
      let entry = this.l1.get(slot);
      let q: Question;
      if (entry !== undefined) {
        q = { slot, name, type: type as CachedType };
      } else {
        q = question(name, type);
        if (q.slot !== slot) entry = this.l1.get((slot = q.slot));
      }
      if (entry !== undefined) {
        const served = this.serveL1(slot, q.name, q.type, entry, this.clock.now());
        if (served) return Promise.resolve(served);
      }
      return this.miss(q);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Many names of one type from the tiers alone, never the upstream: what L1 holds is served as by peek(),
   * the rest is read from L2 in one round trip (MGET) and served when L2 holds it fresh (or in the prefetch
   * window, which schedules the refresh as a lookup would). Undefined for a name neither tier can serve so
   * (missing, stale, failed, an invalid name, an L2 outage): the caller resolves those one by one, through
   * the flights, the shared lease and the upstream. For a batch of a report's source IPs: one round trip
   * where resolve() would make one per name, and no flight or promise per name.
   */
  async readMany(names: readonly string[], type: RecordType | string): Promise<Array<DnsLookup | undefined>> {
    const out = new Array<DnsLookup | undefined>(names.length);
    const wanted: Array<{ at: number; q: Question }> = [];
    for (let i = 0; i < names.length; i++) {
      try {
        out[i] = this.peek(names[i], type);
        if (out[i] === undefined) wanted.push({ at: i, q: question(names[i], type) });
      } catch {
        // A remembered failure or an invalid name: resolve() says which.
      }
    }
    if (wanted.length === 0 || !this.l2?.getMany) return out;
    let values: Array<string | null>;
    try {
      values = await this.l2.getMany(wanted.map(({ q }) => sharedKey(q.type, q.name)));
    } catch (error) {
      this.l2Failed(error);
      return out;
    }
    const now = this.clock.now();
    for (let j = 0; j < wanted.length; j++) {
      const { at, q } = wanted[j];
      const shared = decodeEntry(values[j]);
      if (shared === undefined || shared.kind === 'failed') continue;
      const state = freshness(shared, now);
      if (state !== 'fresh' && state !== 'prefetch') continue;
      // L1 filled meanwhile (another caller's flight) with as new an entry: resolve() serves that one.
      const current = this.l1.peek(q.slot);
      if (current !== undefined && !isNewer(shared, current)) continue;
      this.l1.set(q.slot, shared);
      if (state === 'prefetch') this.prefetch.want(q.slot, shared, now);
      this.metrics.counters.lookups++;
      out[at] = this.present(shared, q.name, q.type, 'l2', now, state);
    }
    return out;
  }

  /** Stops the prefetch timers. The L2 driver and the upstream belong to the caller. */
  /**
   * Drops this process's copy of one answer (the shared tier is the caller's to clear): the next read goes to
   * Redis, then the upstream. For a change announced elsewhere (the cache-invalidator dropped the shared key
   * after a DMARC policy change) that this process must not serve until its TTL ends. A lookup already in
   * flight is left to finish. Returns whether an entry was held.
   */
  forget(name: string, type: RecordType | string): boolean {
    const q = question(name, type);
    return this.l1.delete(q.slot);
  }

  close(): void {
    this.prefetch.close();
  }

  /** Entries in L1, names waiting for a prefetch, questions in flight: for tests and /metrics. */
  stats(): { l1Entries: number; scheduledPrefetches: number; inFlight: number } {
    return { l1Entries: this.l1.size, scheduledPrefetches: this.prefetch.size, inFlight: this.flights.size };
  }

  private serveL1(slot: string, name: string, type: CachedType, entry: DnsEntry, now: number): DnsLookup | undefined {
    const state = freshness(entry, now);
    if (state === 'expired') return undefined;
    if (state === 'prefetch') {
      this.prefetch.want(slot, entry, now);
    } else if (state === 'stale' && now >= entry.retryAt && !this.flights.has(slot)) {
      this.startFlight(slot, name, type, entry);
    }
    return this.present(entry, name, type, 'l1', now, state);
  }

  private prefetchDue(slot: string, wanted: DnsEntry): void {
    // Replaced meanwhile (another process refreshed it through L2) or evicted: nothing to do.
    if (this.l1.peek(slot) !== wanted || this.flights.has(slot)) return;
    this.metrics.counters.prefetches++;
    const colon = slot.indexOf(':');
    this.startFlight(slot, slot.slice(colon + 1), slot.slice(0, colon) as CachedType, wanted);
  }

  private async miss(q: Question): Promise<DnsLookup> {
    for (let attempt = 0; ; attempt++) {
      let flight = this.flights.get(q.slot);
      if (flight) {
        if (attempt === 0) this.metrics.counters.coalescedWaiters++;
      } else {
        flight = this.startFlight(q.slot, q.name, q.type, this.l1.peek(q.slot));
      }
      const filled = await flight.ready;
      // Woken: read the entry again from the top — L1 holds the truth, which may be newer than what woke us.
      const now = this.clock.now();
      const entry = this.l1.peek(q.slot);
      if (entry !== undefined && filled?.entry === entry && isServable(entry, now)) {
        const state = freshness(entry, now);
        // A hit past 80 % answered from L2 is a hit too: without this, a process that reads a name once
        // from Redis in that window would never refresh it, and the next reader would find it expired.
        if (state === 'prefetch') this.prefetch.want(q.slot, entry, now);
        return this.present(entry, q.name, q.type, filled.source, now, state);
      }
      if (entry !== undefined) {
        const served = this.serveL1(q.slot, q.name, q.type, entry, now);
        if (served) return served;
      }
      // Evicted at once (a tiny L1) or expired already: the flight's own result still answers this caller.
      if (filled && attempt >= 1) return this.present(filled.entry, q.name, q.type, filled.source, now, freshness(filled.entry, now));
      if (!filled && attempt >= 2) throw new UpstreamFailedError(q.name, q.type, 'ERROR', false, 0);
    }
  }

  private startFlight(slot: string, name: string, type: CachedType, current: DnsEntry | undefined): Flight {
    const flight = new Flight(() => {
      // Gone from the map before anyone wakes (and before the answer is landed in L2), so a caller that
      // comes later never joins a flight whose answer it has already outlived.
      if (this.flights.get(slot) === flight) this.flights.delete(slot);
    });
    this.flights.set(slot, flight);
    const done = (filled: Filled | undefined): void => flight.finish(filled);
    this.fill(slot, name, type, current, flight).then(done, (error: unknown) => {
      this.log.warn({ name, type, err: error }, 'dns cache: a fill failed unexpectedly');
      done(undefined);
    });
    return flight;
  }

  /** One flight: L2, then the shared lease, then the upstream. Never rejects for upstream failures. */
  private async fill(slot: string, name: string, type: CachedType, current: DnsEntry | undefined, flight: Flight): Promise<Filled> {
    const key = sharedKey(type, name);
    if (this.l2) {
      const shared = await this.readL2(key);
      const now = this.clock.now();
      if (shared && isNewer(shared, current)) {
        const state = freshness(shared, now);
        if (state === 'fresh' || state === 'prefetch') {
          this.l1.set(slot, shared);
          return { entry: shared, source: 'l2' };
        }
        // Older than servable but still the best copy for stale-on-failure.
        current = shared;
        if (state === 'stale') {
          // Served at once to everyone waiting; the refresh carries on behind it.
          this.l1.set(slot, shared);
          flight.markReady({ entry: shared, source: 'l2' });
          if (now < shared.retryAt) return { entry: shared, source: 'l2' };
        }
      }
    }

    let lease: L2Lease | undefined;
    if (this.lease) {
      const outcome = await this.lease.acquireOrWait(key, current);
      if (outcome.kind === 'landed') {
        this.l1.set(slot, outcome.entry);
        return { entry: outcome.entry, source: 'l2' };
      }
      lease = outcome.lease;
      if (lease) {
        // The previous holder may have landed its answer between our read and our lease.
        const again = await this.readL2(key);
        if (again && isNewer(again, current) && isServable(again, this.clock.now()) && freshness(again, this.clock.now()) !== 'stale') {
          await this.lease.release(lease);
          this.l1.set(slot, again);
          return { entry: again, source: 'l2' };
        }
      }
    }

    let entry: DnsEntry;
    const stopKeeping = lease && this.lease?.keep(lease);
    try {
      entry = await this.ask(name, type, current);
    } catch (error) {
      if (lease) await this.lease?.release(lease);
      throw error;
    } finally {
      stopKeeping?.();
    }
    this.l1.set(slot, entry);
    // Waiters here are woken now; other processes when the write lands.
    flight.finish({ entry, source: 'upstream' });
    if (this.l2) await this.land(key, entry, lease);
    return { entry, source: 'upstream' };
  }

  /**
   * Asks the upstream and turns its answer (or failure) into the next entry of this question. A CNAME
   * without the asked records is chased here, hop by hop, not through the cache's own flights: two names
   * chasing each other must end in a failure, never in two flights waiting on one another.
   */
  private async ask(name: string, type: CachedType, current: DnsEntry | undefined): Promise<DnsEntry> {
    let reason: DnsEntry['rcode'] = 'ERROR';
    let qname = name;
    let cnameTtl = Infinity;
    const seen = new Set([name]);
    try {
      for (let hop = 0; hop < this.timing.maxCnameDepth; hop++) {
        const answer = await this.query(qname, type);
        const now = this.clock.now();
        const verdict = judgeAnswer(type, answer);
        if (verdict.kind === 'chase') {
          let target: string;
          try {
            target = normalizeName(verdict.target);
          } catch {
            break;
          }
          if (seen.has(target)) break;
          seen.add(target);
          cnameTtl = Math.min(cnameTtl, verdict.cnameTtlSeconds);
          qname = target;
          continue;
        }
        if (verdict.kind === 'failed') {
          reason = verdict.rcode;
          break;
        }
        const entry =
          verdict.kind === 'positive'
            ? positiveEntry(verdict.answers, Math.min(verdict.ttlSeconds, cnameTtl), now, this.policy)
            : negativeEntry(verdict.rcode, bounded(verdict.negativeTtlSeconds, cnameTtl, this.policy.negativeDefaultTtlMs / 1000), now, this.policy);
        if (current?.outageSince !== undefined) this.log.info({ name, type, outageMs: now - current.outageSince }, 'dns upstream answers again');
        return stamped(entry, current);
      }
    } catch (error) {
      // By the upstream's stable code (@dmarc/dns-wire's UpstreamError), never by its message.
      const code = (error as { code?: unknown } | undefined)?.code;
      reason = code === 'DNS_TIMEOUT' || code === 'DNS_ABORTED' ? 'TIMEOUT' : 'ERROR';
    }
    this.metrics.counters.upstreamFailures++;
    const now = this.clock.now();
    const next = (current && extendedEntry(current, now, this.policy)) ?? failedEntry(reason, current, now, this.policy);
    // Once per name per outage: the outage start travels with the entry (through L2 too), not per caller.
    if (current?.outageSince === undefined) {
      this.log.warn({ name, type, reason, servingStale: next.kind !== 'failed', staleUntil: next.kind !== 'failed' ? next.staleUntil : undefined }, 'dns upstream failing');
    }
    return stamped(next, current);
  }

  private async query(name: string, type: CachedType): Promise<UpstreamAnswer> {
    this.metrics.counters.upstreamQueries++;
    const started = this.clock.now();
    // The upstream has its own timeout and retries; this bounds the whole of it, so a hung query can never
    // hold the lease (renewed while it runs) and its waiters for ever.
    const controller = new AbortController();
    let timer: unknown;
    const deadline = new Promise<never>((_, reject) => {
      timer = this.clock.setTimer(() => {
        controller.abort();
        reject(Object.assign(new Error(`no answer for ${type} ${name} within ${this.timing.upstreamDeadlineMs} ms`), { code: 'DNS_TIMEOUT' }));
      }, this.timing.upstreamDeadlineMs);
    });
    try {
      return await Promise.race([this.upstream.query(name, type, controller.signal), deadline]);
    } finally {
      this.clock.clearTimer(timer);
      const ms = this.clock.now() - started;
      this.metrics.observeUpstreamLatency(ms);
      this.latency.observe(ms);
    }
  }

  private present(entry: DnsEntry, name: string, type: CachedType, source: LookupSource, now: number, state: Freshness): DnsLookup {
    const c = this.metrics.counters;
    if (entry.kind === 'failed') {
      c.failures++;
      throw new UpstreamFailedError(name, type, entry.rcode, source !== 'upstream', Math.max(0, entry.expiresAt - now));
    }
    if (source === 'l1') c.l1Hits++;
    else if (source === 'l2') c.l2Hits++;
    else c.upstreamAnswers++;
    const stale = state === 'stale' || state === 'expired';
    if (stale) c.staleServed++;
    if (entry.kind === 'negative') c.negativeHits++;
    return {
      name,
      type,
      rcode: entry.rcode,
      answers: entry.answers,
      ttl: remainingTtl(entry, now),
      expiresAt: entry.expiresAt,
      source,
      state: entry.kind === 'negative' ? 'negative' : stale ? 'stale' : 'fresh',
    };
  }

  private async readL2(key: string): Promise<DnsEntry | undefined> {
    try {
      const entry = decodeEntry(await this.l2!.get(key));
      if (this.l2Down) {
        this.l2Down = false;
        this.log.info({}, 'dns cache: L2 reachable again');
      }
      return entry;
    } catch (error) {
      this.l2Failed(error);
      return undefined;
    }
  }

  private async land(key: string, entry: DnsEntry, lease: L2Lease | undefined): Promise<void> {
    const now = this.clock.now();
    // Kept in L2 as long as any process could still serve it: its stale limit (a failure: its own short life).
    const keepMs = (entry.kind === 'failed' ? entry.expiresAt : entry.staleLimit) - now;
    try {
      await this.l2!.land(key, encodeEntry(entry), Math.max(1, keepMs), landingChannel(key), lease);
    } catch (error) {
      this.l2Failed(error);
      if (lease) await this.lease?.release(lease);
    }
  }

  private l2Failed(error: unknown): void {
    this.metrics.counters.l2Errors++;
    if (this.l2Down) return;
    this.l2Down = true;
    this.log.warn({ err: error }, 'dns cache: L2 unreachable; carrying on with L1 and the upstream');
  }
}

interface Question {
  slot: string;
  name: string;
  type: CachedType;
}

function question(name: string, type: string): Question {
  const t = checkType(type);
  const n = normalizeName(name);
  return { slot: `${t}:${n}`, name: n, type: t };
}

/** A negative answer reached through a CNAME lives no longer than the CNAME. */
function bounded(negativeTtl: number | undefined, cnameTtl: number, fallback: number): number | undefined {
  if (cnameTtl === Infinity) return negativeTtl;
  return Math.min(negativeTtl ?? fallback, cnameTtl);
}

/** Versions of one question only move forward, even when two are written in the same millisecond. */
function stamped(entry: DnsEntry, previous: DnsEntry | undefined): DnsEntry {
  return previous && entry.writtenAt <= previous.writtenAt ? { ...entry, writtenAt: previous.writtenAt + 1 } : entry;
}
