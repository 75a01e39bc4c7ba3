/**
 * Per domain (keyOf(tenant, domain)), how many never-seen source keys it may still bring to the new-source rule in the
 * current hour, in this process. Past it the domain is in a flood and the rule rests for it until the next hour.
 * Bounded: forgets every domain when it holds `maxDomains` of them.
 */
export class HourlyKeyBudget {
  private byDomain = new Map<string, { hour: number; used: number; warned: boolean }>();

  constructor(
    private readonly perHour: number,
    private readonly now: () => number,
    /** Called once per domain and hour, the first time it asks for more than is left. */
    private readonly onExhausted: (domainId: string) => void,
    private readonly maxDomains: number,
  ) {}

  /** Whether the domain has used the whole of this hour's budget. */
  spent(domainId: string): boolean {
    return this.entry(domainId).used >= this.perHour;
  }

  /** Takes up to `wanted` keys from the domain's budget; how many it got. */
  take(domainId: string, wanted: number): number {
    const entry = this.entry(domainId);
    const granted = Math.max(0, Math.min(wanted, this.perHour - entry.used));
    entry.used += granted;
    if (granted < wanted && !entry.warned) {
      entry.warned = true;
      this.onExhausted(domainId);
    }
    return granted;
  }

  private entry(domainId: string): { hour: number; used: number; warned: boolean } {
    const hour = Math.floor(this.now() / 3_600_000);
    let entry = this.byDomain.get(domainId);
    if (!entry || entry.hour !== hour) {
      if (this.byDomain.size >= this.maxDomains) this.byDomain = new Map();
      entry = { hour, used: 0, warned: false };
      this.byDomain.set(domainId, entry);
    }
    return entry;
  }
}
