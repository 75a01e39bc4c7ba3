// What the rules need from PostgreSQL beyond the messages at hand, read fresh on every pass (threat data is never
// cached): which domains are monitored and their approved sources, each tenant's rule rows, the sources already
// seen, and the domain's counters (written by aggregation earlier in the same transaction). Each read is a query and
// what to make of its rows, so that reads that do not depend on each other go to PostgreSQL as one statement
// (`readAll`): a pass costs round trips, and each one waits for a core on a busy machine.
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

/** One read: its name, its query (parameters numbered from $1), and what its rows become. */
export interface StateRead<T> {
  readonly name: string;
  readonly sql: string;
  readonly params: readonly unknown[];
  collect(rows: ReadonlyArray<Record<string, unknown>>): T;
}

type Results<R extends readonly (StateRead<unknown> | undefined)[]> = { [K in keyof R]: R[K] extends StateRead<infer T> ? T : R[K] extends StateRead<infer T> | undefined ? T | undefined : never };

/**
 * Runs independent reads as one statement: each becomes `SELECT <n>, to_json(row)` over its query (its parameters
 * renumbered after the previous reads'), joined by UNION ALL, and gets back its own rows as JSON values (bigint and
 * date columns should be read as text by the query where their exact value matters). An undefined read (nothing to
 * ask) is left out and gives undefined; none at all costs no round trip. The statement is prepared once per
 * connection under the reads' names joined.
 */
