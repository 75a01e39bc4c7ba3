import type { MessageTrace, Publisher } from '@dmarc/bus';
import type { AggregateMetadataV1, ReportReceivedV1 } from '@dmarc/contracts';
import { isReportError, reportIdentity, streamReports, type AggregateHeader, type ParseOptions, type ReportInput } from '@dmarc/report-parser';
import type { Store } from '@dmarc/store';
import { RecordChunker } from './chunker';
import { NotBatchable, ParsingStageError } from './errors';
import {
  chunkMessage,
  firstFailure,
  PARSED_TOPIC,
  publishAll,
  toMetadata,
  wholeMessage,
  type Chunk,
  type DocumentRef,
  type Outgoing,
  type WholeReport,
} from './parsed-messages';

export { FORENSIC_TOPIC, PARSED_TOPIC, TLS_TOPIC } from './parsed-messages';

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

/** One received report of a batch, with the trace its messages continue. */
export interface BatchItem {
  received: ReportReceivedV1;
  trace?: MessageTrace;
}

/** Raw bytes kept in the store are read this much at a time. */
const RAW_SLICE_BYTES = 1024 * 1024;
/** Reports (e-mail attachments, zip entries) one input of a batch may hold; more go to handle(). */
const MAX_HELD_DOCUMENTS = 16;
/**
 * An input of a batch whose text is longer than this (its size, or a gzip member's stated length) goes to
 * handle() as soon as its first header is read (its identity still claimed in order): about 2,000 typical
 * records, more than one chunk's 320,000 characters, so reading it to the end of its first chunk and then
 * again in handle() would read it one and a half times. Only a hint: a report misjudged either way is still
 * published the same, by one path or the other.
 */
const HELD_MAX_TEXT_BYTES = 1024 * 1024;

/** Where the documents read from one input go: published as they come (handle), or held (handleMany). */
interface DocumentSink {
  /** A document starts; resolves true when it is already known to be a duplicate. */
  begin(docId: string, identity: string): Promise<boolean>;
  chunk(docId: string, metadata: AggregateMetadataV1, chunk: Chunk, last: boolean, recordCount: number | null): Promise<void>;
  whole(docId: string, report: WholeReport): Promise<void>;
  /** Every message handed over is acknowledged; throws the first failure. */
  settle(): Promise<void>;
}

/** A document of a batch, read and waiting for its identity claim before its message is made. */
interface HeldDocument {
  docId: string;
  identity: string;
  message?: (doc: DocumentRef, parsedAt: number) => Outgoing;
}

interface HeldItem extends BatchItem {
  /** Every document begun, finished or not: all of them claim their identity, as handle() would. */
  documents: HeldDocument[];
  /** Null when left to handle(). */
  result: ParsingResult | null;
}

const MARK_PARSED_SQL = `UPDATE raw_reports SET status = 'parsed', reason = NULL WHERE id = ANY($1::uuid[]) AND status IN ('received', 'failed')`;

// One row per claim, in order. The first claim of an identity in the statement wins it (rows go in by
// ordinality), and the later ones find its row in `won`, since the statement's snapshot does not see it.
const CLAIM_SQL = `
WITH claims AS (
  SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[]) WITH ORDINALITY AS c(tenant_id, identity, report_id, n)
), won AS (
  INSERT INTO report_identities (tenant_id, identity, report_id)
  SELECT tenant_id, identity, report_id FROM claims ORDER BY n
  ON CONFLICT (tenant_id, identity) DO NOTHING
  RETURNING tenant_id, identity, report_id
)
SELECT COALESCE(w.report_id, r.report_id) AS owner
  FROM claims c
  LEFT JOIN won w ON w.tenant_id = c.tenant_id AND w.identity = c.identity
  LEFT JOIN report_identities r ON r.tenant_id = c.tenant_id AND r.identity = c.identity
 ORDER BY c.n`;

