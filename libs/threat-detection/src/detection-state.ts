// What the rules need from PostgreSQL beyond the messages at hand, read fresh on every pass (threat data is never
// cached): which domains are monitored and their approved sources, each tenant's rule rows, the sources already
// seen, and the domain's counters (written by aggregation in its own, already committed, transaction).
import type { ApprovedSourceRef } from '@dmarc/policy-guidance';
import type { Queryable } from '@dmarc/store';
import type { DayTotals } from './chunk-rules';
import type { SourceTraffic } from './chunk-traffic';
import type { StoredRule } from './rule-settings';

/**
 * A monitored domain of a tenant, as the platform defines one (@dmarc/dns-watch): one the tenant registered, or one
 * its reports are about. `approved` is empty for a domain that is not registered: nothing can be approved for it.
 */
export interface MonitoredDomain {
  tenantId: string;
  domain: string;
  approved: ApprovedSourceRef[];
}

/** One key for a tenant and a domain (and more parts): NUL occurs in neither. */
export const keyOf = (...parts: string[]): string => parts.join('\u0000');

/** The pairs that are a tenant's monitored domains, with their approved sources; the others are absent. */
export async function loadMonitored(db: Queryable, pairs: ReadonlyArray<{ tenantId: string; domain: string }>): Promise<Map<string, MonitoredDomain>> {
  if (pairs.length === 0) return new Map();
  const { rows } = await db.query<{ tenant_id: string; name: string; approved: ApprovedSourceRef[] }>(
    `SELECT k.tenant_id, k.name,
            coalesce((SELECT json_agg(json_build_object('kind', a.kind, 'source', a.source)) FROM approved_sources a WHERE a.domain_id = d.id), '[]'::json) AS approved
       FROM (SELECT DISTINCT * FROM unnest($1::uuid[], $2::text[])) AS k(tenant_id, name)
       LEFT JOIN domains d ON d.tenant_id = k.tenant_id AND d.name = k.name
      WHERE d.id IS NOT NULL OR EXISTS (SELECT 1 FROM aggregate_reports r WHERE r.tenant_id = k.tenant_id AND r.domain = k.name)`,
    [pairs.map((p) => p.tenantId), pairs.map((p) => p.domain)],
    { name: 'threat-monitored-domains' },
  );
  return new Map(rows.map((r) => [keyOf(r.tenant_id, r.name), { tenantId: r.tenant_id, domain: r.name, approved: r.approved }]));
}

/** Each tenant's alert_rules rows (tenants without any are absent). */
export async function loadRuleRows(db: Queryable, tenantIds: readonly string[]): Promise<Map<string, StoredRule[]>> {
  const byTenant = new Map<string, StoredRule[]>();
  if (tenantIds.length === 0) return byTenant;
  const { rows } = await db.query<{ tenant_id: string; rule: string; enabled: boolean; thresholds: unknown }>(
    'SELECT tenant_id, rule, enabled, thresholds FROM alert_rules WHERE tenant_id = ANY($1::uuid[])',
    [[...new Set(tenantIds)]],
    { name: 'threat-rule-rows' },
  );
  for (const r of rows) byTenant.set(r.tenant_id, [...(byTenant.get(r.tenant_id) ?? []), { rule: r.rule, enabled: r.enabled, thresholds: r.thresholds }]);
  return byTenant;
}

/** Which of the asked source keys are already seen: per keyOf(tenant, domain), its keys found. */
export async function loadSeenKeys(db: Queryable, asked: ReadonlyArray<{ tenantId: string; domain: string; key: string }>): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  if (asked.length === 0) return out;
  const { rows } = await db.query<{ tenant_id: string; domain: string; source_key: string }>(
    `SELECT s.tenant_id, s.domain, s.source_key FROM alert_seen_sources s
       JOIN unnest($1::uuid[], $2::text[], $3::text[]) AS k(tenant_id, domain, source_key) USING (tenant_id, domain, source_key)`,
    [asked.map((a) => a.tenantId), asked.map((a) => a.domain), asked.map((a) => a.key)],
    { name: 'threat-seen-keys' },
  );
  for (const r of rows) {
    const id = keyOf(r.tenant_id, r.domain);
    let keys = out.get(id);
    if (!keys) out.set(id, (keys = new Set()));
    keys.add(r.source_key);
  }
  return out;
}

/** Most sources with failing mail read per domain and day: a flood of forwarders must not make the pass heavy. */
export const FAILING_SOURCES_PER_DAY = 2000;