export async function readAll<R extends readonly (StateRead<unknown> | undefined)[]>(db: Queryable, reads: R): Promise<Results<R>> {
  const asked = reads.flatMap((read, slot) => (read ? [{ read, slot }] : []));
  const out: unknown[] = reads.map(() => undefined);
  if (asked.length === 1) out[asked[0].slot] = await readOne(db, asked[0].read);
  if (asked.length > 1) {
    const params: unknown[] = [];
    const parts = asked.map(({ read }, i) => {
      const offset = params.length;
      params.push(...read.params);
      const sql = read.sql.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + offset}`);
      return `SELECT ${i}::integer AS read, to_json(r) AS row FROM (${sql}) r`;
    });
    const name = `threat-${asked.map(({ read }) => read.name).join('+')}`;
    const { rows } = await db.query<{ read: number; row: Record<string, unknown> }>(parts.join('\nUNION ALL\n'), params, { name });
    const byRead = asked.map((): Array<Record<string, unknown>> => []);
    for (const r of rows) byRead[r.read].push(r.row);
    asked.forEach(({ read, slot }, i) => (out[slot] = read.collect(byRead[i])));
  }
  return out as Results<R>;
}

/** One read alone, as its own statement. */
export async function readOne<T>(db: Queryable, read: StateRead<T>): Promise<T> {
  const { rows } = await db.query<Record<string, unknown>>(read.sql, [...read.params], { name: `threat-${read.name}` });
  return read.collect(rows);
}

/** The pairs that are a tenant's monitored domains, with their approved sources; the others are absent. */
export function monitoredRead(pairs: ReadonlyArray<{ tenantId: string; domain: string }>): StateRead<Map<string, MonitoredDomain>> {
  return {
    name: 'monitored-domains',
    sql: `SELECT k.tenant_id, k.name,
            coalesce((SELECT json_agg(json_build_object('kind', a.kind, 'source', a.source)) FROM approved_sources a WHERE a.domain_id = d.id), '[]'::json) AS approved
       FROM (SELECT DISTINCT * FROM unnest($1::uuid[], $2::text[])) AS k(tenant_id, name)
       LEFT JOIN domains d ON d.tenant_id = k.tenant_id AND d.name = k.name
      WHERE d.id IS NOT NULL OR EXISTS (SELECT 1 FROM aggregate_reports r WHERE r.tenant_id = k.tenant_id AND r.domain = k.name)`,
    params: [pairs.map((p) => p.tenantId), pairs.map((p) => p.domain)],
    collect: (rows) =>
      new Map(
        (rows as Array<{ tenant_id: string; name: string; approved: ApprovedSourceRef[] }>).map((r) => [
          keyOf(r.tenant_id, r.name),
          { tenantId: r.tenant_id, domain: r.name, approved: r.approved },
        ]),
      ),
  };
}

/** Each tenant's alert_rules rows (tenants without any are absent). */
export function ruleRowsRead(tenantIds: readonly string[]): StateRead<Map<string, StoredRule[]>> {
  return {
    name: 'rule-rows',
    sql: 'SELECT tenant_id, rule, enabled, thresholds FROM alert_rules WHERE tenant_id = ANY($1::uuid[])',
    params: [[...new Set(tenantIds)]],
    collect: (rows) => {
      const byTenant = new Map<string, StoredRule[]>();
      for (const r of rows as Array<{ tenant_id: string; rule: string; enabled: boolean; thresholds: unknown }>) {
        byTenant.set(r.tenant_id, [...(byTenant.get(r.tenant_id) ?? []), { rule: r.rule, enabled: r.enabled, thresholds: r.thresholds }]);
      }
      return byTenant;
    },
  };
}

/** Which of the asked source keys are already seen: per keyOf(tenant, domain), its keys found. */
export function seenKeysRead(asked: ReadonlyArray<{ tenantId: string; domain: string; key: string }>): StateRead<Map<string, Set<string>>> {
  return {
    name: 'seen-keys',
    sql: `SELECT s.tenant_id, s.domain, s.source_key FROM alert_seen_sources s
       JOIN unnest($1::uuid[], $2::text[], $3::text[]) AS k(tenant_id, domain, source_key) USING (tenant_id, domain, source_key)`,
    params: [asked.map((a) => a.tenantId), asked.map((a) => a.domain), asked.map((a) => a.key)],
    collect: (rows) => {
      const out = new Map<string, Set<string>>();
      for (const r of rows as Array<{ tenant_id: string; domain: string; source_key: string }>) {
        const id = keyOf(r.tenant_id, r.domain);
        let keys = out.get(id);
        if (!keys) out.set(id, (keys = new Set()));
        keys.add(r.source_key);
      }
      return out;
    },
  };
}

/** Most sources with failing mail read per domain and day: a flood of forwarders must not make the pass heavy. */
export const FAILING_SOURCES_PER_DAY = 2000;

/** Per keyOf(tenant, domain, day): the sources with failing mail that day, most failing first. */
export function failingSourcesRead(asked: ReadonlyArray<{ tenantId: string; domain: string; day: string }>): StateRead<Map<string, SourceTraffic[]>> {
  return {
    name: 'failing-sources',
    sql: `SELECT tenant_id, domain, day::text AS day, source_ip, ptr, base_domain, messages::text AS messages, failing::text AS failing FROM (
       SELECT c.tenant_id, c.domain, c.day, c.source_ip, max(c.source_ptr) AS ptr, max(c.source_base_domain) AS base_domain,
              sum(c.messages) AS messages, sum(c.messages - c.dmarc_pass) AS failing,
              row_number() OVER (PARTITION BY c.tenant_id, c.domain, c.day ORDER BY sum(c.messages - c.dmarc_pass) DESC, c.source_ip) AS n
         FROM aggregate_counters c JOIN unnest($1::uuid[], $2::text[], $3::date[]) AS k(tenant_id, domain, day) USING (tenant_id, domain, day)
        WHERE c.messages > c.dmarc_pass
        GROUP BY c.tenant_id, c.domain, c.day, c.source_ip) t
      WHERE n <= $4::integer`,
    params: [asked.map((a) => a.tenantId), asked.map((a) => a.domain), asked.map((a) => a.day), FAILING_SOURCES_PER_DAY],
    collect: (rows) => {
      const out = new Map<string, SourceTraffic[]>();
      type Row = { tenant_id: string; domain: string; day: string; source_ip: string; ptr: string | null; base_domain: string | null; messages: string; failing: string };
      for (const r of rows as Row[]) {
        const key = keyOf(r.tenant_id, r.domain, r.day);
        const list = out.get(key) ?? [];
        list.push({ ip: r.source_ip, ptr: r.ptr, baseDomain: r.base_domain, messages: Number(r.messages), failing: Number(r.failing) });
        out.set(key, list);
      }
      return out;
    },
  };
}

/** Per keyOf(tenant, domain): the domain's totals per day within from..to (days without mail absent), from the per-day rollup aggregation keeps. */
export function dayTotalsRead(asked: ReadonlyArray<{ tenantId: string; domain: string; from: string; to: string }>): StateRead<Map<string, Map<string, DayTotals>>> {
  return {
    name: 'day-totals',
    sql: `SELECT d.tenant_id, d.domain, d.day::text AS day, d.messages::text AS messages, d.failing::text AS failing
       FROM aggregate_domain_days d JOIN unnest($1::uuid[], $2::text[], $3::date[], $4::date[]) AS k(tenant_id, domain, day_from, day_to)
         ON d.tenant_id = k.tenant_id AND d.domain = k.domain AND d.day BETWEEN k.day_from AND k.day_to`,
    params: [asked.map((a) => a.tenantId), asked.map((a) => a.domain), asked.map((a) => a.from), asked.map((a) => a.to)],
    collect: (rows) => {
      const out = new Map<string, Map<string, DayTotals>>();
      for (const r of rows as Array<{ tenant_id: string; domain: string; day: string; messages: string; failing: string }>) {
        const key = keyOf(r.tenant_id, r.domain);
        const days = out.get(key) ?? new Map<string, DayTotals>();
        days.set(r.day, { messages: Number(r.messages), failing: Number(r.failing) });
        out.set(key, days);
      }
      return out;
    },
  };
}

/**
 * keyOf(rule, tenant, domain) of the pairs that already have an alert of one of `rules` whose dedupe window holds
 * `at`: a new one would be swallowed.
 */
export function alertedRead(rules: readonly string[], pairs: ReadonlyArray<{ tenantId: string; domain: string }>, at: number): StateRead<Set<string>> {
  return {
    name: 'alerted',
    sql: `SELECT DISTINCT a.rule, a.tenant_id, a.domain FROM alerts a
       JOIN unnest($2::uuid[], $3::text[]) AS k(tenant_id, domain) ON a.tenant_id = k.tenant_id AND a.domain = k.domain
      WHERE a.rule = ANY($1::text[]) AND a.window_start <= $4 AND a.window_end > $4`,
    params: [rules, pairs.map((p) => p.tenantId), pairs.map((p) => p.domain), new Date(at)],
    collect: (rows) => new Set((rows as Array<{ rule: string; tenant_id: string; domain: string }>).map((r) => keyOf(r.rule, r.tenant_id, r.domain))),
  };
}
