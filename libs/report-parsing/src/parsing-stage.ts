import type { Publisher } from '@dmarc/bus';
import type { AggregateMetadataV1, AggregateRecordV1, ReportReceivedV1 } from '@dmarc/contracts';
import {
  isReportError,
  reportIdentity,
  streamReports,
  type AggregateHeader,
  type ForensicReport,
  type ParseOptions,
  type Report,
  type TlsReport,
} from '@dmarc/report-parser';
import type { Queryable, Store } from '@dmarc/store';
import { RecordChunker } from './chunker';
import { ParsingStageError } from './errors';

export const PARSED_TOPIC = 'dmarc.reports.parsed';
export const FORENSIC_TOPIC = 'dmarc.reports.forensic.parsed';
export const TLS_TOPIC = 'dmarc.reports.tls.parsed';

export interface ParsingStageOptions {
  store: Store;
  publisher: Publisher;
  /** Records per chunk on dmarc.reports.parsed: small enough to stay far under the broker's message limit. */
  chunkRecords?: number;
  /**
   * Chunks of one report published without waiting for the ones before them to be acknowledged (default 4).
   * Parsing goes on while they travel, and the producer sends them together; memory stays bounded by this
   * many chunks. 1 waits for each chunk before parsing on.
   */
  chunksInFlight?: number;
  parse?: Omit<ParseOptions, 'filename' | 'contentType'>;
  now?: () => number;
}

export interface ParsingResult {
  documents: number;
  records: number;
  chunks: number;
  duplicates: number;
}

const ms = (iso: string) => Date.parse(iso);
/** Raw bytes kept in the store are read this much at a time. */
const RAW_SLICE_BYTES = 1024 * 1024;

/**
 * The parsing stage: reads a received report's raw bytes (inline, or from the raw store), streams
 * every report in them through the parser, and publishes aggregate reports in chunks, failure and TLS
 * reports whole. Idempotent: a redelivered report is cut into the same chunks and claims the same
 * identities. A report that cannot be parsed is marked failed with its reason and the error (not
 * retriable) sends the message to the DLQ with its original bytes.
 */
export class ParsingStage {
  private readonly chunkRecords: number;
  private readonly chunksInFlight: number;
  private readonly now: () => number;

  constructor(private readonly options: ParsingStageOptions) {
    this.chunkRecords = options.chunkRecords ?? 2000;
    this.chunksInFlight = Math.max(1, options.chunksInFlight ?? 4);
    this.now = options.now ?? Date.now;
  }

  async handle(received: ReportReceivedV1): Promise<ParsingResult> {
    const { store } = this.options;
    try {
      const result = await this.parse(received);
      await store.query(`UPDATE raw_reports SET status = 'parsed', reason = NULL WHERE id = $1 AND status IN ('received', 'failed')`, [received.reportId], {
        name: 'parsing-mark-parsed',
      });
      return result;
    } catch (err) {
      if (isReportError(err) || (err instanceof ParsingStageError && !err.retriable)) {
        await store.query(`UPDATE raw_reports SET status = 'failed', reason = $2 WHERE id = $1`, [received.reportId, `${err.code}: ${err.message}`]);
      }
      throw err;
    }
  }

  private async parse(received: ReportReceivedV1): Promise<ParsingResult> {
    const bytes = Buffer.isBuffer(received.raw) ? received.raw : await this.rawSlices(received.reportId);
    const { tenantId, reportId } = received;
    const result: ParsingResult = { documents: 0, records: 0, chunks: 0, duplicates: 0 };
    let chunker: RecordChunker | undefined;
    let metadata: AggregateMetadataV1 | undefined;
    let docId = reportId;
    let duplicateOf: string | null = null;

    // Chunks published and not yet acknowledged, oldest first: at most chunksInFlight, all settled before
    // the report counts as parsed, so a failed publish still fails the report (and it is redelivered).
    const inFlight: Array<Promise<void>> = [];
    const settle = async (keep: number) => {
      while (inFlight.length > keep) await inFlight.shift();
    };
    const publishChunk = async (chunk: { index: number; records: AggregateRecordV1[] }, last: boolean, recordCount: number | null) => {
      const sent = this.options.publisher.publish(PARSED_TOPIC, [
        {
          key: docId,
          tenantId,
          value: { reportId: docId, tenantId, chunkIndex: chunk.index, last, recordCount, duplicateOf, metadata: metadata!, records: chunk.records, parsedAt: this.now() },
        },
      ]);
      // Rejections are read in settle(); until then they must not count as unhandled.
      sent.catch(() => undefined);
      inFlight.push(sent);
      result.chunks++;
      await settle(last ? 0 : this.chunksInFlight - 1);
    };

    // Each report in the input gets an id of its own (the raw id, then #1, #2...) and claims its identity.
    const startDocument = async (report: AggregateHeader | Exclude<Report, { kind: 'aggregate' }>) => {
      const id = result.documents === 0 ? reportId : `${reportId}#${result.documents}`;
      result.documents++;
      const owner = await this.claim(this.options.store, tenantId, reportIdentity(report), id);
      if (owner) result.duplicates++;
      return { docId: id, duplicateOf: owner };
    };

    try {
      for await (const event of streamReports(bytes, { ...this.options.parse, filename: received.filename ?? undefined, contentType: received.contentType })) {
        switch (event.type) {
          case 'header': {
            ({ docId, duplicateOf } = await startDocument(event.report));
            metadata = toMetadata(event.report, []);
            chunker = new RecordChunker(this.chunkRecords);
            break;
          }
          case 'records':
            result.records += event.records.length;
            for (const chunk of chunker!.add(event.records)) await publishChunk(chunk, false, null);
            break;
          case 'end':
            // Repairs found late (after the header) travel on the last chunk's metadata.
            metadata = { ...metadata!, repairs: [...event.summary.repairs] };
            await publishChunk(chunker!.finish(), true, event.summary.recordCount);
            break;
          case 'report':
            ({ docId, duplicateOf } = await startDocument(event.report));
            await this.publishWhole(event.report, docId, tenantId, duplicateOf);
            break;
        }
      }
    } finally {
      // Whatever happened, nothing is left travelling unobserved; the first failure wins.
      await Promise.allSettled(inFlight);
    }
    await settle(0);
    if (result.documents === 0) throw new ParsingStageError('PARSING_NO_REPORT', 'the input holds no report', false);
    return result;
  }