/** Per keyOf(tenant, domain, day): the sources with failing mail that day, most failing first. */
export async function loadFailingSources(db: Queryable, asked: ReadonlyArray<{ tenantId: string; domain: string; day: string }>): Promise<Map<string, SourceTraffic[]>> {
  const out = new Map<string, SourceTraffic[]>();
  if (asked.length === 0) return out;
  const { rows } = await db.query<{ tenant_id: string; domain: string; day: string; source_ip: string; ptr: string | null; base_domain: string | null; messages: string; failing: string }>(
    `SELECT tenant_id, domain, day, source_ip, ptr, base_domain, messages, failing FROM (
       SELECT c.tenant_id, c.domain, c.day, c.source_ip, max(c.source_ptr) AS ptr, max(c.source_base_domain) AS base_domain,
              sum(c.messages) AS messages, sum(c.messages - c.dmarc_pass) AS failing,
              row_number() OVER (PARTITION BY c.tenant_id, c.domain, c.day ORDER BY sum(c.messages - c.dmarc_pass) DESC, c.source_ip) AS n
         FROM aggregate_counters c JOIN unnest($1::uuid[], $2::text[], $3::date[]) AS k(tenant_id, domain, day) USING (tenant_id, domain, day)
        WHERE c.messages > c.dmarc_pass
        GROUP BY c.tenant_id, c.domain, c.day, c.source_ip) t
      WHERE n <= $4::integer`,
    [asked.map((a) => a.tenantId), asked.map((a) => a.domain), asked.map((a) => a.day), FAILING_SOURCES_PER_DAY],
    { name: 'threat-failing-sources' },
  );
  for (const r of rows) {
    const key = keyOf(r.tenant_id, r.domain, r.day);
    const list = out.get(key) ?? [];
    list.push({ ip: r.source_ip, ptr: r.ptr, baseDomain: r.base_domain, messages: Number(r.messages), failing: Number(r.failing) });
    out.set(key, list);
  }
  return out;
}

/** Per keyOf(tenant, domain): the domain's totals per day within from..to (days without mail absent), from the per-day rollup aggregation keeps. */
export async function loadDayTotals(
  db: Queryable,
  asked: ReadonlyArray<{ tenantId: string; domain: string; from: string; to: string }>,
): Promise<Map<string, Map<string, DayTotals>>> {
  const out = new Map<string, Map<string, DayTotals>>();
  if (asked.length === 0) return out;
  const { rows } = await db.query<{ tenant_id: string; domain: string; day: string; messages: string; failing: string }>(
    `SELECT d.tenant_id, d.domain, d.day::text AS day, d.messages, d.failing
       FROM aggregate_domain_days d JOIN unnest($1::uuid[], $2::text[], $3::date[], $4::date[]) AS k(tenant_id, domain, day_from, day_to)
         ON d.tenant_id = k.tenant_id AND d.domain = k.domain AND d.day BETWEEN k.day_from AND k.day_to`,
    [asked.map((a) => a.tenantId), asked.map((a) => a.domain), asked.map((a) => a.from), asked.map((a) => a.to)],
    { name: 'threat-day-totals' },
  );
  for (const r of rows) {
    const key = keyOf(r.tenant_id, r.domain);
    const days = out.get(key) ?? new Map<string, DayTotals>();
    days.set(r.day, { messages: Number(r.messages), failing: Number(r.failing) });
    out.set(key, days);
  }
  return out;
}

/** keyOf(tenant, domain) of the pairs that already have an alert of `rule` whose dedupe window holds `at`: a new one would be swallowed. */
export async function loadAlerted(db: Queryable, rule: string, pairs: ReadonlyArray<{ tenantId: string; domain: string }>, at: number): Promise<Set<string>> {
  if (pairs.length === 0) return new Set();
  const { rows } = await db.query<{ tenant_id: string; domain: string }>(
    `SELECT DISTINCT a.tenant_id, a.domain FROM alerts a
       JOIN unnest($2::uuid[], $3::text[]) AS k(tenant_id, domain) ON a.tenant_id = k.tenant_id AND a.domain = k.domain
      WHERE a.rule = $1 AND a.window_start <= $4 AND a.window_end > $4`,
    [rule, pairs.map((p) => p.tenantId), pairs.map((p) => p.domain), new Date(at)],
    { name: 'threat-alerted' },
  );
  return new Set(rows.map((r) => keyOf(r.tenant_id, r.domain)));
}
