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
 * spellings as the counters, computed once). Duplicate reports count nothing, as in the counters.
 */
export function trafficByDomain<T>(chunks: ReadonlyArray<{ counts: ChunkCounts; trace?: T }>): Array<DomainTraffic<T>> {
  const byDomain = new Map<string, DomainTraffic<T> & { byIp: Map<string, SourceTraffic> }>();
  for (const { counts, trace } of chunks) {
    if (counts.duplicateOf !== null || counts.counters.length === 0) continue;
    const id = `${counts.tenantId}\u0000${counts.domain}`;
    let traffic = byDomain.get(id);
    if (!traffic) {
      traffic = { tenantId: counts.tenantId, domain: counts.domain, reportIds: [], days: [], failingDays: [], sources: [], trace, byIp: new Map() };
      byDomain.set(id, traffic);
    }
    if (!traffic.reportIds.includes(counts.reportId)) traffic.reportIds.push(counts.reportId);
    if (!traffic.days.includes(counts.day)) traffic.days.push(counts.day);
    for (const c of counts.counters) {
      let source = traffic.byIp.get(c.sourceIp);
      if (!source) {
        source = { ip: c.sourceIp, ptr: c.ptr, baseDomain: c.baseDomain, messages: 0, failing: 0 };
        traffic.byIp.set(c.sourceIp, source);
        traffic.sources.push(source);
      }
      source.ptr ??= c.ptr;
      source.baseDomain ??= c.baseDomain;
      source.messages += c.messages;
      source.failing += c.messages - c.dmarcPass;
      if (c.messages > c.dmarcPass && !traffic.failingDays.includes(counts.day)) traffic.failingDays.push(counts.day);
    }
  }
  return [...byDomain.values()].map(({ byIp: _byIp, ...traffic }) => traffic);
}
