import type { ChunkCounts } from '@dmarc/aggregates';

/** What one source sent for a domain, as the rules see it. */
export interface SourceTraffic {
  /** As aggregation stores it (IPv6 compressed, lower-case), so it matches the counters. */
  ip: string;
  ptr: string | null;
  baseDomain: string | null;
  messages: number;
  /** Messages failing both DKIM and SPF alignment (DMARC fail). */
  failing: number;
}

/** The chunks of one detection pass for one tenant and domain, merged per source. */
export interface DomainTraffic<T = unknown> {
  tenantId: string;
  domain: string;
  reportIds: string[];
  /** Report days (UTC) of the chunks, and those of them with failing mail. */
  days: string[];
  failingDays: string[];
  sources: SourceTraffic[];
  /** The trace of the first chunk: the alert continues it. */
  trace?: T;
}

/**
 * Merges chunks per tenant and domain from aggregation's own counts of them (the same domain, day and address
 * spellings as the counters, computed once). Duplicate reports count nothing, as in the counters. A domain's
 * `sources` are merged when first read: a pass whose rules have nothing left to ask of a domain's sources (its
 * spoofing alert of the window raised, its new-source rule resting) never builds them.
 */
export function trafficByDomain<T>(chunks: ReadonlyArray<{ counts: ChunkCounts; trace?: T }>): Array<DomainTraffic<T>> {
  const byDomain = new Map<string, { traffic: Omit<DomainTraffic<T>, 'sources'>; counts: ChunkCounts[] }>();
  for (const { counts, trace } of chunks) {
    if (counts.duplicateOf !== null || counts.counters.length === 0) continue;
    const id = `${counts.tenantId}\u0000${counts.domain}`;
    let entry = byDomain.get(id);
    if (!entry) {
      entry = { traffic: { tenantId: counts.tenantId, domain: counts.domain, reportIds: [], days: [], failingDays: [], trace }, counts: [] };
      byDomain.set(id, entry);
    }
    const { traffic } = entry;
    entry.counts.push(counts);
    if (!traffic.reportIds.includes(counts.reportId)) traffic.reportIds.push(counts.reportId);
    if (!traffic.days.includes(counts.day)) traffic.days.push(counts.day);
    if (!traffic.failingDays.includes(counts.day) && counts.counters.some((c) => c.messages > c.dmarcPass)) traffic.failingDays.push(counts.day);
  }
  return [...byDomain.values()].map(({ traffic, counts }) => {
    let sources: SourceTraffic[] | undefined;
    return Object.defineProperty(traffic, 'sources', { enumerable: true, get: () => (sources ??= mergeSources(counts)) }) as DomainTraffic<T>;
  });
}

// One entry per source IP across the chunks, in the order they first appear.
function mergeSources(chunks: readonly ChunkCounts[]): SourceTraffic[] {
  const byIp = new Map<string, SourceTraffic>();
  for (const counts of chunks) {
    for (const c of counts.counters) {
      let source = byIp.get(c.sourceIp);
      if (!source) {
        source = { ip: c.sourceIp, ptr: c.ptr, baseDomain: c.baseDomain, messages: 0, failing: 0 };
        byIp.set(c.sourceIp, source);
      }
      source.ptr ??= c.ptr;
      source.baseDomain ??= c.baseDomain;
      source.messages += c.messages;
      source.failing += c.messages - c.dmarcPass;
    }
  }
  return [...byIp.values()];
}
