// The figures guidance and proposals are computed from, read from PostgreSQL: one statement sums the domain's
// counters per source over the window (every source, so no approved source is left out however small), one
// reads the policy its reports saw published. The tenant's own configuration comes from @dmarc/tenant-admin.
import { resolveDayRange, type DayRange } from '@dmarc/aggregates';
import type { Queryable } from '@dmarc/store';
import { getDomain, listSources } from '@dmarc/tenant-admin';
import type { CurrentPolicy, DomainFigures, PolicyValue, SourceFigures } from './domain-figures';
import { resolveThresholds, type GuidanceThresholds } from './guidance-thresholds';
import { evaluateGuidance, type DomainGuidance } from './policy-evaluator';
import { proposeSources, type DomainProposals } from './source-proposals';

export interface GuidanceQuery {
  tenantId: string;
  /** A registered domain of the tenant, as parseDomainName returns it. */
  domain: string;
  /** Now, epoch ms: the window ends on its UTC day. */
  now: number;
  thresholds?: Partial<GuidanceThresholds>;
}

/** The window of `windowDays` days ending today (UTC). */
export function guidanceWindow(now: number, thresholds?: Partial<GuidanceThresholds>): DayRange {
  const { windowDays } = resolveThresholds(thresholds);
  return resolveDayRange(undefined, undefined, { now, defaultDays: windowDays, maxDays: windowDays });
}

type Sums = Record<'messages' | 'dmarc_pass' | 'dkim_aligned' | 'spf_aligned' | 'days', string>;
interface SourceRow extends Sums {
  source_ip: string;
  ptr: string | null;
  base_domain: string | null;
  first_day: string;
  last_day: string;
  worst_day_dkim_rate: number | null;
  domain_days: string;
}

// Per source and day first, so a source's days, its steadiest and worst day, and the domain's days with data come
// out of the one scan. tenant_id leads every key of aggregate_counters: the read is one tenant's range.
const SOURCES_SQL = `
WITH per_day AS (
  SELECT source_ip, day, sum(messages) AS messages, sum(dmarc_pass) AS dmarc_pass, sum(dkim_aligned) AS dkim_aligned,
         sum(spf_aligned) AS spf_aligned, max(source_ptr) AS ptr, max(source_base_domain) AS base_domain
    FROM aggregate_counters
   WHERE tenant_id = $1::uuid AND domain = $2 AND day BETWEEN $3::date AND $4::date
   GROUP BY source_ip, day
  HAVING sum(messages) > 0
)
SELECT source_ip, sum(messages) AS messages, sum(dmarc_pass) AS dmarc_pass, sum(dkim_aligned) AS dkim_aligned,
       sum(spf_aligned) AS spf_aligned, count(*) AS days, min(day)::text AS first_day, max(day)::text AS last_day,
       min(dkim_aligned::float8 / messages) AS worst_day_dkim_rate,
       (array_agg(ptr ORDER BY day DESC) FILTER (WHERE ptr IS NOT NULL))[1] AS ptr,
       (array_agg(base_domain ORDER BY day DESC) FILTER (WHERE base_domain IS NOT NULL))[1] AS base_domain,
       (SELECT count(DISTINCT day) FROM per_day) AS domain_days
  FROM per_day
 GROUP BY source_ip
 ORDER BY sum(messages) DESC, source_ip`;

const REPORTED_POLICY_SQL = `SELECT p, pct FROM aggregate_policies
  WHERE tenant_id = $1::uuid AND domain = $2 AND day BETWEEN $3::date AND $4::date AND p IN ('none', 'quarantine', 'reject')
  ORDER BY day DESC LIMIT 1`;

export interface WindowFigures {
  figures: DomainFigures;
  /** The latest policy the domain's reports saw published in the window, or null. */
  reportedPolicy: { p: PolicyValue; pct: number } | null;
}

/** The domain's per-source figures over `window`, and the policy its reports saw: two statements. */
export async function loadWindowFigures(db: Queryable, tenantId: string, domain: string, window: DayRange): Promise<WindowFigures> {
  const params = [tenantId, domain, window.from, window.to];
  const [sources, policy] = await Promise.all([db.query<SourceRow>(SOURCES_SQL, params), db.query<{ p: PolicyValue; pct: number | null }>(REPORTED_POLICY_SQL, params)]);
  const reported = policy.rows[0];
  return {
    figures: {
      domain,
      from: window.from,
      to: window.to,
      daysWithData: sources.rows.length === 0 ? 0 : Number(sources.rows[0].domain_days),
      sources: sources.rows.map(sourceFigures),
    },
    reportedPolicy: reported ? { p: reported.p, pct: reported.pct ?? 100 } : null,
  };
}

// Sums of bigint columns come back as numeric text; counts stay far below 2^53.
function sourceFigures(r: SourceRow): SourceFigures {
  return {
    sourceIp: r.source_ip,
    ptr: r.ptr,
    baseDomain: r.base_domain,
    messages: Number(r.messages),
    dmarcPass: Number(r.dmarc_pass),
    dkimAligned: Number(r.dkim_aligned),
    spfAligned: Number(r.spf_aligned),
    days: Number(r.days),
    firstDay: r.first_day,
    lastDay: r.last_day,
    worstDayDkimRate: r.worst_day_dkim_rate === null ? null : Number(r.worst_day_dkim_rate),
  };
}

/** The guidance of a tenant's domain; NotFoundError (404) when the domain is not the tenant's. */
export async function domainGuidance(db: Queryable, query: GuidanceQuery): Promise<DomainGuidance> {
  const window = guidanceWindow(query.now, query.thresholds);
  const [domain, approved, { figures, reportedPolicy }] = await Promise.all([
    getDomain(db, query.tenantId, query.domain),
    listSources(db, query.tenantId, query.domain),
    loadWindowFigures(db, query.tenantId, query.domain, window),
  ]);
  const policy: CurrentPolicy = domain.policy
    ? { p: domain.policy.p, pct: domain.policy.pct, origin: 'configured' }
    : reportedPolicy
      ? { ...reportedPolicy, origin: 'reported' }
      : { p: 'none', pct: 100, origin: 'unknown' };
  return evaluateGuidance({ figures, approved, policy, thresholds: query.thresholds });
}

/** The source proposals of a tenant's domain; NotFoundError (404) when the domain is not the tenant's. */
export async function domainProposals(db: Queryable, query: GuidanceQuery): Promise<DomainProposals> {
  const [approved, { figures }] = await Promise.all([
    listSources(db, query.tenantId, query.domain),
    loadWindowFigures(db, query.tenantId, query.domain, guidanceWindow(query.now, query.thresholds)),
  ]);
  return proposeSources({ figures, approved, thresholds: query.thresholds });
}
