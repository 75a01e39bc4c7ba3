// Freshness is a pure function of the entry and the clock (CONVENTIONS §3b): tests pass `now` in.
import type { DnsEntry } from './entry';

/**
 * fresh    served as is.
 * prefetch served as is; the name is marked wanted and refreshed just before expiry.
 * stale    past expiry but inside the staleness window: served at once while one refresh runs.
 * expired  not servable: the caller waits for the upstream (or a stale copy on its failure).
 * A failed entry is `fresh` while it is remembered, then `expired`: it is never prefetched nor served stale.
 */
export type Freshness = 'fresh' | 'prefetch' | 'stale' | 'expired';

export function freshness(entry: DnsEntry, now: number): Freshness {
  if (now < entry.expiresAt) return now < entry.prefetchAt ? 'fresh' : 'prefetch';
  if (entry.kind !== 'failed' && now < entry.staleUntil) return 'stale';
  return 'expired';
}

/** An entry a caller can be given now without waiting for anything. */
export function isServable(entry: DnsEntry, now: number): boolean {
  return freshness(entry, now) !== 'expired';
}
