// Prefetch near the floor of one upstream query per name per TTL. Refreshing at the first hit past 80 %
// (Unbound, CoreDNS) starts the next TTL window early and costs ~1.25 queries per window; here a hit past
// 80 % only marks the name wanted, and its one refresh is timed just before expiry (a few measured upstream
// round trips ahead), so a new window starts almost exactly where the old one ends. A name nobody read past
// 80 % of its TTL is not scheduled and simply expires.
import type { Clock } from './clock';
import type { DnsEntry } from './entry';
import type { LatencyEstimator } from './latency-estimator';
import type { ResolvedTiming } from './options';

interface Scheduled {
  entry: DnsEntry;
  timer: unknown;
}

export class PrefetchScheduler {
  private readonly scheduled = new Map<string, Scheduled>();
  private closed = false;

  constructor(
    private readonly clock: Clock,
    private readonly latency: LatencyEstimator,
    private readonly timing: ResolvedTiming,
    private readonly due: (slot: string, entry: DnsEntry) => void,
  ) {}

  /** Called on a hit in the prefetch window; once per entry version, later hits cost one map lookup. */
  want(slot: string, entry: DnsEntry, now: number): void {
    const current = this.scheduled.get(slot);
    if (current?.entry === entry || this.closed) return;
    if (current) this.clock.clearTimer(current.timer);
    // After a failed refresh the entry says when the upstream may be asked again; the timer respects it.
    const at = Math.max(this.refreshAt(entry), entry.retryAt);
    const timer = this.clock.setTimer(() => {
      if (this.scheduled.get(slot)?.timer === timer) this.scheduled.delete(slot);
      this.due(slot, entry);
    }, Math.max(0, at - now));
    this.scheduled.set(slot, { entry, timer });
  }

  /** When a wanted entry is refreshed: expiry minus the lead learned from upstream latency. */
  refreshAt(entry: DnsEntry): number {
    const ttlMs = entry.expiresAt - entry.resolvedAt;
    return entry.expiresAt - this.latency.leadMs(this.timing.prefetchRoundTrips, this.timing.minPrefetchLeadMs, ttlMs);
  }

  get size(): number {
    return this.scheduled.size;
  }

  close(): void {
    this.closed = true;
    for (const { timer } of this.scheduled.values()) this.clock.clearTimer(timer);
    this.scheduled.clear();
  }
}
