import type { Publisher } from '@dmarc/bus';
import type { Store } from '@dmarc/store';
import { CONTENT_TYPE_OF, describeHead, sniffReportContent } from './content-sniffing';
import { IntakeError } from './errors';
import { reportIdOf, sha256Hex } from './report-id';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DEFAULT_REFUSED_HEAD_BYTES = 64 * 1024;

export interface IntakeOptions {
  store: Store;
  publisher: Publisher;
  /** Largest report accepted, in bytes. */
  maxBytes: number;
  /** Reports up to this size travel inline on dmarc.reports.received; larger ones by reference. */
  inlineMaxBytes: number;
  /** How much of an oversize report is kept with its refusal (default 64 KiB): enough to see what it was. */
  refusedHeadBytes?: number;
  now?: () => number;
}

export interface IncomingReport {
  tenantId: string;
  payload: Buffer;
  filename?: string | null;
  /** What the sender claimed; recorded only when the bytes say nothing better. */
  contentType?: string | null;
  /** http, inbound-topic, cli */
  source: string;
}

/** A report that passed the size limit before it was read whole: only its head is here. */
export interface OversizeReport extends Omit<IncomingReport, 'payload'> {
  head: Buffer;
  /** Bytes read before reading stopped. */
  bytesRead: number;
  /** SHA-256 of the bytes read. */
  sha256: string;
  /** The size the sender announced, when it did. */
  declaredBytes?: number;
}

export interface AcceptedReport {
  reportId: string;
  sha256: string;
  sizeBytes: number;
  /** The same bytes were already accepted for this tenant: nothing was published again. */
  duplicate: boolean;
  /** Where the report is in the pipeline: `received` when new, the first copy's status for a duplicate. */
  status: string;
  /** The MIME type of what the bytes are (not what the sender claimed). */
  contentType: string;
}

/**
 * Accepts one report: checks its size and kind, keeps its raw bytes (so nothing is ever lost),
 * deduplicates by tenant and SHA-256, and hands it to the pipeline on dmarc.reports.received. Safe to
 * call again with the same report after a crash at any point: the row is written once and published
 * until it is marked so. A refused report is kept too, as a `failed` row with its reason.
 */
export class ReportIntake {
  private readonly now: () => number;
  private readonly refusedHeadBytes: number;

  constructor(private readonly options: IntakeOptions) {
    this.now = options.now ?? Date.now;
    this.refusedHeadBytes = options.refusedHeadBytes ?? DEFAULT_REFUSED_HEAD_BYTES;
  }

  /** Throws IntakeError for a refused report, after keeping it (`reportId` on the error names the row). */
  async accept(report: IncomingReport): Promise<AcceptedReport> {
    const { payload, tenantId } = report;
    checkTenantId(tenantId);
    const kind = sniffReportContent(payload);
    if (kind === 'empty') {
      const why = payload.length === 0 ? 'report is empty (0 bytes)' : `report holds only whitespace (${payload.length} bytes)`;
      throw await this.keepRefused(report, payload, sha256Hex(payload), payload.length, new IntakeError('INTAKE_EMPTY', why, 'payload'));
    }
    if (payload.length > this.options.maxBytes) {
      const error = new IntakeError('INTAKE_TOO_LARGE', `report is ${payload.length} bytes, over the limit of ${this.options.maxBytes}`, 'payload');
      throw await this.keepRefused(report, payload.subarray(0, this.refusedHeadBytes), sha256Hex(payload), payload.length, error);
    }
    if (kind === 'unknown') {
      const claimed = report.contentType ? `declared ${JSON.stringify(report.contentType)}, ` : '';
      const error = new IntakeError(
        'INTAKE_UNSUPPORTED',
        `content is not a report ingestion accepts (XML, gzip, zip, e-mail or JSON): ${claimed}starts with ${describeHead(payload)}`,
        'payload',
      );
      throw await this.keepRefused(report, payload, sha256Hex(payload), payload.length, error);
    }
    return this.keep({ ...report, contentType: CONTENT_TYPE_OF[kind] });
  }

  /**
   * Keeps the head of a report that was over the size limit before it was read whole, and returns the
   * refusal to answer with. The row's sha256 and size are those of the bytes read, the only ones seen.
   */
  async refuseOversize(report: OversizeReport): Promise<IntakeError> {
    checkTenantId(report.tenantId);
    const announced = report.declaredBytes !== undefined ? ` (announced as ${report.declaredBytes} bytes)` : '';
    const error = new IntakeError(
      'INTAKE_TOO_LARGE',
      `report is over the limit of ${this.options.maxBytes} bytes${announced}; reading stopped after ${report.bytesRead} bytes`,
      'payload',
    );
    return this.keepRefused(report, report.head.subarray(0, this.refusedHeadBytes), report.sha256, report.bytesRead, error);
  }

