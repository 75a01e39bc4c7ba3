/**
 * What kind of report a payload is, decided by its first bytes only: declared MIME types and file names
 * lie often enough in real mail pipelines (a "gzip" that is plain XML) that they are never trusted here.
 * The parser makes the full decision later; this is the cheap gate that turns away bytes no parser could
 * read, so ingestion answers 415 at once instead of the report failing later in the pipeline.
 */
export type ReportContentKind = 'xml' | 'gzip' | 'zip' | 'email' | 'json';

/** How many head bytes `sniffReportContent` looks at. */
export const SNIFF_HEAD_BYTES = 1024;

/** The MIME type recorded for each kind: what the bytes are, not what the sender claimed. */
export const CONTENT_TYPE_OF: Readonly<Record<ReportContentKind, string>> = {
  xml: 'application/xml',
  gzip: 'application/gzip',
  zip: 'application/zip',
  email: 'message/rfc822',
  json: 'application/json',
};

// An RFC 5322 field name is printable ASCII except ':'; an mbox export starts with "From ".
const HEADER_FIELD = /^[!-9;-~]+:/;
const MBOX_SEPARATOR = /^From \S/;
const CONTINUATION = /^[ \t]/;

export function sniffReportContent(bytes: Uint8Array): ReportContentKind | 'empty' | 'unknown' {
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, SNIFF_HEAD_BYTES));
  if (head.length === 0) return 'empty';
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  // Local file header only: an empty archive (PK\x05\x06) carries no report.
  if (head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) return 'zip';
  const text = decodeHead(head);
  const start = text.search(/\S/);
  if (start < 0) return 'empty';
  if (text[start] === '<') return 'xml';
  if (text[start] === '{') return 'json';
  return looksLikeMessageHeader(text.slice(start)) ? 'email' : 'unknown';
}

/** A short, printable account of the first bytes, for the message of a refusal. */
export function describeHead(bytes: Uint8Array): string {
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, 8));
  const hex = [...head].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  return `bytes ${hex} ("${head.toString('latin1').replace(/[^\x20-\x7e]/g, '.')}")`;
}

// Every line up to the blank line (or the end of what we were given) must be a header field, a folded
// continuation of one, or the mbox separator first: one stray line of prose is not an e-mail.
function looksLikeMessageHeader(text: string): boolean {
  const lines = text.split('\n');
  // The last line may be cut off by the sniff window; judge only complete lines unless it is the only one.
  const complete = lines.length > 1 ? lines.slice(0, -1) : lines;
  let fields = 0;
  for (const [i, raw] of complete.entries()) {
    const line = raw.replace(/\r$/, '');
    if (line === '') break;
    if (HEADER_FIELD.test(line)) fields++;
    else if (i === 0 && MBOX_SEPARATOR.test(line)) continue;
    else if (!(fields > 0 && CONTINUATION.test(line))) return false;
  }
  return fields > 0;
}

function decodeHead(head: Buffer): string {
  if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) return head.subarray(3).toString('latin1');
  if (head[0] === 0xff && head[1] === 0xfe) return head.subarray(2).toString('utf16le');
  if (head[0] === 0xfe && head[1] === 0xff) return swapped(head.subarray(2)).toString('utf16le');
  // UTF-16 XML without a BOM: "<" with a zero byte beside it.
  if (head[0] === 0x3c && head[1] === 0x00) return head.toString('utf16le');
  if (head[0] === 0x00 && head[1] === 0x3c) return swapped(head).toString('utf16le');
  return head.toString('latin1');
}

function swapped(bytes: Buffer): Buffer {
  return Buffer.from(bytes.subarray(0, bytes.length & ~1)).swap16();
}
