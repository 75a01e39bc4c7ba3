import { isUtf8 } from 'node:buffer';
import { TextDecoder } from 'node:util';

/**
 * The header block of a message or a MIME part (RFC 5322 §2.2), unfolded. The text comes in as latin1 (one
 * char per byte), so raw UTF-8 in a header (RFC 6532) is re-read as UTF-8 by `text()`.
 */
export class MimeHeaders {
  private constructor(private readonly fields: ReadonlyArray<readonly [string, string]>) {}

  static parse(block: string): MimeHeaders {
    const fields: Array<[string, string]> = [];
    for (const line of block.split(/\r?\n/)) {
      if (line === '') continue;
      const first = line.charCodeAt(0);
      if ((first === 0x20 || first === 0x09) && fields.length > 0) {
        fields[fields.length - 1][1] += line;
        continue;
      }
      const colon = line.indexOf(':');
      // Lines that are not fields (an mbox "From " line, junk) are skipped rather than refused.
      if (colon <= 0 || /[\s]/.test(line.slice(0, colon).trimEnd())) continue;
      fields.push([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1)]);
    }
    return new MimeHeaders(fields);
  }

  /** The raw (still encoded) value of the first field of that name, trimmed. */
  get(name: string): string | undefined {
    const key = name.toLowerCase();
    for (const [field, value] of this.fields) if (field === key) return value.trim();
    return undefined;
  }

  getAll(name: string): string[] {
    const key = name.toLowerCase();
    return this.fields.filter(([field]) => field === key).map(([, value]) => value.trim());
  }

  /** The first field's value as readable text: encoded words decoded, folding whitespace collapsed. */
  text(name: string): string | undefined {
    const raw = this.get(name);
    return raw === undefined ? undefined : decodeHeaderText(raw);
  }

  get size(): number {
    return this.fields.length;
  }
}

/** `type/subtype; key=value; key="quoted value"`, with RFC 2231 continuations and charsets. */
export interface ContentType {
  readonly type: string;
  readonly params: Readonly<Record<string, string>>;
}

export function parseContentType(value: string | undefined, fallback = 'text/plain'): ContentType {
  if (!value) return { type: fallback, params: {} };
  const semi = value.indexOf(';');
  const type = (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
  return { type: type.includes('/') ? type : fallback, params: semi < 0 ? {} : parseParams(value.slice(semi + 1)) };
}

function parseParams(text: string): Record<string, string> {
  const plain: Record<string, string> = {};
  const pieces: Record<string, Array<{ index: number; value: string; encoded: boolean }>> = {};
  const pattern = /([^=;\s]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/g;
  for (let m = pattern.exec(text); m; m = pattern.exec(text)) {
    const key = m[1].toLowerCase();
    const value = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3].trim();
    const extended = /^(.+?)\*(\d+)?(\*)?$/.exec(key);
    if (!extended) {
      plain[key] = value;
      continue;
    }
    const base = extended[1];
    (pieces[base] ??= []).push({
      index: extended[2] === undefined ? 0 : Number(extended[2]),
      value,
      encoded: extended[3] !== undefined || extended[2] === undefined,
    });
  }
  for (const [key, parts] of Object.entries(pieces)) {
    parts.sort((a, b) => a.index - b.index);
    plain[key] = decodeRfc2231(parts);
  }
  return plain;
}

function decodeRfc2231(parts: Array<{ value: string; encoded: boolean }>): string {
  let charset = 'utf-8';
  const bytes: number[] = [];
  parts.forEach((part, i) => {
    let value = part.value;
    if (i === 0 && part.encoded) {
      const match = /^([^']*)'[^']*'(.*)$/.exec(value);
      if (match) {
        charset = match[1] || charset;
        value = match[2];
      }
    }
    if (part.encoded) {
      for (let j = 0; j < value.length; j++) {
        if (value[j] === '%' && /^[0-9A-Fa-f]{2}$/.test(value.slice(j + 1, j + 3))) {
          bytes.push(parseInt(value.slice(j + 1, j + 3), 16));
          j += 2;
        } else bytes.push(value.charCodeAt(j) & 0xff);
      }
    } else {
      for (let j = 0; j < value.length; j++) bytes.push(value.charCodeAt(j) & 0xff);
    }
  });
  return decodeCharset(Buffer.from(bytes), charset);
}

/** RFC 2047 encoded words (`=?utf-8?B?...?=`), and raw UTF-8 bytes, made readable. */
export function decodeHeaderText(raw: string): string {
  const unfolded = raw.replace(/\r?\n/g, '').replace(/\s+/g, ' ').trim();
  const joined = unfolded.replace(/(=\?[^?]+\?[BbQq]\?[^?]*\?=)\s+(?==\?)/g, '$1');
  const decoded = joined.replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_all, charset: string, kind: string, text: string) => {
    const bytes =
      kind.toUpperCase() === 'B'
        ? Buffer.from(text, 'base64')
        : Buffer.from(
            text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))),
            'latin1',
          );
    return decodeCharset(bytes, charset.split('*')[0]);
  });
  return latin1ToUtf8IfValid(decoded);
}

export function decodeCharset(bytes: Buffer, charset: string): string {
  try {
    return new TextDecoder(charset.trim().toLowerCase() || 'utf-8').decode(bytes);
  } catch {
    return bytes.toString('utf8');
  }
}

function latin1ToUtf8IfValid(text: string): string {
  // Only strings whose every char is a byte (< 0x100) and which have high bytes can be raw UTF-8.
  if (!/[\u0080-\u00ff]/.test(text) || /[^\u0000-\u00ff]/.test(text)) return text;
  const bytes = Buffer.from(text, 'latin1');
  return isUtf8(bytes) ? bytes.toString('utf8') : text;
}
