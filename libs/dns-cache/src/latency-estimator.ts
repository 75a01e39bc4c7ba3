// How far ahead of expiry a wanted name is refreshed: a few upstream round trips, learned from the
// measured latency the way TCP learns its retransmission timeout (RFC 6298: smoothed RTT plus four
// deviations), so a slow or jittery upstream gets a longer lead and a fast one hardly any.

export class LatencyEstimator {
  private srtt = 0;
  private rttvar = 0;
  private samples = 0;

  observe(ms: number): void {
    if (!(ms >= 0)) return;
    if (this.samples++ === 0) {
      this.srtt = ms;
      this.rttvar = ms / 2;
      return;
    }
    this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - ms);
    this.srtt = 0.875 * this.srtt + 0.125 * ms;
  }

  /** A conservative round trip: smoothed latency plus four deviations (0 before the first sample). */
  roundTripMs(): number {
    return this.srtt + 4 * this.rttvar;
  }

  /** The lead before expiry at which to refresh an entry with `ttlMs`, never more than a tenth of the TTL. */
  leadMs(roundTrips: number, minLeadMs: number, ttlMs: number): number {
    return Math.min(Math.max(minLeadMs, roundTrips * this.roundTripMs()), ttlMs / 10);
  }
}