  private async keep(report: IncomingReport & { contentType: string }): Promise<AcceptedReport> {
    const { payload, tenantId, contentType } = report;
    const sha256 = sha256Hex(payload);
    const reportId = reportIdOf(tenantId, sha256);
    const receivedAt = this.now();

    const { rows } = await this.options.store.query<{ inserted: boolean; published: boolean; tenant_known: boolean; status: string | null }>(
      `WITH ins AS (
         INSERT INTO raw_reports (id, tenant_id, sha256, size_bytes, content_type, filename, payload, source, received_at)
         SELECT $1, t.id, $3, $4, $5, $6, $7, $8, to_timestamp($9::double precision / 1000)
           FROM tenants t WHERE t.id = $2::uuid
         ON CONFLICT (tenant_id, sha256) DO NOTHING
         RETURNING true AS inserted),
       existing AS (SELECT published_at, status FROM raw_reports WHERE tenant_id = $2::uuid AND sha256 = $3)
       SELECT (SELECT inserted FROM ins) IS TRUE AS inserted,
              (SELECT published_at IS NOT NULL FROM existing) IS TRUE AS published,
              (SELECT status FROM existing) AS status,
              EXISTS (SELECT 1 FROM tenants WHERE id = $2::uuid) AS tenant_known`,
      [reportId, tenantId, sha256, payload.length, contentType, report.filename ?? null, payload, report.source, receivedAt],
      // Parsed and planned once per connection: it runs for every report.
      { name: 'intake-keep' },
    );
    const row = rows[0];
    if (!row.tenant_known) throw new IntakeError('INTAKE_TENANT_UNKNOWN', `tenant ${tenantId} does not exist`, 'tenantId');
    if (!row.inserted && row.published) {
      await this.countDuplicate(tenantId, receivedAt);
      return { reportId, sha256, sizeBytes: payload.length, duplicate: true, status: row.status ?? 'received', contentType };
    }

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
    await this.options.store.query('UPDATE raw_reports SET published_at = now() WHERE id = $1 AND published_at IS NULL', [reportId], {
      name: 'intake-mark-published',
    });
    return { reportId, sha256, sizeBytes: payload.length, duplicate: false, status: 'received', contentType };
  }

  // A duplicate adds no row to raw_reports (the dedup key refuses it), so the stats count it per day here.
  private async countDuplicate(tenantId: string, at: number): Promise<void> {
    await this.options.store.query(
      `INSERT INTO ingestion_daily_counts (tenant_id, day, duplicates)
       VALUES ($1, (to_timestamp($2::double precision / 1000) AT TIME ZONE 'UTC')::date, 1)
       ON CONFLICT (tenant_id, day) DO UPDATE SET duplicates = ingestion_daily_counts.duplicates + 1`,
      [tenantId, at],
    );
  }

  /**
   * Keeps a refused report as a `failed` row with its reason, so nothing sent is lost, and returns the
   * error naming that row. The same refused bytes sent again find the row already there.
   */
  private async keepRefused(
    report: Omit<IncomingReport, 'payload'>,
    kept: Buffer,
    sha256: string,
    sizeBytes: number,
    error: IntakeError,
  ): Promise<IntakeError> {
    const reportId = reportIdOf(report.tenantId, sha256);
    const { rows } = await this.options.store.query<{ tenant_known: boolean }>(
      `WITH ins AS (
         INSERT INTO raw_reports (id, tenant_id, sha256, size_bytes, content_type, filename, payload, source, status, reason, received_at)
         SELECT $1, t.id, $3, $4, $5, $6, $7, $8, 'failed', $9, to_timestamp($10::double precision / 1000)
           FROM tenants t WHERE t.id = $2::uuid
         ON CONFLICT (tenant_id, sha256) DO NOTHING
         RETURNING id)
       SELECT EXISTS (SELECT 1 FROM tenants WHERE id = $2::uuid) AS tenant_known`,
      [
        reportId,
        report.tenantId,
        sha256,
        sizeBytes,
        report.contentType || 'application/octet-stream',
        report.filename ?? null,
        kept,
        report.source,
        error.message,
        this.now(),
      ],
    );
    if (!rows[0].tenant_known) return new IntakeError('INTAKE_TENANT_UNKNOWN', `tenant ${report.tenantId} does not exist`, 'tenantId');
    return error.keptAs(reportId);
  }
}

function checkTenantId(tenantId: string): void {
  if (!UUID.test(tenantId)) throw new IntakeError('INTAKE_TENANT_UNKNOWN', `tenant id ${JSON.stringify(tenantId.slice(0, 64))} is not a UUID`, 'tenantId');
}
