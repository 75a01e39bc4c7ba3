import type { Queryable } from '@dmarc/store';

/** Where a report is, as the API tells it: `failed` means rejected, and `reason` says why. */
export type ReportStatus = 'received' | 'parsed' | 'aggregated' | 'failed';

export interface ReportStatusView {
  id: string;
  status: ReportStatus;
  reason?: string;
  receivedAt: string;
  updatedAt: string;
  filename: string | null;
  sizeBytes: number;
  sha256: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * One report of one tenant, or undefined when that tenant has no such report: another tenant's id and
 * an id that does not exist look the same, so a caller cannot learn that someone else's report exists.
 */
export async function findReportStatus(db: Queryable, tenantId: string, reportId: string): Promise<ReportStatusView | undefined> {
  if (!UUID.test(reportId)) return undefined;
  const { rows } = await db.query<{
    id: string;
    status: string;
    reason: string | null;
    received_at: Date;
    updated_at: Date;
    filename: string | null;
    size_bytes: number;
    sha256: string;
  }>(
    `SELECT id, status, reason, received_at, updated_at, filename, size_bytes, sha256
       FROM raw_reports WHERE id = $1::uuid AND tenant_id = $2::uuid`,
    [reportId, tenantId],
  );
  const row = rows[0];
  if (!row) return undefined;
  const view: ReportStatusView = {
    id: row.id,
    status: apiStatus(row.status),
    receivedAt: row.received_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    filename: row.filename,
    sizeBytes: row.size_bytes,
    sha256: row.sha256,
  };
  if (row.reason !== null) view.reason = row.reason;
  return view;
}

// DNS enrichment is an internal step between parsing and aggregation; to a client the report is parsed
// until it is aggregated, which keeps the documented set of statuses closed.
function apiStatus(status: string): ReportStatus {
  return status === 'enriched' ? 'parsed' : (status as ReportStatus);
}
