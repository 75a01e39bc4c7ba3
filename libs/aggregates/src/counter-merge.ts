import type { ChunkCounts, CounterDelta } from './chunk-counts';

/** The counters of one tenant, domain and day, summed per (source IP, header-from), and the chunk they are written under. */
export interface MergedCounters {
  /** Position in the batch of the first chunk of that tenant, domain and day: the statement reads those from it. */
  item: number;
  /** One delta per (source IP, header-from), in the order first seen. */
  counters: CounterDelta[];
}

// NUL cannot occur in a tenant id, a normalised domain, a day, an IP or a header-from domain: no two keys join into one.
const SEP = '\u0000';

/**
 * Sums the counter deltas of several chunks per counter key (tenant, domain, day, source IP, header-from), so
 * a batch of many reports about the same senders upserts each counter row once. Pure. A source's name is the
 * last one a chunk gave (a later chunk's enrichment is the fresher), never erased by a chunk without one.
 */
export function mergeCounters(chunks: ReadonlyArray<ChunkCounts>): MergedCounters[] {
  const groups = new Map<string, { item: number; byKey: Map<string, CounterDelta> }>();
  chunks.forEach((c, item) => {
    if (c.counters.length === 0) return;
    const groupKey = c.tenantId + SEP + c.domain + SEP + c.day;
    let group = groups.get(groupKey);
    if (!group) groups.set(groupKey, (group = { item, byKey: new Map() }));
    for (const d of c.counters) {
      const key = d.sourceIp + SEP + d.headerFrom;
      const sum = group.byKey.get(key);
      if (!sum) {
        // A copy: the chunk's own delta must stay as it was (the exact path may still need it).
        group.byKey.set(key, { ...d });
        continue;
      }
      sum.messages += d.messages;
      sum.none += d.none;
      sum.quarantine += d.quarantine;
      sum.reject += d.reject;
      sum.pass += d.pass;
      sum.dkimAligned += d.dkimAligned;
      sum.spfAligned += d.spfAligned;
      sum.dmarcPass += d.dmarcPass;
      if (d.ptr !== null) sum.ptr = d.ptr;
      if (d.baseDomain !== null) sum.baseDomain = d.baseDomain;
    }
  });
  return [...groups.values()].map(({ item, byKey }) => ({ item, counters: [...byKey.values()] }));
}