const READ_OWNERS_SQL = `
SELECT c.n, r.report_id
  FROM unnest($1::uuid[], $2::text[]) WITH ORDINALITY AS c(tenant_id, identity, n)
  JOIN report_identities r ON r.tenant_id = c.tenant_id AND r.identity = c.identity`;

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
    this.chunkRecords = options.chunkRecords ?? 4000;
    this.chunksInFlight = Math.max(1, options.chunksInFlight ?? 4);
    this.now = options.now ?? Date.now;
  }

  async handle(received: ReportReceivedV1): Promise<ParsingResult> {
    const { store } = this.options;
    try {
      const bytes = Buffer.isBuffer(received.raw) ? received.raw : await this.rawSlices(received.reportId);
      const result = await this.read(received, bytes, this.publishingSink(received.tenantId));
      await this.markParsed([received.reportId]);
      return result;
    } catch (err) {
      if (isReportError(err) || (err instanceof ParsingStageError && !err.retriable)) {
        await store.query(`UPDATE raw_reports SET status = 'failed', reason = $2 WHERE id = $1`, [received.reportId, `${err.code}: ${err.message}`]);
      }
      throw err;
    }
  }

  /**
   * The batch fast path: the same messages handle() would publish, for many small reports at once, with one
   * statement claiming every identity, one publish per topic and one statement marking them parsed. A null
   * (in input order) is a report left to handle(): held by reference, unreadable, holding no report, or
   * too big for one chunk per document. Those publish nothing here, and reading one stops as soon as it
   * is found too big, so memory stays bounded by the batch size whatever the input inflates to. Throws
   * when a claim, publish or update fails: then every report of the batch goes to handle(), which is
   * idempotent with this.
   */
  async handleMany(items: ReadonlyArray<BatchItem>): Promise<Array<ParsingResult | null>> {
    const held: HeldItem[] = [];
    for (const item of items) held.push(await this.hold(item));

    const claims = held.flatMap((item) => item.documents.map((d) => ({ tenantId: item.received.tenantId, identity: d.identity, docId: d.docId })));
    const owners = claims.length > 0 ? await this.claim(claims) : [];
    const outgoing: Outgoing[] = [];
    const parsedAt = this.now();
    let next = 0;
    for (const { received, trace, documents, result } of held) {
      for (const doc of documents) {
        const duplicateOf = owners[next++];
        if (!result) continue;
        if (duplicateOf !== null) result.duplicates++;
        outgoing.push(doc.message!({ docId: doc.docId, tenantId: received.tenantId, duplicateOf, trace }, parsedAt));
      }
    }
    await publishAll(this.options.publisher, outgoing);

    const done = held.filter((item) => item.result !== null).map((item) => item.received.reportId);
    if (done.length > 0) await this.markParsed(done);
    return held.map((item) => item.result);
  }

  /** Reads one report of a batch into memory, or finds it is for handle(). */
  private async hold(item: BatchItem): Promise<HeldItem> {
    const documents: HeldDocument[] = [];
    // By reference it may be huge: handle() reads it from the store in slices.
    if (!Buffer.isBuffer(item.received.raw)) return { ...item, documents, result: null };
    try {
      const raw = item.received.raw;
      const tooLong = textLengthHint(raw) > HELD_MAX_TEXT_BYTES;
      // Handed over as a stream, the parser inflates it chunk by chunk, not whole, up to the header.
      const input = tooLong ? (async function* () { yield raw; })() : raw;
      return { ...item, documents, result: await this.read(item.received, input, holdingSink(documents, tooLong)) };
    } catch {
      // Unreadable or too big: handle() reads it again and decides (failed status and DLQ, or streamed chunks).
      return { ...item, documents, result: null };
    }
  }

  /**
   * Streams every report in the input to `sink`. Each gets an id of its own (the raw id, then #1, #2...),
   * its identity, and its records cut into chunks (the last one marked, with the record count).
   */
  private async read(received: ReportReceivedV1, bytes: ReportInput, sink: DocumentSink): Promise<ParsingResult> {
    const { reportId } = received;
    const result: ParsingResult = { documents: 0, records: 0, chunks: 0, duplicates: 0 };
    let chunker: RecordChunker | undefined;
    let metadata: AggregateMetadataV1 | undefined;
    let docId = reportId;

    const begin = async (report: AggregateHeader | WholeReport) => {
      docId = result.documents === 0 ? reportId : `${reportId}#${result.documents}`;
      result.documents++;
      if (await sink.begin(docId, reportIdentity(report))) result.duplicates++;
    };
    const chunk = (next: Chunk, last: boolean, recordCount: number | null) => {
      result.chunks++;
      return sink.chunk(docId, metadata!, next, last, recordCount);
    };

    try {
      for await (const event of streamReports(bytes, { ...this.options.parse, filename: received.filename ?? undefined, contentType: received.contentType })) {
        switch (event.type) {
          case 'header':
            await begin(event.report);
            metadata = toMetadata(event.report, []);
            chunker = new RecordChunker(this.chunkRecords);
            break;
          case 'records':
            result.records += event.records.length;
            for (const full of chunker!.add(event.records)) await chunk(full, false, null);
            break;
          case 'end':
            // Repairs found late (after the header) travel on the last chunk's metadata.
            metadata = { ...metadata!, repairs: [...event.summary.repairs] };
            await chunk(chunker!.finish(), true, event.summary.recordCount);
            break;
          case 'report':
            await begin(event.report);
            await sink.whole(docId, event.report);
            break;
        }
      }
    } catch (err) {
      // Whatever happened, nothing is left travelling unobserved; the first failure wins.
      await sink.settle().catch(() => undefined);
      throw err;
    }
    await sink.settle();
    if (result.documents === 0) throw new ParsingStageError('PARSING_NO_REPORT', 'the input holds no report', false);
    return result;
  }

  /**
   * handle()'s sink: claims each document's identity as it starts and publishes as it reads, keeping up to
   * chunksInFlight chunks unacknowledged; all settle before the report counts as parsed, so a failed publish
   * still fails the report (and it is redelivered).
   */
  private publishingSink(tenantId: string): DocumentSink {
    const { publisher } = this.options;
    const inFlight: Array<Promise<void>> = [];
    let duplicateOf: string | null = null;
    const settle = async (keep: number) => {
      while (inFlight.length > keep) await inFlight.shift();
    };
    return {
      begin: async (docId, identity) => {
        [duplicateOf] = await this.claim([{ tenantId, identity, docId }]);
        return duplicateOf !== null;
      },
      chunk: async (docId, metadata, chunk, last, recordCount) => {
        const sent = publisher.publish(PARSED_TOPIC, [chunkMessage({ docId, tenantId, duplicateOf }, metadata, chunk, last, recordCount, this.now())]);
        // Rejections are read in settle(); until then they must not count as unhandled.
        sent.catch(() => undefined);
        inFlight.push(sent);
        await settle(last ? 0 : this.chunksInFlight - 1);
      },
      whole: (docId, report) => publishAll(publisher, [wholeMessage({ docId, tenantId, duplicateOf }, report, this.now())]),
      settle: () => firstFailure(inFlight.splice(0)),
    };
  }

  /**
   * Claims report identities, in order; for each, the report id that owned it first if another, else null.
   * Within one call, a later claim of an identity is the duplicate of the first, as in two calls.
   */
  private async claim(claims: ReadonlyArray<{ tenantId: string; identity: string; docId: string }>): Promise<Array<string | null>> {
    const { rows } = await this.options.store.query<{ owner: string | null }>(
      CLAIM_SQL,
      [claims.map((c) => c.tenantId), claims.map((c) => c.identity), claims.map((c) => c.docId)],
      { name: 'parsing-claim-identities' },
    );
    const owners = claims.map((_, i) => rows[i]?.owner ?? null);
    // A claim that waited on another transaction's claim of the same identity, and lost, cannot see the winner:
    // it committed after this statement's snapshot. A new statement can.
    const lost = owners.flatMap((owner, i) => (owner === null ? [i] : []));
    if (lost.length > 0) {
      const again = await this.options.store.query<{ n: number | string; report_id: string }>(
        READ_OWNERS_SQL,
        [lost.map((i) => claims[i].tenantId), lost.map((i) => claims[i].identity)],
        { name: 'parsing-read-identities' },
      );
      for (const row of again.rows) owners[lost[Number(row.n) - 1]] = row.report_id;
    }
    return claims.map((c, i) => (owners[i] !== null && owners[i] !== c.docId ? owners[i] : null));
  }

  private async markParsed(reportIds: readonly string[]): Promise<void> {
    await this.options.store.query(MARK_PARSED_SQL, [reportIds], { name: 'parsing-mark-parsed' });
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

/**
 * handleMany()'s sink: keeps each document whole in memory, its message made once its claim is known. A
 * document with more records than one chunk stops the reading at once: it is for handle(), which streams.
 */
function holdingSink(documents: HeldDocument[], tooLong: boolean): DocumentSink {
  return {
    begin: async (docId, identity) => {
      if (documents.length === MAX_HELD_DOCUMENTS) throw new NotBatchable(`more than ${MAX_HELD_DOCUMENTS} reports in one input`);
      documents.push({ docId, identity });
      if (tooLong) throw new NotBatchable(`input longer than ${HELD_MAX_TEXT_BYTES} bytes`);
      return false;
    },
    chunk: async (_docId, metadata, chunk, last, recordCount) => {
      if (!last) throw new NotBatchable('more records than one chunk');
      documents[documents.length - 1].message = (doc, parsedAt) => ({ topic: PARSED_TOPIC, message: chunkMessage(doc, metadata, chunk, true, recordCount, parsedAt) });
    },
    whole: async (_docId, report) => {
      documents[documents.length - 1].message = (doc, parsedAt) => wholeMessage(doc, report, parsedAt);
    },
    settle: async () => undefined,
  };
}

/** How long an input's text is, as far as its first bytes and last four tell: a gzip member's ISIZE, else its size. */
function textLengthHint(raw: Buffer): number {
  const gzip = raw.length >= 18 && raw[0] === 0x1f && raw[1] === 0x8b;
  return gzip ? Math.max(raw.length, raw.readUInt32LE(raw.length - 4)) : raw.length;
}
