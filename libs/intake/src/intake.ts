import type { MessageTrace, OutgoingMessage, Publisher } from '@dmarc/bus';
import { type TopicInput, TOPICS } from '@dmarc/contracts';
import type { Store } from '@dmarc/store';
import { IntakeError } from './errors';
import { keepRows, rawReportRow, settleRows, type RawReportRow } from './raw-report-writes';
import { checkPayload, checkTenantId, isTenantId, type PayloadLimits } from './report-checks';
import { reportIdOf, sha256Hex } from './report-id';

const RECEIVED_TOPIC = TOPICS.received;
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

interface PendingReport {
  row: RawReportRow;
  trace?: MessageTrace | undefined;
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
  private readonly limits: PayloadLimits;

  constructor(private readonly options: IntakeOptions) {
    this.now = options.now ?? Date.now;
    this.limits = { maxBytes: options.maxBytes, refusedHeadBytes: options.refusedHeadBytes ?? DEFAULT_REFUSED_HEAD_BYTES };
  }

  /** Throws IntakeError for a refused report, after keeping it (`reportId` on the error names the row). */
  async accept(report: IncomingReport): Promise<AcceptedReport> {
    checkTenantId(report.tenantId);
    const verdict = checkPayload(report, this.limits);
    if (verdict.refused) {
      throw await this.keepRefused(report, verdict.kept, sha256Hex(report.payload), report.payload.length, verdict.refused);
    }
    const [accepted] = await this.keepAll([{ row: rawReportRow(report, verdict.contentType, this.now()) }]);
    if (!accepted) throw new IntakeError('INTAKE_TENANT_UNKNOWN', `tenant ${report.tenantId} does not exist`, 'tenantId');
    return accepted;
  }

  /**
   * Accepts many reports with one statement to keep them, one publish and one statement to record both
   * publication and duplicates, with the same outcome as `accept` on each in turn (the same bytes twice
   * in the call: the second is a duplicate). Answers in the order given; `null` for a report it did not
   * settle and left to `accept` (a refused one, whose refusal `accept` keeps and throws, or one of an
   * unknown tenant): nothing of those is written here. Throws (store or broker) with nothing settled
   * for sure: calling `accept` or `acceptMany` again on the same reports is safe, as after any crash.
   * `trace` is the place in its trace of the message a report came in, continued on what is published.
   */
  async acceptMany(reports: ReadonlyArray<IncomingReport & { trace?: MessageTrace }>): Promise<Array<AcceptedReport | null>> {
    const receivedAt = this.now();
    return this.keepAll(
      reports.map((report) => {
        if (!isTenantId(report.tenantId)) return null;
        const verdict = checkPayload(report, this.limits);
        return verdict.refused ? null : { row: rawReportRow(report, verdict.contentType, receivedAt), trace: report.trace };
      }),
    );
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
    return this.keepRefused(report, report.head.subarray(0, this.limits.refusedHeadBytes), report.sha256, report.bytesRead, error);
  }

  /**
   * Keeps reports that passed the checks and hands the new ones to the pipeline; null for a report of
   * an unknown tenant. A row already there but never published (a crash after the insert) is published
   * now rather than taken for a duplicate; one published before is a duplicate, and so is a second copy
   * of the same bytes in `pending`, which never reaches SQL.
   */
  private async keepAll(pending: ReadonlyArray<PendingReport | null>): Promise<Array<AcceptedReport | null>> {
    const unique: PendingReport[] = [];
    const slotOf = new Map<string, number>();
    // A uuid compares case-blind in SQL, so two spellings of one tenant are one dedup key here too.
    const slots = pending.map((p) => {
      if (!p) return -1;
      const key = `${p.row.tenantId.toLowerCase()} ${p.row.sha256}`;
      let slot = slotOf.get(key);
      if (slot === undefined) slotOf.set(key, (slot = unique.push(p) - 1));
      return slot;
    });
    if (unique.length === 0) return pending.map(() => null);
    const kept = await keepRows(this.options.store, unique.map((p) => p.row));

    const results: Array<AcceptedReport | null> = [];
    const toPublish: Array<OutgoingMessage<TopicInput<typeof RECEIVED_TOPIC>>> = [];
    const published: string[] = [];
    const duplicates: Array<{ tenantId: string; at: number }> = [];
    const answered = new Set<number>();
    for (const [i, p] of pending.entries()) {
      const found = kept[slots[i]];
      if (!p || !found.tenantKnown) {
        results.push(null);
        continue;
      }
      const row = { ...p.row, reportId: found.id };
      const first = !answered.has(slots[i]);
      answered.add(slots[i]);
      if (first && (found.inserted || !found.published)) {
        toPublish.push(this.receivedMessage(row, p.trace));
        published.push(row.reportId);
        results.push(acceptedReport(row, false, 'received'));
      } else {
        duplicates.push({ tenantId: row.tenantId, at: row.receivedAt });
        results.push(acceptedReport(row, true, found.status ?? 'received'));
      }
    }

    if (toPublish.length > 0) await this.options.publisher.publish(RECEIVED_TOPIC, toPublish);
    await settleRows(this.options.store, published, duplicates);
    return results;
  }

  private receivedMessage(row: RawReportRow, trace: MessageTrace | undefined): OutgoingMessage<TopicInput<typeof RECEIVED_TOPIC>> {
    const { reportId, tenantId, payload } = row;
    const inline = payload.length <= this.options.inlineMaxBytes;
    return {
      key: reportId,
      tenantId,
      value: {
        reportId,
        tenantId,
        sha256: row.sha256,
        sizeBytes: row.sizeBytes,
        contentType: row.contentType,
        filename: row.filename,
        raw: inline ? payload : { uri: `pg://raw_reports/${reportId}` },
        receivedAt: row.receivedAt,
      },
      ...(trace !== undefined ? { trace } : {}),
    };
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
         -- Any unique index: a racing writer of the same refusal collides on the id too.
         ON CONFLICT DO NOTHING
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

function acceptedReport(row: RawReportRow, duplicate: boolean, status: string): AcceptedReport {
  return { reportId: row.reportId, sha256: row.sha256, sizeBytes: row.sizeBytes, duplicate, status, contentType: row.contentType };
}
