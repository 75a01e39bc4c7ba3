import { sniffContent, SNIFF_BYTES, type ContentKind } from '@dmarc/report-parser';

/**
 * What kind of report a payload is, decided by its first bytes only: declared MIME types and file names
 * lie often enough in real mail pipelines (a "gzip" that is plain XML) that they are never trusted here.
 * The parser makes the full decision later; this is the cheap gate that turns away bytes no parser could
 * read, so ingestion answers 415 at once instead of the report failing later in the pipeline.
 */
export type ReportContentKind = Exclude<ContentKind, 'empty' | 'unknown'>;

/** How many head bytes `sniffReportContent` looks at. */
export const SNIFF_HEAD_BYTES = SNIFF_BYTES;

/** The MIME type recorded for each kind: what the bytes are, not what the sender claimed. */
export const CONTENT_TYPE_OF: Readonly<Record<ReportContentKind, string>> = {
  xml: 'application/xml',
  gzip: 'application/gzip',
  zip: 'application/zip',
  email: 'message/rfc822',
  json: 'application/json',
};

/** The platform's one content sniffer (the parser dispatches on the same decision), typed for ingestion. */
export function sniffReportContent(bytes: Uint8Array): ReportContentKind | 'empty' | 'unknown' {
  return sniffContent(bytes);
}

/** A short, printable account of the first bytes, for the message of a refusal. */
export function describeHead(bytes: Uint8Array): string {
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, 8));
  const hex = [...head].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  return `bytes ${hex} ("${head.toString('latin1').replace(/[^\x20-\x7e]/g, '.')}")`;
}
