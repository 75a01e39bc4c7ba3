import type { Queryable } from '@dmarc/store';
import { type ChunkCounts, UUID } from './chunk-counts';
import { AggregationError } from './errors';

/** The consumer name in processed_messages: the ledger of chunks already applied. */
export const AGGREGATION_CONSUMER = 'aggregation';

/** Where the chunk was read from, kept in the ledger for tracing a count back to a message. */
export interface ChunkSource {
  topic: string;
  partition: number;
  offset: string;
}

export interface ApplyResult {
  /** False when the ledger already had this chunk: a redelivery, nothing was written. */
  applied: boolean;
  /** Every chunk of the report has now been applied (also true on a redelivery of a complete report). */
  reportComplete: boolean;
  /** Counter rows inserted or updated. */
  counterRows: number;
}

/** The ledger key of a chunk: the same on every delivery of it, whatever topic, partition or offset. */
export function chunkMessageId(reportId: string, chunkIndex: number): string {
  return `${reportId}:${chunkIndex}`;
}

// One statement, so one transaction and one round trip per chunk. The ledger row goes in first;
// every other write reads from it, so when the ledger already holds the chunk (a redelivery after a
// crash between commit and offset commit) nothing else is written. A concurrent second delivery
// waits on the ledger row's unique index and then finds it taken.
//
// Counters arrive as parallel arrays, one element per (source IP, header-from) already merged in
// memory: one multi-row upsert whatever the chunk's size.
const APPLY_CHUNK_SQL = `
WITH ledger AS (
  INSERT INTO processed_messages (consumer, message_id, topic, kafka_partition, kafka_offset)
  VALUES ($1::text, $2::text, $3::text, $4::integer, $5::bigint)
  ON CONFLICT (consumer, message_id) DO NOTHING
  RETURNING 1
),
counters AS (
  INSERT INTO aggregate_counters AS c (
    tenant_id, domain, day, source_ip, header_from, messages, disposition_none, disposition_quarantine,
    disposition_reject, disposition_pass, dkim_aligned, spf_aligned, dmarc_pass)
  SELECT $6::uuid, $7::text, $8::date, k.*
    FROM unnest($9::text[], $10::text[], $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[],
                $15::bigint[], $16::bigint[], $17::bigint[], $18::bigint[])
         AS k(source_ip, header_from, messages, n, q, r, p, dkim, spf, dmarc)
   WHERE EXISTS (SELECT 1 FROM ledger)
  ON CONFLICT (tenant_id, domain, day, source_ip, header_from) DO UPDATE SET
    messages = c.messages + excluded.messages,
    disposition_none = c.disposition_none + excluded.disposition_none,
    disposition_quarantine = c.disposition_quarantine + excluded.disposition_quarantine,
    disposition_reject = c.disposition_reject + excluded.disposition_reject,
    disposition_pass = c.disposition_pass + excluded.disposition_pass,
    dkim_aligned = c.dkim_aligned + excluded.dkim_aligned,
    spf_aligned = c.spf_aligned + excluded.spf_aligned,
    dmarc_pass = c.dmarc_pass + excluded.dmarc_pass,
    updated_at = now()
  RETURNING 1
),
policy AS (
  INSERT INTO aggregate_policies AS p (tenant_id, domain, day, p, sp, np, pct, adkim, aspf, fo, testing, observed_at, report_id)
  SELECT $6::uuid, $7::text, $8::date, $20::text, $21::text, $22::text, $23::integer, $24::text, $25::text, $26::text,
         $27::text, to_timestamp($33::double precision / 1000), $28::text
    FROM ledger WHERE $19::boolean
  ON CONFLICT (tenant_id, domain, day) DO UPDATE SET
    p = excluded.p, sp = excluded.sp, np = excluded.np, pct = excluded.pct, adkim = excluded.adkim,
    aspf = excluded.aspf, fo = excluded.fo, testing = excluded.testing,
    observed_at = excluded.observed_at, report_id = excluded.report_id
    WHERE (excluded.observed_at, excluded.report_id) > (p.observed_at, p.report_id)
  RETURNING 1
),
report AS (
  INSERT INTO aggregate_reports AS r (
    tenant_id, report_id, domain, day, org_name, external_report_id, begin_at, end_at, duplicate_of,
    chunks_seen, chunk_count, records_seen, record_count, messages, completed_at)
  SELECT $6::uuid, $28::text, $7::text, $8::date, $29::text, $30::text, to_timestamp($31::double precision / 1000),
         to_timestamp($33::double precision / 1000), $32::text,
         1, $34::integer, $35::bigint, $36::bigint, $37::bigint, CASE WHEN $34::integer = 1 THEN now() END
    FROM ledger
  ON CONFLICT (tenant_id, report_id) DO UPDATE SET
    chunks_seen = r.chunks_seen + 1,
    chunk_count = coalesce(excluded.chunk_count, r.chunk_count),
    records_seen = r.records_seen + excluded.records_seen,
    record_count = coalesce(excluded.record_count, r.record_count),
    messages = r.messages + excluded.messages,
    completed_at = CASE WHEN r.chunks_seen + 1 = coalesce(excluded.chunk_count, r.chunk_count) THEN now() ELSE r.completed_at END
  RETURNING completed_at IS NOT NULL AS complete
),
raw AS (
  -- The pipeline's status of the raw report; only forward, never over a failure.
  UPDATE raw_reports SET status = 'aggregated'
   WHERE id = $38::uuid AND tenant_id = $6::uuid AND status IN ('received', 'parsed', 'enriched')
     AND EXISTS (SELECT 1 FROM report WHERE complete)
  RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM ledger) AS applied,
       coalesce((SELECT complete FROM report),
                (SELECT completed_at IS NOT NULL FROM aggregate_reports WHERE tenant_id = $6::uuid AND report_id = $28::text)) AS complete,
       (SELECT count(*) FROM counters)::integer AS counter_rows,
       (SELECT count(*) FROM raw)::integer AS raw_rows`;

