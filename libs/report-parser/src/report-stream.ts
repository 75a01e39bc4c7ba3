import type { AggregateHeader, AggregateRecord, AggregateSummary } from './aggregate/aggregate-report';
import { readAggregate } from './aggregate/aggregate-stream';
import { ReportError } from './errors';
import { readArfReport, reportParts, type ForensicReport } from './forensic/forensic-report';
import { readPlainTextFailure } from './forensic/plain-text-failure';
import { ByteReader, type ReportInput } from './input/byte-reader';
import { declaredKind, describeHead, sniffContent, SNIFF_BYTES, type ContentKind } from './input/content-kind';
import { DecompressionBudget } from './input/decompression-budget';
import { gunzip } from './input/gzip-stream';
import { listZipEntries, readZipEntry } from './input/zip-archive';
import { parseMimeMessage, type MimePart } from './mime/mime-part';
import { resolveParseOptions, type ParseOptions, type ResolvedParseOptions } from './parse-options';
import { RepairLog } from './repair-log';
import { parseTlsReport, type TlsReport } from './tls/tls-report';

/**
 * The parser's stream. For each aggregate report in the input: one `header` (metadata and policy), then
 * `records` batches, then `end` (totals and the full list of repairs). Forensic and TLS reports are small and
 * come whole as one `report`. `document` names the report's place in the input: `mail.eml > x.zip > x.xml`.
 */
export type ReportEvent =
  | { readonly type: 'header'; readonly document: string; readonly report: AggregateHeader }
  | { readonly type: 'records'; readonly document: string; readonly records: AggregateRecord[] }
  | { readonly type: 'end'; readonly document: string; readonly summary: AggregateSummary }
  | { readonly type: 'report'; readonly document: string; readonly report: ForensicReport | TlsReport };

/**
 * Reads every report in `input` (XML, gzip, zip, e-mail, JSON, nested in any order up to a few levels),
 * as a stream with bounded memory: a 1,000,000-record aggregate report never exists whole in memory.
 * Stopping early (breaking out of the loop) stops reading the input. Failures throw `ReportError`.
 */
export async function* streamReports(input: ReportInput, options?: ParseOptions): AsyncGenerator<ReportEvent> {
  const resolved = resolveParseOptions(options);
  const extractor = new ReportExtractor(resolved);
  const reader = ByteReader.from(input);
  try {
    yield* extractor.extract({
      reader,
      name: resolved.filename,
      contentType: resolved.contentType,
      path: [resolved.filename ?? 'input'],
      repairs: new RepairLog(),
    });
  } finally {
    await reader.close();
  }
}

interface Source {
  readonly reader: ByteReader;
  readonly name: string | undefined;
  readonly contentType: string | undefined;
  /** Names from the outermost input down to this document. */
  readonly path: readonly string[];
  readonly repairs: RepairLog;
}

// Containers inside containers (a zip in a gzip in an e-mail...) past this are refused.
const MAX_NESTING = 5;
const REPORT_KINDS: ReadonlySet<ContentKind | undefined> = new Set(['gzip', 'zip', 'xml', 'json']);

class ReportExtractor {
  private readonly budget: DecompressionBudget;

  constructor(private readonly options: ResolvedParseOptions) {
    this.budget = new DecompressionBudget(options.maxDecompressedBytes);
  }

  async *extract(source: Source): AsyncGenerator<ReportEvent> {
    try {
      yield* this.dispatch(source);
    } catch (err) {
      // The outermost name is the caller's own file: it says it already, so only inner names are added.
      if (err instanceof ReportError && source.path.length > 1) throw err.inDocument(source.path.slice(1).join(' > '));
      throw err;
    }
  }

  private async *dispatch(source: Source): AsyncGenerator<ReportEvent> {
    if (source.path.length > MAX_NESTING + 1) {
      throw new ReportError('REPORT_UNSUPPORTED_CONTENT', `containers nested more than ${MAX_NESTING} deep`);
    }
    const head = await source.reader.peek(SNIFF_BYTES);
    const kind = sniffContent(head);
    const declared = declaredKind(source.name, source.contentType);
    if (declared !== undefined && declared !== kind && REPORT_KINDS.has(kind)) {
      const claim = [source.name, source.contentType].filter(Boolean).join(', ');
      source.repairs.note(`declared:${claim}`, `declared as ${declared} (${claim}) but the bytes are ${kind}; read as ${kind}`);
    }
    switch (kind) {
      case 'empty':
        throw new ReportError('REPORT_EMPTY', head.length === 0 ? 'input is empty (0 bytes)' : 'input holds only whitespace');
      case 'gzip':
        yield* this.gzip(source);
        return;
      case 'zip':
        yield* this.zip(source);
        return;
      case 'xml':
        yield* this.aggregate(source);
        return;
      case 'json':
        yield this.tls(source, await source.reader.readAll(this.options.maxJsonBytes, 'JSON report'));
        return;
      case 'email':
        yield* this.email(source);
        return;
      case 'unknown': {
        const claim = [source.name, source.contentType].filter(Boolean).join(', ');
        throw new ReportError(
          'REPORT_UNSUPPORTED_CONTENT',
          `content is not XML, JSON, gzip, zip or an e-mail: it ${describeHead(head)}${claim ? ` (declared ${claim})` : ''}`,
        );
      }
    }
  }

