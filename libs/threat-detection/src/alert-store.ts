// The alerts table: written once per tenant, rule, domain and window (the unique key is the deduplication), read
// by the publisher, the relay and the API. Every read goes to PostgreSQL: alerts are never cached.
import type { AlertEvidence } from '@dmarc/contracts';
import type { Queryable } from '@dmarc/store';
import type { AlertCandidate, Severity } from './alert-candidate';
import type { AlertRuleId } from './rule-settings';

/** Where a triggering message sits in its trace: W3C ids, kept with the alert. */
export interface TraceRef {
  traceId: string;
  /** The whole traceparent header (version, trace id, parent span id, flags), so a re-publication continues it. */
  traceparent: string;
}

/** An alert as stored: the candidate that won its window, with its id and where it is in its trace and the outbox. */
export interface StoredAlert extends Omit<AlertCandidate, 'windowKey' | 'names'> {
  id: string;
  traceId: string | null;
  traceparent: string | null;
  publishedAt: number | null;
}

export interface AlertRow {
  id: string;
  tenant_id: string;
  domain: string;
  rule: AlertRuleId;
  severity: Severity;
  title: string;
  summary: string;
  evidence: AlertEvidence;
  window_start: Date;
  window_end: Date;
  detected_at: Date;
  trace_id: string | null;
  traceparent: string | null;
  published_at: Date | null;
}

export const ALERT_COLUMNS = 'id, tenant_id, domain, rule, severity, title, summary, evidence, window_start, window_end, detected_at, trace_id, traceparent, published_at';

export function storedAlert(r: AlertRow): StoredAlert {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    domain: r.domain,
    rule: r.rule,
    severity: r.severity,
    title: r.title,
    summary: r.summary,
    evidence: r.evidence,
    windowStart: r.window_start.getTime(),
    windowEnd: r.window_end.getTime(),
    detectedAt: r.detected_at.getTime(),
    traceId: r.trace_id,
    traceparent: r.traceparent,
    publishedAt: r.published_at?.getTime() ?? null,
  };
}

const ms = (column: string) => `to_timestamp(${column} / 1000.0)`;

/**
 * Inserts the candidates, each unless its window already has that rule's alert for the domain (ON CONFLICT DO
 * NOTHING on the unique key: a second trigger, or a redelivery, adds nothing). Returns the rows inserted, in the
 * order of the candidates that made one. Rows are inserted in key order, so concurrent passes never deadlock.
 */
export async function insertAlerts(db: Queryable, candidates: ReadonlyArray<{ alert: AlertCandidate; trace?: TraceRef }>): Promise<StoredAlert[]> {
  if (candidates.length === 0) return [];
  const col = <T>(f: (c: { alert: AlertCandidate; trace?: TraceRef }) => T) => candidates.map(f);
  const { rows } = await db.query<AlertRow & { window_key: string }>(
    `INSERT INTO alerts (tenant_id, domain, rule, severity, window_key, window_start, window_end, title, summary, evidence, trace_id, traceparent, detected_at)
     SELECT tenant_id, domain, rule, severity, window_key, ${ms('window_start')}, ${ms('window_end')}, title, summary, evidence::jsonb, trace_id, traceparent, ${ms('detected_at')}
       FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::double precision[], $7::double precision[], $8::text[], $9::text[],
                   $10::text[], $11::text[], $12::text[], $13::double precision[])
         AS c(tenant_id, domain, rule, severity, window_key, window_start, window_end, title, summary, evidence, trace_id, traceparent, detected_at)
      ORDER BY tenant_id, rule, domain, window_key
     ON CONFLICT (tenant_id, rule, domain, window_key) DO NOTHING
     RETURNING ${ALERT_COLUMNS}, window_key`,
    [
      col((c) => c.alert.tenantId),
      col((c) => c.alert.domain),
      col((c) => c.alert.rule),
      col((c) => c.alert.severity),
      col((c) => c.alert.windowKey),
      col((c) => c.alert.windowStart),
      col((c) => c.alert.windowEnd),
      col((c) => c.alert.title),
      col((c) => c.alert.summary),
      col((c) => JSON.stringify(c.alert.evidence)),
      col((c) => c.trace?.traceId ?? null),
      col((c) => c.trace?.traceparent ?? null),
      col((c) => c.alert.detectedAt),
    ],
    { name: 'threat-insert-alerts' },
  );
  const byKey = new Map(rows.map((r) => [`${r.tenant_id}\u0000${r.rule}\u0000${r.domain}\u0000${r.window_key}`, r]));
  return candidates.flatMap(({ alert }) => {
    const row = byKey.get(`${alert.tenantId}\u0000${alert.rule}\u0000${alert.domain}\u0000${alert.windowKey}`);
    return row ? [storedAlert(row)] : [];
  });
}

/** Remembers source keys as seen for their domain (the new-source rule's memory); keys already there stay as they were. */
export async function rememberSources(db: Queryable, seen: ReadonlyArray<{ tenantId: string; domain: string; key: string; ip: string }>): Promise<void> {
  if (seen.length === 0) return;
  await db.query(
    `INSERT INTO alert_seen_sources (tenant_id, domain, source_key, first_ip)
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) AS s(tenant_id, domain, source_key, first_ip) ORDER BY 1, 2, 3
     ON CONFLICT (tenant_id, domain, source_key) DO NOTHING`,
    [seen.map((s) => s.tenantId), seen.map((s) => s.domain), seen.map((s) => s.key), seen.map((s) => s.ip)],
    { name: 'threat-remember-sources' },
  );
}

export interface AlertQuery {
  domain?: string;
  rule?: string;
  /** 1..500. */
  limit: number;
  /** An alert id from a previous page: only alerts older than it. */
  before?: string;
}

/** A tenant's alerts, newest first (by detection time, then id), optionally of one domain or rule. */
export async function listAlerts(db: Queryable, tenantId: string, query: AlertQuery): Promise<StoredAlert[]> {
  const { rows } = await db.query<AlertRow>(
    `SELECT ${ALERT_COLUMNS} FROM alerts
      WHERE tenant_id = $1::uuid AND ($2::text IS NULL OR domain = $2::text) AND ($3::text IS NULL OR rule = $3::text)
        AND ($4::uuid IS NULL OR (detected_at, id) < (SELECT detected_at, id FROM alerts WHERE id = $4::uuid AND tenant_id = $1::uuid))
      ORDER BY detected_at DESC, id DESC LIMIT $5::integer`,
    [tenantId, query.domain ?? null, query.rule ?? null, query.before ?? null, query.limit],
  );
  return rows.map(storedAlert);
}
