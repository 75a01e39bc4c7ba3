import type { Meter } from '@opentelemetry/api';
import type { CacheStats } from './stats';

/**
 * Exports a cache's counters on a service's meter (`GET /metrics`), read at each collection from `stats()`:
 * `dmarc_cache_reads_total{tier, type}` with tier `l1` (hit in the process), `l2` (hit in Redis) or `source`
 * (neither: the loader ran), which is the hit ratio per tier and type (ARCHITECTURE "Observability"), plus
 * loads, coalesced loads, L2 errors, quota evictions, invalidations heard, stale entries served and refreshed,
 * L1 entries and the degraded flag.
 */
export function observeCacheStats(meter: Meter, stats: () => CacheStats): void {
  const reads = meter.createObservableCounter('dmarc_cache_reads_total', { description: 'cache reads by the tier that answered (source: the loader ran) and data type' });
  const loads = meter.createObservableCounter('dmarc_cache_loads_total', { description: 'loader calls (reads of the source), by data type' });
  const coalesced = meter.createObservableCounter('dmarc_cache_coalesced_total', { description: 'reads that joined a load already running for the same key' });
  const l2Errors = meter.createObservableCounter('dmarc_cache_l2_errors_total', { description: 'Redis calls that failed (the cache went on with L1 and the source)' });
  const evictions = meter.createObservableCounter('dmarc_cache_evictions_total', { description: 'L1 entries dropped to keep a tenant within its memory quota' });
  const heard = meter.createObservableCounter('dmarc_cache_invalidations_received_total', { description: 'invalidations heard from other processes' });
  const stale = meter.createObservableCounter('dmarc_cache_stale_served_total', { description: 'reads answered with an entry of a group marked stale, refreshed behind' });
  const refreshes = meter.createObservableCounter('dmarc_cache_refreshes_total', { description: 'background refreshes of stale entries' });
  const entries = meter.createObservableGauge('dmarc_cache_l1_entries', { description: 'entries in this process tier' });
  const degraded = meter.createObservableGauge('dmarc_cache_degraded', { description: '1 while Redis is skipped or invalidations may be missed' });
  meter.addBatchObservableCallback(
    (result) => {
      const s = stats();
      for (const [type, t] of Object.entries(s.byType)) {
        result.observe(reads, t.l1Hits, { tier: 'l1', type });
        result.observe(reads, t.l2Hits, { tier: 'l2', type });
        result.observe(reads, t.loads, { tier: 'source', type });
        result.observe(loads, t.loads, { type });
      }
      result.observe(coalesced, s.coalesced);
      result.observe(l2Errors, s.l2Errors);
      result.observe(evictions, s.evictions);
      result.observe(heard, s.invalidationsReceived);
      result.observe(stale, s.staleServed);
      result.observe(refreshes, s.refreshes);
      result.observe(entries, s.l1Entries);
      result.observe(degraded, s.degraded ? 1 : 0);
    },
    [reads, loads, coalesced, l2Errors, evictions, heard, stale, refreshes, entries, degraded],
  );
}
