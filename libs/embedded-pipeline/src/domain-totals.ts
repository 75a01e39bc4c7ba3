import type { Queryable } from '@dmarc/store';

export interface DomainTotals {
  domain: string;
  reports: number;
  messages: number;
  dmarcPass: number;
  dkimAligned: number;
  spfAligned: number;
  quarantined: number;
  rejected: number;
  /** dmarcPass / messages; null without messages. */
  complianceRate: number | null;
  firstDay: string;
  lastDay: string;
  /** The source that sent the most messages, with its count. */
  topSource: { ip: string; messages: number } | null;
}

const num = (v: string | number | null) => (v === null ? 0 : Number(v));

/** Every domain of a tenant over all days: what `dmarc analyze` prints. */
export async function domainTotals(db: Queryable, tenantId: string): Promise<DomainTotals[]> {
  const { rows } = await db.query<Record<string, string | null>>(
    `WITH per_source AS (
       SELECT domain, source_ip, sum(messages) AS messages FROM aggregate_counters WHERE tenant_id = $1 GROUP BY domain, source_ip),
     top AS (
       SELECT DISTINCT ON (domain) domain, source_ip, messages FROM per_source ORDER BY domain, messages DESC, source_ip)
     SELECT c.domain, sum(c.messages) AS messages, sum(c.dmarc_pass) AS dmarc_pass, sum(c.dkim_aligned) AS dkim_aligned,
            sum(c.spf_aligned) AS spf_aligned, sum(c.disposition_quarantine) AS quarantined, sum(c.disposition_reject) AS rejected,
            min(c.day)::text AS first_day, max(c.day)::text AS last_day,
            (SELECT count(*) FROM aggregate_reports r WHERE r.tenant_id = $1 AND r.domain = c.domain AND r.duplicate_of IS NULL) AS reports,
            max(top.source_ip) AS top_ip, max(top.messages) AS top_messages
       FROM aggregate_counters c JOIN top ON top.domain = c.domain
      WHERE c.tenant_id = $1
      GROUP BY c.domain ORDER BY sum(c.messages) DESC, c.domain`,
    [tenantId],
  );
  return rows.map((r) => {
    const messages = num(r.messages);
    const dmarcPass = num(r.dmarc_pass);
    return {
      domain: r.domain!,
      reports: num(r.reports),
      messages,
      dmarcPass,
      dkimAligned: num(r.dkim_aligned),
      spfAligned: num(r.spf_aligned),
      quarantined: num(r.quarantined),
      rejected: num(r.rejected),
      complianceRate: messages > 0 ? dmarcPass / messages : null,
      firstDay: r.first_day!,
      lastDay: r.last_day!,
      topSource: r.top_ip ? { ip: r.top_ip, messages: num(r.top_messages) } : null,
    };
  });
}