  private async publishWhole(report: Exclude<Report, { kind: 'aggregate' }>, docId: string, tenantId: string, duplicateOf: string | null) {
    const envelope = { reportId: docId, tenantId, duplicateOf, report: JSON.stringify(report), parsedAt: this.now() };
    if (report.kind === 'forensic') {
      await this.options.publisher.publish(FORENSIC_TOPIC, [{ key: docId, tenantId, value: { ...envelope, ...forensicFields(report) } }]);
    } else {
      await this.options.publisher.publish(TLS_TOPIC, [{ key: docId, tenantId, value: { ...envelope, ...tlsFields(report) } }]);
    }
  }

  /** Claims a report identity for this document; returns the report id that owned it first, if another. */
  private async claim(db: Queryable, tenantId: string, identity: string, docId: string): Promise<string | null> {
    const { rows } = await db.query<{ report_id: string }>(
      `WITH ins AS (
         INSERT INTO report_identities (tenant_id, identity, report_id) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id, identity) DO NOTHING RETURNING report_id)
       SELECT report_id FROM ins UNION ALL
       SELECT report_id FROM report_identities WHERE tenant_id = $1 AND identity = $2 LIMIT 1`,
      [tenantId, identity, docId],
      { name: 'parsing-claim-identity' },
    );
    const owner = rows[0]?.report_id;
    return owner && owner !== docId ? owner : null;
  }

  /**
   * A report kept in the raw store, read in slices as the parser asks for them: never the whole payload in
   * memory (node-postgres receives bytea as hex text, so one read would hold it about three times over).
   * Missing bytes fail here, before anything is published.
   */
  private async rawSlices(reportId: string): Promise<AsyncIterable<Buffer>> {
    const { store } = this.options;
    const { rows } = await store.query<{ size: number | null }>('SELECT octet_length(payload) AS size FROM raw_reports WHERE id = $1', [reportId]);
    const size = rows[0]?.size;
    if (size === null || size === undefined) {
      throw new ParsingStageError('PARSING_RAW_MISSING', `raw bytes of report ${reportId} are not in the raw store`, false);
    }
    return (async function* () {
      for (let offset = 0; offset < size; offset += RAW_SLICE_BYTES) {
        const slice = await store.query<{ part: Buffer }>('SELECT substring(payload FROM $2 FOR $3) AS part FROM raw_reports WHERE id = $1', [
          reportId,
          offset + 1,
          RAW_SLICE_BYTES,
        ]);
        const part = slice.rows[0]?.part;
        if (!part || part.length === 0) throw new ParsingStageError('PARSING_RAW_MISSING', `raw bytes of report ${reportId} end early at ${offset} of ${size}`, false);
        yield part;
      }
    })();
  }
}

function toMetadata(h: AggregateHeader, repairs: string[]): AggregateMetadataV1 {
  return {
    orgName: h.orgName,
    email: h.email,
    externalReportId: h.reportId,
    begin: ms(h.dateRange.begin),
    end: ms(h.dateRange.end),
    version: h.version,
    generator: h.generator,
    policy: { ...h.policy, domain: h.policy.domain.toLowerCase() },
    repairs,
  };
}

function forensicFields(report: ForensicReport) {
  const arrival = report.arrivalDate ? ms(report.arrivalDate) : NaN;
  return {
    format: report.format,
    feedbackType: report.feedbackType,
    reportedDomain: report.reportedDomain,
    sourceIp: report.sourceIp,
    arrivalDate: Number.isFinite(arrival) ? arrival : null,
    originalMailFrom: report.originalMailFrom,
    authFailure: [...report.authFailure],
    identityAlignment: report.identityAlignment ? [...report.identityAlignment] : null,
    deliveryResult: report.deliveryResult,
    subject: report.originalHeaders.subject,
  };
}

function tlsFields(report: TlsReport) {
  return {
    organizationName: report.organizationName,
    externalReportId: report.reportId,
    begin: ms(report.dateRange.begin),
    end: ms(report.dateRange.end),
    policies: report.policies.map((p) => ({
      policyType: p.policyType,
      policyDomain: p.policyDomain,
      successfulSessions: p.totalSuccessfulSessionCount,
      failedSessions: p.totalFailureSessionCount,
    })),
  };
}
