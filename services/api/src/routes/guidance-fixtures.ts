// Test support (not a test): a domain's aggregate_counters rows as the aggregation service would have written
// them, one statement for all rows, days counted back from a given UTC day.
import type { Queryable } from '@dmarc/store';

export interface SeededSource {
  sourceIp: string;
  /** Days back from `today` it sent on: 0 is today. */
  days: number[];
  /** Per day. */
  messages: number;
  dkimAligned: number;
  spfAligned: number;
  ptr?: string;
  baseDomain?: string;
}

const DAY_MS = 86_400_000;
export const utcDayOf = (now: number, back = 0): string => new Date(now - back * DAY_MS).toISOString().slice(0, 10);

/** DMARC pass is DKIM or SPF aligned: with these fixtures every SPF-aligned message is DKIM-aligned too, or the other way round. */
export async function seedCounters(db: Queryable, tenantId: string, domain: string, now: number, sources: SeededSource[]): Promise<void> {
  const rows = sources.flatMap((s) => s.days.map((back) => ({ ...s, day: utcDayOf(now, back) })));
  await db.query(
    `INSERT INTO aggregate_counters (tenant_id, domain, day, source_ip, header_from, messages, dkim_aligned, spf_aligned, dmarc_pass, disposition_none, source_ptr, source_base_domain)
     SELECT $1::uuid, $2, day::date, ip, $2, m, dkim, spf, GREATEST(dkim, spf), m, ptr, base
       FROM unnest($3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[], $8::text[], $9::text[]) AS r(day, ip, m, dkim, spf, ptr, base)`,
    [
      tenantId,
      domain,
      rows.map((r) => r.day),
      rows.map((r) => r.sourceIp),
      rows.map((r) => r.messages),
      rows.map((r) => r.dkimAligned),
      rows.map((r) => r.spfAligned),
      rows.map((r) => r.ptr ?? null),
      rows.map((r) => r.baseDomain ?? null),
    ],
  );
}

/** 0, 1, ... n-1: the last n days. */
export const lastDays = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
