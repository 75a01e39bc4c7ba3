import type { Queryable } from '@dmarc/store';
import { normaliseDomain, type PolicySeen } from './chunk-counts';
import { daysOf, type DayRange } from './day-range';

export interface Dispositions {
  none: number;
  quarantine: number;
  reject: number;
  pass: number;
}

export interface Counts {
  messages: number;
  dmarcPass: number;
  dkimAligned: number;
  spfAligned: number;
  dispositions: Dispositions;
}

export interface DayCounts extends Counts {
  day: string;
  /** dmarcPass / messages; null on a day without messages. */
  complianceRate: number | null;
}

export interface SourceCounts extends Counts {
  sourceIp: string;
  /** Its PTR name as the DNS service last found it in the range (null without the DNS service, or no name). */
  ptr: string | null;
  /** That name's base domain (public suffix + 1), e.g. google.com; null likewise. */
  baseDomain: string | null;
  /** dmarcPass / messages. */
  passRate: number | null;
  /** The header-from domains this source sent as, sorted. */
  headerFroms: string[];
}

export interface PolicyOfDay extends PolicySeen {
  day: string;
}

export interface DomainSummary {
  domain: string;
  from: string;
  to: string;
  totals: Counts;
  /** dmarcPass / messages over the range; null without messages. */
  complianceRate: number | null;
  /** Every day of the range, days without reports at zero. */
  days: DayCounts[];
  topSources: SourceCounts[];
  /** The latest policy seen in the range, or null. */
  policy: PolicyOfDay | null;
  /** Reports counted in the range (duplicates excluded), and how many have all their chunks in. */
  reports: { count: number; complete: number };
}

export interface DomainSources {
  domain: string;
  from: string;
  to: string;
  /** Distinct sources in the range; more than `sources.length` when the limit cut the list. */
  total: number;
  sources: SourceCounts[];
}

export interface DomainQuery extends DayRange {
  tenantId: string;
  domain: string;
}

// Sums of bigint columns come back as numeric strings; counts stay far below 2^53.
const SUMS = `sum(messages) AS messages, sum(dmarc_pass) AS dmarc_pass, sum(dkim_aligned) AS dkim_aligned,
  sum(spf_aligned) AS spf_aligned, sum(disposition_none) AS d_none, sum(disposition_quarantine) AS d_quarantine,
  sum(disposition_reject) AS d_reject, sum(disposition_pass) AS d_pass`;
// Every read is one tenant's: tenant_id is the first column of every key and of every WHERE here.
const SCOPE = 'tenant_id = $1::uuid AND domain = $2 AND day BETWEEN $3::date AND $4::date';

type SumRow = Record<'messages' | 'dmarc_pass' | 'dkim_aligned' | 'spf_aligned' | 'd_none' | 'd_quarantine' | 'd_reject' | 'd_pass', string | null>;

/** Totals, compliance, the daily series, top sources and the policy of one domain over a day range. */
export async function domainSummary(db: Queryable, query: DomainQuery & { top: number }): Promise<DomainSummary> {
  const scope = [query.tenantId, normaliseDomain(query.domain), query.from, query.to];
  const [perDay, top, policy, reports] = await Promise.all([
    db.query<SumRow & { day: string }>(`SELECT day, ${SUMS} FROM aggregate_counters WHERE ${SCOPE} GROUP BY day`, scope),
    sourcesQuery(db, scope, query.top),
    db.query<PolicyOfDay>(
      `SELECT day, p, sp, np, pct, adkim, aspf, fo, testing FROM aggregate_policies WHERE ${SCOPE} ORDER BY day DESC LIMIT 1`,
      scope,
    ),
    db.query<{ count: string; complete: string }>(
      `SELECT count(*) AS count, count(completed_at) AS complete FROM aggregate_reports WHERE ${SCOPE} AND duplicate_of IS NULL`,
      scope,
    ),
  ]);
  const byDay = new Map(perDay.rows.map((r) => [r.day, countsOf(r)]));
  const days = daysOf(query).map((day): DayCounts => {
    const counts = byDay.get(day) ?? zero();
    return { day, ...counts, complianceRate: rate(counts.dmarcPass, counts.messages) };
  });
  const totals = days.reduce((sum, d) => add(sum, d), zero());
  return {
    domain: normaliseDomain(query.domain),
    from: query.from,
    to: query.to,
    totals,
    complianceRate: rate(totals.dmarcPass, totals.messages),
    days,
    topSources: top.sources,
    policy: policy.rows[0] ?? null,
    reports: { count: Number(reports.rows[0].count), complete: Number(reports.rows[0].complete) },
  };
}

