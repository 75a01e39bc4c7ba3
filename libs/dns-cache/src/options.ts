// Options with defaults are resolved once into a complete object (CONVENTIONS §8); the hot path reads
// resolved fields only.
import { InvalidOptionsError } from './errors';

export interface CachePolicyOptions {
  /** Record TTLs are clamped to [min, max] seconds. Defaults 30 and 3600. */
  minTtlSeconds?: number;
  maxTtlSeconds?: number;
  /** NXDOMAIN / NODATA: the SOA-derived negative TTL clamped to [min, max]; `default` when no SOA came. Defaults 30, 3600, 60. */
  negativeMinTtlSeconds?: number;
  negativeMaxTtlSeconds?: number;
  negativeDefaultTtlSeconds?: number;
  /** An upstream failure with nothing stale to serve is remembered this long. Default 5. */
  failureTtlSeconds?: number;
  /** Fraction of the TTL after which a hit marks the name wanted. Default 0.8. */
  prefetchRatio?: number;
  /** Past expiry, an entry is served stale while one refresh runs for this long. Default 60. */
  staleWhileRevalidateSeconds?: number;
  /** Each failed refresh extends a stale answer's life by this much (RFC 8767). Default 300. */
  staleExtensionSeconds?: number;
  /** No extension goes past expiry plus this (RFC 8767's max stale). Default 1800. */
  maxStaleSeconds?: number;
  /** After a failed refresh, the upstream is asked again for that name no sooner than this. Default 30. */
  failureRecheckSeconds?: number;
}

export interface ResolvedPolicy {
  minTtlMs: number;
  maxTtlMs: number;
  negativeMinTtlMs: number;
  negativeMaxTtlMs: number;
  negativeDefaultTtlMs: number;
  failureTtlMs: number;
  prefetchRatio: number;
  staleWhileRevalidateMs: number;
  staleExtensionMs: number;
  maxStaleMs: number;
  failureRecheckMs: number;
}

export interface TimingOptions {
  /** In-process entries kept (LRU). Default 100,000. */
  l1MaxEntries?: number;
  /** How long a process holds the shared in-progress lease. Default 5,000 ms. */
  leaseMs?: number;
  /** Waiting on another process's lease: L2 is re-read (and the lease tried) at least this often. Default 100 ms. */
  leasePollMs?: number;
  /** A waiter gives up on a lease holder after this and asks the upstream itself. Default 15,000 ms. */
  leaseMaxWaitMs?: number;
  /** A wanted name is refreshed this many upstream round trips before expiry. Default 3. */
  prefetchRoundTrips?: number;
  /** ...but never less than this ahead (covers the L2 round trips). Default 50 ms. */
  minPrefetchLeadMs?: number;
  /** Longest CNAME chain followed. Default 8. */
  maxCnameDepth?: number;
  /** An upstream query (its own retries included) that has not settled by then counts as a timeout. Default 10,000 ms. */
  upstreamDeadlineMs?: number;
}

export interface ResolvedTiming {
  l1MaxEntries: number;
  leaseMs: number;
  leasePollMs: number;
  leaseMaxWaitMs: number;
  prefetchRoundTrips: number;
  minPrefetchLeadMs: number;
  maxCnameDepth: number;
  upstreamDeadlineMs: number;
}

function seconds(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v < 0) throw new InvalidOptionsError(`${name} must be a finite number >= 0, got ${v}`);
  return v * 1000;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v <= 0) throw new InvalidOptionsError(`${name} must be a finite number > 0, got ${v}`);
  return v;
}

export function resolvePolicy(o: CachePolicyOptions = {}): ResolvedPolicy {
  const policy: ResolvedPolicy = {
    minTtlMs: seconds('minTtlSeconds', o.minTtlSeconds, 30),
    maxTtlMs: seconds('maxTtlSeconds', o.maxTtlSeconds, 3600),
    negativeMinTtlMs: seconds('negativeMinTtlSeconds', o.negativeMinTtlSeconds, 30),
    negativeMaxTtlMs: seconds('negativeMaxTtlSeconds', o.negativeMaxTtlSeconds, 3600),
    negativeDefaultTtlMs: seconds('negativeDefaultTtlSeconds', o.negativeDefaultTtlSeconds, 60),
    failureTtlMs: seconds('failureTtlSeconds', o.failureTtlSeconds, 5),
    prefetchRatio: o.prefetchRatio ?? 0.8,
    staleWhileRevalidateMs: seconds('staleWhileRevalidateSeconds', o.staleWhileRevalidateSeconds, 60),
    staleExtensionMs: seconds('staleExtensionSeconds', o.staleExtensionSeconds, 300),
    maxStaleMs: seconds('maxStaleSeconds', o.maxStaleSeconds, 1800),
    failureRecheckMs: seconds('failureRecheckSeconds', o.failureRecheckSeconds, 30),
  };
  if (policy.minTtlMs > policy.maxTtlMs) throw new InvalidOptionsError('minTtlSeconds is above maxTtlSeconds');
  if (policy.negativeMinTtlMs > policy.negativeMaxTtlMs) throw new InvalidOptionsError('negativeMinTtlSeconds is above negativeMaxTtlSeconds');
  if (!(policy.prefetchRatio > 0 && policy.prefetchRatio <= 1)) throw new InvalidOptionsError(`prefetchRatio must be in (0, 1], got ${policy.prefetchRatio}`);
  return policy;
}

export function resolveTiming(o: TimingOptions = {}): ResolvedTiming {
  return {
    l1MaxEntries: Math.floor(positive('l1MaxEntries', o.l1MaxEntries, 100_000)),
    leaseMs: positive('leaseMs', o.leaseMs, 5_000),
    leasePollMs: positive('leasePollMs', o.leasePollMs, 100),
    leaseMaxWaitMs: positive('leaseMaxWaitMs', o.leaseMaxWaitMs, 15_000),
    prefetchRoundTrips: positive('prefetchRoundTrips', o.prefetchRoundTrips, 3),
    minPrefetchLeadMs: seconds('minPrefetchLeadMs', o.minPrefetchLeadMs, 50) / 1000,
    maxCnameDepth: Math.floor(positive('maxCnameDepth', o.maxCnameDepth, 8)),
    upstreamDeadlineMs: positive('upstreamDeadlineMs', o.upstreamDeadlineMs, 10_000),
  };
}
