/**
 * Every way a report can be refused, each with its own stable code, so the DLQ, the status endpoint and
 * `dmarc parse` can say *why* (peers answer "not a valid report" to everything, and users hate it).
 * None is retriable: the same bytes fail the same way on every attempt.
 */
export type ReportErrorCode =
  /** Zero bytes, or a container (zip, e-mail part) with nothing in it. */
  | 'REPORT_EMPTY'
  /** Bytes that are none of XML, JSON, gzip, zip or an e-mail; or a nesting of containers deeper than allowed. */
  | 'REPORT_UNSUPPORTED_CONTENT'
  /** An input that must be held in memory (zip, e-mail, JSON) is larger than its configured limit. */
  | 'REPORT_TOO_LARGE'
  /** Decompressed output passed the configured limit: a compression bomb, or a report larger than allowed. */
  | 'REPORT_DECOMPRESSION_LIMIT'
  /** gzip/deflate data is corrupt or truncated, or its checksum does not match. */
  | 'REPORT_DECOMPRESSION_FAILED'
  /** A zip entry name climbs out of the archive (`../x`, `/etc/x`, `C:\x`). */
  | 'REPORT_ZIP_TRAVERSAL'
  /** The zip structure is broken, encrypted, zip64, or uses a compression method other than stored/deflate. */
  | 'REPORT_ZIP_INVALID'
  /** The e-mail has no report in it: no attachment, no feedback report, no TLS report. */
  | 'REPORT_EMAIL_NO_REPORT'
  /** The XML is not well-formed (bad tag, mismatched close tag, bad character reference...). */
  | 'REPORT_XML_INVALID'
  /** The XML ends before its root element is closed. */
  | 'REPORT_XML_TRUNCATED'
  /** A DTD declares entities, or the text refers to an entity that is not one of XML's five: never expanded. */
  | 'REPORT_XML_ENTITY_REFUSED'
  /** Elements nested deeper than allowed. */
  | 'REPORT_XML_TOO_DEEP'
  /** Well-formed XML, but no `<feedback>` element in it. */
  | 'REPORT_XML_NOT_AGGREGATE'
  /** One text node, tag, comment or DTD is longer than allowed (64 KiB by default), refused as soon as seen. */
  | 'REPORT_TEXT_TOO_LONG'
  /** The XML declares a character encoding this runtime cannot decode. */
  | 'REPORT_ENCODING_UNSUPPORTED'
  /** JSON that does not parse. */
  | 'REPORT_JSON_INVALID'
  /** A field the report cannot be counted without is absent (report_id, date_range, a record's count...). */
  | 'REPORT_FIELD_MISSING'
  /** A field is present but its value cannot be read (a count that is not a number, an unknown disposition...). */
  | 'REPORT_FIELD_INVALID'
  /** `parseReport` was given an input holding several reports; use `parseReports`. */
  | 'REPORT_MULTIPLE';

/** Where in the input the problem is; everything optional, filled in where known. */
export interface ReportErrorDetails {
  /** The document inside the input: `report.eml > google.com!x.zip > google.com!x.xml`. */
  readonly document?: string;
  /** The element or field: `record[12]/row/count`, `report_metadata/report_id`, `policies[0].summary`. */
  readonly field?: string;
  /** 1-based position in the decoded XML text. */
  readonly line?: number;
  readonly column?: number;
  readonly cause?: unknown;
}

export class ReportError extends Error {
  /** Same input, same failure: never worth a retry. */
  readonly retriable = false;
  readonly document?: string;
  readonly field?: string;
  readonly line?: number;
  readonly column?: number;

  constructor(
    readonly code: ReportErrorCode,
    /** The reason alone, one line; `message` adds the document and the position. */
    readonly reason: string,
    details: ReportErrorDetails = {},
  ) {
    super(formatMessage(reason, details), details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'ReportError';
    this.document = details.document;
    this.field = details.field;
    this.line = details.line;
    this.column = details.column;
  }

  /** The same error, told which document of a container it came from (set once, by the outermost caller). */
  inDocument(document: string): ReportError {
    if (this.document !== undefined || document === '') return this;
    return new ReportError(this.code, this.reason, {
      document,
      field: this.field,
      line: this.line,
      column: this.column,
      cause: this.cause,
    });
  }
}

export function isReportError(err: unknown): err is ReportError {
  return err instanceof ReportError;
}

function formatMessage(reason: string, details: ReportErrorDetails): string {
  const where = details.line === undefined ? '' : ` (line ${details.line}, column ${details.column ?? 0})`;
  const prefix = details.document ? `${details.document}: ` : '';
  return `${prefix}${reason}${where}`.replace(/[\r\n]+/g, ' ');
}