/**
 * Applies a counted chunk exactly once: the counters, the day's policy, the report's bookkeeping,
 * the raw report's status when the report is complete, and the ledger row, in one statement (one
 * transaction). A chunk already in the ledger changes nothing and reports `applied: false`.
 */
export async function applyChunk(db: Queryable, counts: ChunkCounts, source?: ChunkSource): Promise<ApplyResult> {
  const c = counts.counters;
  const column = <K extends keyof (typeof c)[number]>(key: K) => c.map((d) => d[key]);
  const { rows } = await db.query<{ applied: boolean; complete: boolean | null; counter_rows: number }>(
    APPLY_CHUNK_SQL,
    [
      AGGREGATION_CONSUMER,
      chunkMessageId(counts.reportId, counts.chunkIndex),
      source?.topic ?? null,
      source?.partition ?? null,
      source?.offset ?? null,
      counts.tenantId,
      counts.domain,
      counts.day,
      column('sourceIp'),
      column('headerFrom'),
      column('messages'),
      column('none'),
      column('quarantine'),
      column('reject'),
      column('pass'),
      column('dkimAligned'),
      column('spfAligned'),
      column('dmarcPass'),
      // Every chunk repeats the policy: writing it from chunk 0 alone is enough, and a duplicate report
      // is not evidence of anything new.
      counts.chunkIndex === 0 && counts.duplicateOf === null,
      counts.policy.p,
      counts.policy.sp,
      counts.policy.np,
      counts.policy.pct,
      counts.policy.adkim,
      counts.policy.aspf,
      counts.policy.fo,
      counts.policy.testing,
      counts.reportId,
      counts.orgName,
      counts.externalReportId,
      counts.begin,
      counts.duplicateOf,
      counts.end,
      counts.chunkCount,
      counts.records,
      counts.recordCount,
      counts.messages,
      UUID.test(counts.reportId) ? counts.reportId : null,
    ],
    // Parsed and planned once per connection: most chunks are small, where planning is a good part of the cost.
    { name: 'aggregation-apply-chunk' },
  );
  const row = rows[0];
  if (!row.applied && row.complete === null && !(await reportKnown(db, counts))) {
    throw new AggregationError(
      'AGGREGATION_REPORT_ID_COLLISION',
      `chunk ${chunkMessageId(counts.reportId, counts.chunkIndex)} is in the ledger but report ${counts.reportId} is not tenant ${counts.tenantId}'s: report ids must be unique across tenants`,
      'reportId',
    );
  }
  return { applied: row.applied, reportComplete: row.complete ?? false, counterRows: row.counter_rows };
}

// The ledger is keyed by report id and chunk alone. Report ids are derived from the tenant and the
// bytes, so a ledger hit without this tenant's report row means another tenant used the same id:
// refused loudly (to the DLQ) rather than skipped as a redelivery. Asked again in a new statement
// because the first one's snapshot may predate a concurrent delivery of the same chunk.
async function reportKnown(db: Queryable, counts: ChunkCounts): Promise<boolean> {
  const { rows } = await db.query('SELECT 1 FROM aggregate_reports WHERE tenant_id = $1::uuid AND report_id = $2', [counts.tenantId, counts.reportId]);
  return rows.length > 0;
}
