/** What a run of bytes is, decided by the bytes: names and declared types are only hints that can lie. */
export type ContentKind = 'empty' | 'gzip' | 'zip' | 'xml' | 'json' | 'email' | 'unknown';

/** How many head bytes `sniffContent` wants to see. */
export const SNIFF_BYTES = 1024;

// An RFC 5322 field name is printable ASCII except ':'; an mbox export starts with "From ".
const HEADER_FIELD = /^[!-9;-~]+:/;
const MBOX_SEPARATOR = /^From \S/;
const CONTINUATION = /^[ \t]/;

/**
 * The kind of the bytes, from their head alone. One decision for the whole platform: ingestion turns
 * away what this calls `unknown` (415) and the parser dispatches on it, so the two never disagree.
 */
export function sniffContent(bytes: Uint8Array): ContentKind {
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, SNIFF_BYTES));
  if (head.length === 0) return 'empty';
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  // Local file header only: an empty archive (PK\x05\x06) carries no report.
  if (head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) return 'zip';
  const text = headText(head);
  const start = text.search(/\S/);
  if (start < 0) return 'empty';
  if (text[start] === '<') return 'xml';
  if (text[start] === '{') return 'json';
  return looksLikeMessageHeader(text.slice(start)) ? 'email' : 'unknown';
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

/** The kind a file name or MIME type claims, to note when the bytes say otherwise. */
export function declaredKind(name: string | undefined, contentType: string | undefined): ContentKind | undefined {
  const type = contentType?.split(';')[0].trim().toLowerCase();
  if (name !== undefined) {
    const lower = name.toLowerCase();
    if (/\.(gz|gzip)$/.test(lower)) return 'gzip';
    if (lower.endsWith('.zip')) return 'zip';
    if (lower.endsWith('.xml')) return 'xml';
    if (lower.endsWith('.json')) return 'json';
    if (lower.endsWith('.eml')) return 'email';
  }
  switch (type) {
    case 'application/gzip':
    case 'application/x-gzip':
    case 'application/tlsrpt+gzip':
      return 'gzip';
    case 'application/zip':
    case 'application/x-zip-compressed':
      return 'zip';
    case 'text/xml':
    case 'application/xml':
      return 'xml';
    case 'application/json':
    case 'application/tlsrpt+json':
      return 'json';
    case 'message/rfc822':
      return 'email';
    default:
      return undefined;
  }
}

/** A readable description of the head, for an "unsupported content" message. */
export function describeHead(head: Buffer): string {
  const hex = [...head.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  const printable = head.subarray(0, 8).toString('latin1').replace(/[^\x20-\x7e]/g, '.');
  return `starts with bytes ${hex} ("${printable}")`;
}

function headText(head: Buffer): string {
  if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) return head.subarray(3).toString('latin1');
  if (head[0] === 0xff && head[1] === 0xfe) return head.subarray(2).toString('utf16le');
  if (head[0] === 0xfe && head[1] === 0xff) return utf16be(head.subarray(2));
  // UTF-16 without a BOM: every other byte of "<?xml" is zero.
  if (head[0] === 0x3c && head[1] === 0x00) return head.toString('utf16le');
  if (head[0] === 0x00 && head[1] === 0x3c) return utf16be(head);
  return head.toString('latin1');
}

function utf16be(bytes: Buffer): string {
  return Buffer.from(bytes.subarray(0, bytes.length & ~1)).swap16().toString('utf16le');
}
