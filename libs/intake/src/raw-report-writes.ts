import type { Queryable } from '@dmarc/store';
import { reportIdOf, sha256Hex } from './report-id';

/** The raw_reports row of a report that passed the checks, as it is written. */
export interface RawReportRow {
  reportId: string;
  tenantId: string;
  sha256: string;
  sizeBytes: number;
  contentType: string;
  filename: string | null;
  payload: Buffer;
  source: string;
  /** Epoch ms. */
  receivedAt: number;
}

/** What writing one row found. */
export interface KeptRow {
  /** The row's id: the stored one when the row was already there. */
  id: string;
  inserted: boolean;
  /** The row was there and already published. */
  published: boolean;
  /** The stored row's status; null when it was inserted now or the tenant is unknown. */
  status: string | null;
  tenantKnown: boolean;
}

export function rawReportRow(
  report: { tenantId: string; payload: Buffer; filename?: string | null; source: string },
  contentType: string,
  receivedAt: number,
): RawReportRow {
  const sha256 = sha256Hex(report.payload);
  return {
    reportId: reportIdOf(report.tenantId, sha256),
    tenantId: report.tenantId,
    sha256,
    sizeBytes: report.payload.length,
    contentType,
    filename: report.filename ?? null,
    payload: report.payload,
    source: report.source,
    receivedAt,
  };
}

// The rows travel as parallel arrays, so one statement text (prepared once per connection) serves any
// number of rows. The payloads go as ONE bytea, concatenated, with each row's offset: node-postgres sends
// a Buffer parameter as binary, but writes a Buffer[] as an array literal of hex text (twice the bytes,
// built by string concatenation, parsed again by the server).
// Rows are inserted in key order so that two statements sharing reports cannot each wait for the other.
// ON CONFLICT names no index: the id is derived from (tenant, sha256), so two writers racing with the
// same report also collide on the primary key, which a conflict target of (tenant_id, sha256) would
// leave to fail with a unique violation.
// `existing` is read in the statement's snapshot: it sees a row that was there before, never the one
// inserted now.
const KEEP_ROWS = `
  WITH input AS (
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::int[], $5::text[], $6::text[], $7::text[], $8::int[], $9::float8[])
      WITH ORDINALITY AS i(id, tenant_id, sha256, size_bytes, content_type, filename, source, payload_at, received_at, n)),
  ins AS (
    INSERT INTO raw_reports (id, tenant_id, sha256, size_bytes, content_type, filename, payload, source, received_at)
    SELECT i.id, i.tenant_id, i.sha256, i.size_bytes, i.content_type, i.filename,
           substring($10::bytea FROM i.payload_at + 1 FOR i.size_bytes), i.source, to_timestamp(i.received_at / 1000)
      FROM input i JOIN tenants t ON t.id = i.tenant_id
     ORDER BY i.tenant_id, i.sha256
    ON CONFLICT DO NOTHING
    RETURNING tenant_id, sha256)
  SELECT coalesce(existing.id, i.id) AS id,
         ins.sha256 IS NOT NULL AS inserted,
         existing.published_at IS NOT NULL AS published,
         existing.status,
         EXISTS (SELECT 1 FROM tenants t WHERE t.id = i.tenant_id) AS tenant_known
    FROM input i
    LEFT JOIN ins ON ins.tenant_id = i.tenant_id AND ins.sha256 = i.sha256
    LEFT JOIN raw_reports existing ON existing.tenant_id = i.tenant_id AND existing.sha256 = i.sha256
   ORDER BY i.n`;

/**
 * Writes the rows in one statement, each unless its (tenant, sha256) is already there or its tenant does
 * not exist, and says for each, in order, what it found. The rows must have distinct (tenant, sha256).
 */
export async function keepRows(db: Queryable, rows: ReadonlyArray<RawReportRow>): Promise<KeptRow[]> {
  const offsets: number[] = [];
  let at = 0;
  for (const r of rows) {
    offsets.push(at);
    at += r.sizeBytes;
  }
  // One report (every HTTP upload) is sent as it is: no copy of a payload that may be 64 MiB.
  const payloads = rows.length === 1 ? rows[0].payload : Buffer.concat(rows.map((r) => r.payload));
  const { rows: found } = await db.query<{ id: string; inserted: boolean; published: boolean; status: string | null; tenant_known: boolean }>(
    KEEP_ROWS,
    [
      rows.map((r) => r.reportId),
      rows.map((r) => r.tenantId),
      rows.map((r) => r.sha256),
      rows.map((r) => r.sizeBytes),
      rows.map((r) => r.contentType),
      rows.map((r) => r.filename),
      rows.map((r) => r.source),
      offsets,
      rows.map((r) => r.receivedAt),
      payloads,
    ],
    // Parsed and planned once per connection: it runs for every report or batch.
    { name: 'intake-keep-rows' },
  );
  return found.map((f) => ({ id: f.id, inserted: f.inserted, published: f.published, status: f.status, tenantKnown: f.tenant_known }));
}

// One statement, so the duplicates are counted exactly when the publication is recorded: a crash before
// it leaves both undone (the retry publishes again and counts once), after it both done.
// A duplicate adds no row to raw_reports (the dedup key refuses it), so the stats count it per UTC day here.
const SETTLE = `
  WITH marked AS (
    UPDATE raw_reports SET published_at = now() WHERE id = ANY($1::uuid[]) AND published_at IS NULL)
  INSERT INTO ingestion_daily_counts (tenant_id, day, duplicates)
  SELECT d.tenant_id, (to_timestamp(d.at / 1000) AT TIME ZONE 'UTC')::date, count(*)
    FROM unnest($2::uuid[], $3::float8[]) AS d(tenant_id, at)
   GROUP BY 1, 2
   ORDER BY 1, 2
  ON CONFLICT (tenant_id, day) DO UPDATE SET duplicates = ingestion_daily_counts.duplicates + EXCLUDED.duplicates`;

/** Marks the published reports so, and counts each duplicate submission on its tenant's UTC day. */
export async function settleRows(
  db: Queryable,
  publishedIds: ReadonlyArray<string>,
  duplicates: ReadonlyArray<{ tenantId: string; at: number }>,
): Promise<void> {
  if (publishedIds.length === 0 && duplicates.length === 0) return;
  await db.query(SETTLE, [publishedIds, duplicates.map((d) => d.tenantId), duplicates.map((d) => d.at)], { name: 'intake-settle' });
}
