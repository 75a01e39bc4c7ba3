import type { Queryable } from '@dmarc/store';

/** One UTC day of a tenant's intake. */
export interface DayCounts {
  /** YYYY-MM-DD, UTC. */
  date: string;
  /** Distinct reports received that day, whatever became of them (rejected ones included). */
  received: number;
  /** Of those, how many have been parsed so far (parsed, enriched or aggregated). */
  parsed: number;
  /** Submissions that day of bytes the tenant had already sent (answered `duplicate: true`). */
  duplicate: number;
  /** Of the reports received that day, how many were rejected (status failed, at intake or in parsing). */
  rejected: number;
}

export interface InFlightReport {
  id: string;
  receivedAt: string;
  ageSeconds: number;
}

export interface IngestionStats {
  generatedAt: string;
  /** How many days `perDay` covers, today included. */
  days: number;
  today: DayCounts;
  /** Oldest first, one entry per day, days without reports included as zeros. */
  perDay: DayCounts[];
  lag: {
    /** The oldest report not yet parsed, or null when none is waiting. */
    oldestUnparsed: InFlightReport | null;
    /** The oldest report neither aggregated nor failed, or null when none is in flight. */
    oldestUnaggregated: InFlightReport | null;
    /** Time from receipt to aggregation of the reports received in the window and aggregated since. */
    receivedToAggregatedSeconds: { count: number; p50: number | null; p95: number | null };
  };
}

export interface StatsWindow {
  /** Days to cover, today included. */
  days: number;
  now: Date;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * A tenant's intake counters, read live from raw_reports (received, parsed, rejected, lag) and
 * ingestion_daily_counts (duplicates). Days are UTC and reports count on the day they were received.
 * Indexed by tenant and time, so the cost follows the tenant's reports in the window, not the table.
 */
export async function readIngestionStats(db: Queryable, tenantId: string, window: StatsWindow): Promise<IngestionStats> {
  const todayStart = Math.floor(window.now.getTime() / DAY_MS) * DAY_MS;
  const from = new Date(todayStart - (window.days - 1) * DAY_MS);
  const to = new Date(todayStart + DAY_MS);

  const perDay = new Map<string, DayCounts>();
  for (let t = from.getTime(); t < to.getTime(); t += DAY_MS) {
    const date = isoDate(new Date(t));
    perDay.set(date, { date, received: 0, parsed: 0, duplicate: 0, rejected: 0 });
  }

  const reports = await db.query<{ day: string; received: number; parsed: number; rejected: number }>(
    `SELECT to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
            count(*)::int AS received,
            count(*) FILTER (WHERE status IN ('parsed', 'enriched', 'aggregated'))::int AS parsed,
            count(*) FILTER (WHERE status = 'failed')::int AS rejected
       FROM raw_reports
      WHERE tenant_id = $1::uuid AND received_at >= $2 AND received_at < $3
      GROUP BY 1`,
    [tenantId, from, to],
  );
  for (const r of reports.rows) {
    const day = perDay.get(r.day);
    if (day) Object.assign(day, { received: r.received, parsed: r.parsed, rejected: r.rejected });
  }

  const duplicates = await db.query<{ day: string; duplicates: number }>(
    `SELECT to_char(day, 'YYYY-MM-DD') AS day, duplicates::int AS duplicates
       FROM ingestion_daily_counts WHERE tenant_id = $1::uuid AND day >= $2::date AND day < $3::date`,
    [tenantId, isoDate(from), isoDate(to)],
  );
  for (const d of duplicates.rows) {
    const day = perDay.get(d.day);
    if (day) day.duplicate = d.duplicates;
  }

  const lag = await db.query<{
    unparsed_id: string | null;
    unparsed_at: Date | null;
    unaggregated_id: string | null;
    unaggregated_at: Date | null;
    aggregated: number;
    p50: number | null;
    p95: number | null;
  }>(
    `WITH unparsed AS (
       SELECT id, received_at FROM raw_reports
        WHERE tenant_id = $1::uuid AND status = 'received' ORDER BY received_at LIMIT 1),
     unaggregated AS (
       SELECT id, received_at FROM raw_reports
        WHERE tenant_id = $1::uuid AND status IN ('received', 'parsed', 'enriched') ORDER BY received_at LIMIT 1),
     -- updated_at of an aggregated report is when aggregation set that status (the last change it gets).
     done AS (
       SELECT extract(epoch FROM updated_at - received_at)::float8 AS seconds FROM raw_reports
        WHERE tenant_id = $1::uuid AND status = 'aggregated' AND received_at >= $2 AND received_at < $3)
     SELECT (SELECT id FROM unparsed) AS unparsed_id, (SELECT received_at FROM unparsed) AS unparsed_at,
            (SELECT id FROM unaggregated) AS unaggregated_id, (SELECT received_at FROM unaggregated) AS unaggregated_at,
            (SELECT count(*)::int FROM done) AS aggregated,
            (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) FROM done) AS p50,
            (SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY seconds) FROM done) AS p95`,
    [tenantId, from, to],
  );
  const l = lag.rows[0];
  const inFlight = (id: string | null, at: Date | null): InFlightReport | null =>
    id && at ? { id, receivedAt: at.toISOString(), ageSeconds: Math.max(0, (window.now.getTime() - at.getTime()) / 1000) } : null;

  const days = [...perDay.values()];
  return {
    generatedAt: window.now.toISOString(),
    days: window.days,
    today: days[days.length - 1],
    perDay: days,
    lag: {
      oldestUnparsed: inFlight(l.unparsed_id, l.unparsed_at),
      oldestUnaggregated: inFlight(l.unaggregated_id, l.unaggregated_at),
      receivedToAggregatedSeconds: { count: l.aggregated, p50: l.p50, p95: l.p95 },
    },
  };
}

function isoDate(d: Date): string {
  return d.toISOString().slice(0, 10);
}
