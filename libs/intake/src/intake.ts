import type { Publisher } from '@dmarc/bus';
import type { Store } from '@dmarc/store';
import { IntakeError } from './errors';
import { reportIdOf, sha256Hex } from './report-id';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface IntakeOptions {
  store: Store;
  publisher: Publisher;
  /** Largest report accepted, in bytes. */
  maxBytes: number;
  /** Reports up to this size travel inline on dmarc.reports.received; larger ones by reference. */
  inlineMaxBytes: number;
  now?: () => number;
}

export interface IncomingReport {
  tenantId: string;
  payload: Buffer;
  filename?: string | null;
  contentType?: string | null;
  /** http, inbound-topic, cli */
  source: string;
}

export interface AcceptedReport {
  reportId: string;
  sha256: string;
  sizeBytes: number;
  /** The same bytes were already accepted for this tenant: nothing was published again. */
  duplicate: boolean;
}

/**
 * Accepts one report: keeps its raw bytes (so nothing is ever lost), deduplicates by tenant and
 * SHA-256, and hands it to the pipeline on dmarc.reports.received. Safe to call again with the same
 * report after a crash at any point: the row is written once and published until it is marked so.
 */
export class ReportIntake {
  private readonly now: () => number;

  constructor(private readonly options: IntakeOptions) {
    this.now = options.now ?? Date.now;
  }

  async accept(report: IncomingReport): Promise<AcceptedReport> {
    const { payload, tenantId } = report;
    if (payload.length === 0) throw new IntakeError('INTAKE_EMPTY', 'report is empty (0 bytes)', 'payload');
    if (payload.length > this.options.maxBytes) {
      throw new IntakeError('INTAKE_TOO_LARGE', `report is ${payload.length} bytes, over the limit of ${this.options.maxBytes}`, 'payload');
    }
    if (!UUID.test(tenantId)) throw new IntakeError('INTAKE_TENANT_UNKNOWN', `tenant id ${JSON.stringify(tenantId.slice(0, 64))} is not a UUID`, 'tenantId');
    const sha256 = sha256Hex(payload);
    const reportId = reportIdOf(tenantId, sha256);
    const contentType = report.contentType || 'application/octet-stream';
    const receivedAt = this.now();

    const { rows } = await this.options.store.query<{ inserted: boolean; published: boolean }>(
      `WITH ins AS (
         INSERT INTO raw_reports (id, tenant_id, sha256, size_bytes, content_type, filename, payload, source, received_at)
         SELECT $1, t.id, $3, $4, $5, $6, $7, $8, to_timestamp($9::double precision / 1000)
           FROM tenants t WHERE t.id = $2::uuid
         ON CONFLICT (tenant_id, sha256) DO NOTHING
         RETURNING true AS inserted)
       SELECT (SELECT inserted FROM ins) IS TRUE AS inserted,
              (SELECT published_at IS NOT NULL FROM raw_reports WHERE tenant_id = $2::uuid AND sha256 = $3) IS TRUE AS published,
              EXISTS (SELECT 1 FROM tenants WHERE id = $2::uuid) AS tenant_known`,
      [reportId, tenantId, sha256, payload.length, contentType, report.filename ?? null, payload, report.source, receivedAt],
    );
    const row = rows[0] as { inserted: boolean; published: boolean; tenant_known: boolean };
    if (!row.tenant_known) throw new IntakeError('INTAKE_TENANT_UNKNOWN', `tenant ${tenantId} does not exist`, 'tenantId');
    if (!row.inserted && row.published) return { reportId, sha256, sizeBytes: payload.length, duplicate: true };

    const inline = payload.length <= this.options.inlineMaxBytes;
    await this.options.publisher.publish('dmarc.reports.received', [
      {
        key: reportId,
        tenantId,
        value: {
          reportId,
          tenantId,
          sha256,
          sizeBytes: payload.length,
          contentType,
          filename: report.filename ?? null,
          raw: inline ? payload : { uri: `pg://raw_reports/${reportId}` },
          receivedAt,
        },
      },
    ]);
    await this.options.store.query('UPDATE raw_reports SET published_at = now() WHERE id = $1 AND published_at IS NULL', [reportId]);
    return { reportId, sha256, sizeBytes: payload.length, duplicate: false };
  }
}
