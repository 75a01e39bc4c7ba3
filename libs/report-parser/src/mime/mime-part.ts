import { ReportError } from '../errors';
import { decodeCharset, MimeHeaders, parseContentType } from './mime-headers';

/** One node of a MIME tree (RFC 2045/2046): a whole message, a multipart container, or a leaf part. */
export interface MimePart {
  readonly headers: MimeHeaders;
  /** Lower-case `type/subtype`; `text/plain` when absent (RFC 2045 §5.2). */
  readonly type: string;
  readonly params: Readonly<Record<string, string>>;
  /** From Content-Disposition `filename`, else Content-Type `name`. */
  readonly filename: string | undefined;
  readonly transferEncoding: string;
  /** Sub-parts of a multipart; empty for a leaf. */
  readonly children: readonly MimePart[];
  /** The body with its transfer encoding undone. */
  body(): Buffer;
  /** The body as text in its declared charset. */
  text(): string;
}

const MAX_DEPTH = 10;
const MAX_PARTS = 1000;

/** Parses a whole message held in memory. Lenient where real mailers are sloppy, bounded where hostile. */
export function parseMimeMessage(message: Buffer): MimePart {
  const counter = { parts: 0 };
  return parsePart(message.toString('latin1'), 0, counter);
}

function parsePart(text: string, depth: number, counter: { parts: number }): MimePart {
  if (++counter.parts > MAX_PARTS) {
    throw new ReportError('REPORT_UNSUPPORTED_CONTENT', `e-mail has more than ${MAX_PARTS} MIME parts`);
  }
  const { headerBlock, bodyText } = splitHeaderAndBody(text);
  const headers = MimeHeaders.parse(headerBlock);
  const contentType = parseContentType(headers.get('content-type'));
  const disposition = parseContentType(headers.get('content-disposition'), 'inline');
  const transferEncoding = (headers.get('content-transfer-encoding') ?? '7bit').toLowerCase();
  const filename = disposition.params.filename ?? contentType.params.name;

  let children: MimePart[] = [];
  const boundary = contentType.params.boundary;
  if (contentType.type.startsWith('multipart/') && boundary) {
    if (depth >= MAX_DEPTH) {
      throw new ReportError('REPORT_UNSUPPORTED_CONTENT', `e-mail MIME parts are nested deeper than ${MAX_DEPTH}`);
    }
    children = splitMultipart(bodyText, boundary).map((partText) => parsePart(partText, depth + 1, counter));
  }

  let decoded: Buffer | undefined;
  const body = (): Buffer => (decoded ??= decodeTransferEncoding(bodyText, transferEncoding));
  return {
    headers,
    type: contentType.type,
    params: contentType.params,
    filename,
    transferEncoding,
    children,
    body,
    text: () => decodeCharset(body(), contentType.params.charset ?? 'utf-8'),
  };
}

function splitHeaderAndBody(text: string): { headerBlock: string; bodyText: string } {
  // A part that starts with a blank line has no headers at all.
  const leading = /^\r?\n/.exec(text);
  if (leading) return { headerBlock: '', bodyText: text.slice(leading[0].length) };
  const blank = /\r?\n\r?\n/.exec(text);
  if (!blank) return { headerBlock: text, bodyText: '' };
  return { headerBlock: text.slice(0, blank.index), bodyText: text.slice(blank.index + blank[0].length) };
}

/** The texts between `--boundary` lines; a missing close delimiter (a truncated mail) ends at the end. */
function splitMultipart(body: string, boundary: string): string[] {
  const delimiter = `--${boundary}`;
  const parts: string[] = [];
  let start = -1;
  let from = 0;
  for (;;) {
    const at = body.indexOf(delimiter, from);
    if (at < 0) break;
    from = at + delimiter.length;
    if (at > 0 && body.charCodeAt(at - 1) !== 0x0a) continue;
    const lineEnd = body.indexOf('\n', from);
    // "--b" must be the whole line (bar "--" and blanks), or "--b2" would split a part of "--b".
    if (!/^(--)?[ \t]*\r?$/.test(body.slice(from, lineEnd < 0 ? body.length : lineEnd))) continue;
    if (start >= 0) parts.push(body.slice(start, trimLineBreakBefore(body, at)));
    const closing = body.startsWith('--', from);
    if (closing) return parts;
    start = lineEnd < 0 ? body.length : lineEnd + 1;
  }
  if (start >= 0 && start < body.length) parts.push(body.slice(start));
  return parts;
}

function trimLineBreakBefore(body: string, at: number): number {
  if (at >= 2 && body.charCodeAt(at - 2) === 0x0d) return at - 2;
  return at - 1;
}

function decodeTransferEncoding(body: string, encoding: string): Buffer {
  // Node's base64 decoder skips line breaks and stray characters itself: no copy of a large body to clean it.
  if (encoding === 'base64') return Buffer.from(body, 'base64');
  if (encoding === 'quoted-printable') return decodeQuotedPrintable(body);
  return Buffer.from(body, 'latin1');
}

export function decodeQuotedPrintable(body: string): Buffer {
  const out = Buffer.allocUnsafe(body.length);
  let n = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body.charCodeAt(i);
    if (c !== 0x3d) {
      out[n++] = c;
      continue;
    }
    const hex = body.slice(i + 1, i + 3);
    if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
      out[n++] = parseInt(hex, 16);
      i += 2;
    } else if (body[i + 1] === '\r' && body[i + 2] === '\n') {
      i += 2;
    } else if (body[i + 1] === '\n') {
      i += 1;
    } else {
      out[n++] = c;
    }
  }
  return out.subarray(0, n);
}