/** Every source of one domain over a day range, most messages first, with its counts. */
export async function domainSources(db: Queryable, query: DomainQuery & { limit: number }): Promise<DomainSources> {
  const { total, sources } = await sourcesQuery(db, [query.tenantId, normaliseDomain(query.domain), query.from, query.to], query.limit);
  return { domain: normaliseDomain(query.domain), from: query.from, to: query.to, total, sources };
}

async function sourcesQuery(db: Queryable, scope: unknown[], limit: number): Promise<{ total: number; sources: SourceCounts[] }> {
  const { rows } = await db.query<SumRow & { source_ip: string; header_froms: string[]; total: string; ptr: string | null; base_domain: string | null }>(
    `SELECT source_ip, ${SUMS}, array_agg(DISTINCT header_from ORDER BY header_from) AS header_froms, count(*) OVER () AS total,
            (array_agg(source_ptr ORDER BY day DESC) FILTER (WHERE source_ptr IS NOT NULL))[1] AS ptr,
            (array_agg(source_base_domain ORDER BY day DESC) FILTER (WHERE source_base_domain IS NOT NULL))[1] AS base_domain
       FROM aggregate_counters WHERE ${SCOPE}
      GROUP BY source_ip ORDER BY sum(messages) DESC, source_ip LIMIT $5`,
    [...scope, limit],
  );
  return {
    total: rows.length === 0 ? 0 : Number(rows[0].total),
    sources: rows.map((r) => {
      const counts = countsOf(r);
      return {
        sourceIp: r.source_ip,
        ptr: r.ptr ?? null,
        baseDomain: r.base_domain ?? null,
        ...counts,
        passRate: rate(counts.dmarcPass, counts.messages),
        headerFroms: r.header_froms,
      };
    }),
  };
}

function countsOf(r: SumRow): Counts {
  return {
    messages: Number(r.messages ?? 0),
    dmarcPass: Number(r.dmarc_pass ?? 0),
    dkimAligned: Number(r.dkim_aligned ?? 0),
    spfAligned: Number(r.spf_aligned ?? 0),
    dispositions: { none: Number(r.d_none ?? 0), quarantine: Number(r.d_quarantine ?? 0), reject: Number(r.d_reject ?? 0), pass: Number(r.d_pass ?? 0) },
  };
}

function zero(): Counts {
  return { messages: 0, dmarcPass: 0, dkimAligned: 0, spfAligned: 0, dispositions: { none: 0, quarantine: 0, reject: 0, pass: 0 } };
}

function add(a: Counts, b: Counts): Counts {
  return {
    messages: a.messages + b.messages,
    dmarcPass: a.dmarcPass + b.dmarcPass,
    dkimAligned: a.dkimAligned + b.dkimAligned,
    spfAligned: a.spfAligned + b.spfAligned,
    dispositions: {
      none: a.dispositions.none + b.dispositions.none,
      quarantine: a.dispositions.quarantine + b.dispositions.quarantine,
      reject: a.dispositions.reject + b.dispositions.reject,
      pass: a.dispositions.pass + b.dispositions.pass,
    },
  };
}

function rate(part: number, whole: number): number | null {
  return whole === 0 ? null : part / whole;
}
