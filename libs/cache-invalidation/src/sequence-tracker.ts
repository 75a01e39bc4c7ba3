/**
 * The last sequence applied per message key (tenantId:domain), so a change older than one already applied is
 * ignored: for drops it would be harmless, but a write-through of an older value would not be. Bounded: past
 * `maxKeys` the oldest tenth is forgotten, which costs at most one harmless re-application.
 */
export class SequenceTracker {
  private readonly last = new Map<string, number>();

  constructor(private readonly maxKeys = 100_000) {}

  /** True when `sequence` is not newer than what was applied for `key`. */
  isStale(key: string, sequence: number): boolean {
    const seen = this.last.get(key);
    return seen !== undefined && sequence <= seen;
  }

  /** Recorded only once the change is applied: a failed one must be applied again when redelivered. */
  applied(key: string, sequence: number): void {
    const seen = this.last.get(key);
    if (seen !== undefined && seen >= sequence) return;
    // Re-inserted so the Map's order is the order of last use.
    this.last.delete(key);
    this.last.set(key, sequence);
    if (this.last.size > this.maxKeys) {
      let drop = Math.ceil(this.maxKeys / 10);
      for (const k of this.last.keys()) {
        if (drop-- <= 0) break;
        this.last.delete(k);
      }
    }
  }

  get size(): number {
    return this.last.size;
  }
}
