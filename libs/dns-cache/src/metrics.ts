// Plain counters the hot path bumps with no call at all; an OpenTelemetry meter, when given, reads them
// through observable instruments at collection time, so exporting costs the lookups nothing.
import type { Meter } from '@opentelemetry/api';

export interface DnsCacheCounters {
  /** Every peek() and resolve(). */
  lookups: number;
  l1Hits: number;
  l2Hits: number;
  /** Lookups answered by an upstream query this process made (the querying caller and its local waiters). */
  upstreamAnswers: number;
  /** Questions this process sent upstream (CNAME chase steps included). */
  upstreamQueries: number;
  /** Upstream queries that failed (timeout, SERVFAIL, REFUSED, ...). */
  upstreamFailures: number;
  /** Callers that found a query for their name already in flight in this process and waited on it. */
  coalescedWaiters: number;
  /** Fills that found another process's lease and waited for its answer instead of asking upstream. */
  leaseWaits: number;
  staleServed: number;
  /** Refreshes started for a wanted name before its expiry. */
  prefetches: number;
  /** Lookups answered with a cached NXDOMAIN / NODATA. */
  negativeHits: number;
  /** Lookups that ended in UpstreamFailedError (fresh or remembered failure). */
  failures: number;
  /** L2 (Redis) operations that failed; the cache carries on with L1 and the upstream. */
  l2Errors: number;
}

export const LATENCY_BUCKETS_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000] as const;

export interface LatencySummary {
  count: number;
  sumMs: number;
  maxMs: number;
  /** Counts per bucket of LATENCY_BUCKETS_MS (upper bounds, inclusive), the last one for anything above. */
  buckets: number[];
}

export class DnsCacheMetrics {
  readonly counters: DnsCacheCounters = {
    lookups: 0,
    l1Hits: 0,
    l2Hits: 0,
    upstreamAnswers: 0,
    upstreamQueries: 0,
    upstreamFailures: 0,
    coalescedWaiters: 0,
    leaseWaits: 0,
    staleServed: 0,
    prefetches: 0,
    negativeHits: 0,
    failures: 0,
    l2Errors: 0,
  };
  readonly upstreamLatency: LatencySummary = { count: 0, sumMs: 0, maxMs: 0, buckets: new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0) };
  private recordLatency?: (ms: number) => void;

  constructor(meter?: Meter) {
    if (meter) this.attach(meter);
  }

  observeUpstreamLatency(ms: number): void {
    const l = this.upstreamLatency;
    l.count++;
    l.sumMs += ms;
    if (ms > l.maxMs) l.maxMs = ms;
    let i = 0;
    while (i < LATENCY_BUCKETS_MS.length && ms > LATENCY_BUCKETS_MS[i]) i++;
    l.buckets[i]++;
    this.recordLatency?.(ms);
  }

  /** A point-in-time copy, for `GET /metrics` and tests. */
  snapshot(): DnsCacheCounters & { upstreamLatency: LatencySummary } {
    return { ...this.counters, upstreamLatency: { ...this.upstreamLatency, buckets: [...this.upstreamLatency.buckets] } };
  }

  private attach(meter: Meter): void {
    const names = Object.keys(this.counters) as Array<keyof DnsCacheCounters>;
    const instruments = names.map((name) => [name, meter.createObservableCounter(`dns_cache.${snake(name)}`)] as const);
    meter.addBatchObservableCallback(
      (result) => {
        for (const [name, instrument] of instruments) result.observe(instrument, this.counters[name]);
      },
      instruments.map(([, i]) => i),
    );
    const histogram = meter.createHistogram('dns_cache.upstream_latency', { unit: 'ms', advice: { explicitBucketBoundaries: [...LATENCY_BUCKETS_MS] } });
    this.recordLatency = (ms) => histogram.record(ms);
  }
}

function snake(name: string): string {
  // l1Hits → l1_hits: a digit stays with the word before it.
  return name.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`);
}