  private async *gzip(source: Source): AsyncGenerator<ReportEvent> {
    const inner = source.name?.replace(/\.(gz|gzip)$/i, '');
    const what = source.name ?? source.path[source.path.length - 1];
    yield* this.extract({
      reader: ByteReader.fromChunks(gunzip(source.reader, this.budget, source.repairs, what)),
      name: inner === source.name ? undefined : inner,
      contentType: undefined,
      // The gzip layer is not a document of its own: same path, same repairs.
      path: source.path,
      repairs: source.repairs,
    });
  }

  private async *zip(source: Source): AsyncGenerator<ReportEvent> {
    const what = source.name ?? 'zip archive';
    const archive = await source.reader.readAll(this.options.maxBufferedBytes, what);
    const entries = listZipEntries(archive, this.options.maxZipEntries, what);
    if (entries.length === 0) throw new ReportError('REPORT_EMPTY', `${what} holds no files`);
    for (const entry of entries) {
      yield* this.extract({
        reader: ByteReader.fromChunks(readZipEntry(archive, entry, this.budget, entry.name)),
        name: entry.name,
        contentType: undefined,
        path: [...source.path, entry.name],
        repairs: source.repairs.child(),
      });
    }
  }

  private async *aggregate(source: Source): AsyncGenerator<ReportEvent> {
    const document = source.path.join(' > ');
    for await (const out of readAggregate(source.reader, source.repairs, this.options)) {
      switch (out.type) {
        case 'header':
          yield { type: 'header', document, report: out.report };
          break;
        case 'records':
          yield { type: 'records', document, records: out.records };
          break;
        case 'end':
          yield { type: 'end', document, summary: out.summary };
          break;
      }
    }
  }

  private tls(source: Source, bytes: Buffer): ReportEvent {
    return { type: 'report', document: source.path.join(' > '), report: parseTlsReport(bytes.toString('utf8'), source.repairs) };
  }

  /**
   * An e-mail: an ARF failure report if it has a feedback-report part; otherwise every part whose bytes (or
   * declared type) are a report, whatever the MIME structure (multipart/report, multipart/mixed, or a
   * single-part body as Mimecast sends); otherwise a plain-text failure report; otherwise a forwarded one.
   */
  private async *email(source: Source): AsyncGenerator<ReportEvent> {
    const what = source.name ?? 'e-mail';
    const message = parseMimeMessage(await source.reader.readAll(this.options.maxBufferedBytes, what));
    const document = source.path.join(' > ');
    const parts = reportParts(message);

    const feedback = parts.find((part) => part.type === 'message/feedback-report');
    if (feedback) {
      yield { type: 'report', document, report: readArfReport(message, feedback, source.repairs) };
      return;
    }
    const attachments = parts.filter((part) => part.children.length === 0 && part !== message && this.holdsReport(part));
    if (attachments.length === 0 && message.children.length === 0 && this.holdsReport(message)) attachments.push(message);
    for (const [i, part] of attachments.entries()) {
      yield* this.extract({
        reader: ByteReader.fromBuffer(part.body()),
        name: part.filename,
        contentType: part.type,
        path: [...source.path, part.filename ?? `part ${i + 1} (${part.type})`],
        repairs: source.repairs.child(),
      });
    }
    if (attachments.length > 0) return;

    const plain = readPlainTextFailure(message, source.repairs);
    if (plain) {
      yield { type: 'report', document, report: plain };
      return;
    }
    const forwarded = parts.find((part) => part.type === 'message/rfc822' && part !== message);
    if (forwarded) {
      yield* this.extract({
        reader: ByteReader.fromBuffer(forwarded.body()),
        name: undefined,
        contentType: 'message/rfc822',
        path: [...source.path, 'forwarded message'],
        repairs: source.repairs.child(),
      });
      return;
    }
    throw new ReportError('REPORT_EMAIL_NO_REPORT', 'e-mail holds no report: no report attachment, feedback report or failure text');
  }

  /** A leaf part that is, or claims to be, a report file; not a logo, a signature or the human-readable text. */
  private holdsReport(part: MimePart): boolean {
    if (part.type.startsWith('multipart/') || part.type === 'message/rfc822') return false;
    const body = part.body();
    if (body.length === 0) return false;
    const head = body.subarray(0, SNIFF_BYTES);
    const kind = sniffContent(head);
    // The readable text of a report mail (an HTML body starts with "<" too) is not the report.
    if (part.type.startsWith('text/') && part.type !== 'text/xml') {
      return kind === 'gzip' || kind === 'zip' || (kind === 'xml' && head.includes('<feedback'));
    }
    return REPORT_KINDS.has(kind) || REPORT_KINDS.has(declaredKind(part.filename, part.type));
  }
}
