import { isUtf8 } from 'node:buffer';
import { TextDecoder } from 'node:util';
import { ReportError } from '../errors';
import type { RepairLog } from '../repair-log';

// Enough of the head to read the XML declaration's encoding before decoding anything.
const DETECT_BYTES = 1024;

/**
 * Bytes to text for the XML tokenizer, chunk by chunk: picks the encoding from the BOM or the declaration,
 * decodes non-UTF-8 encodings (windows-1252, ISO-8859-x, UTF-16...), and replaces invalid UTF-8 bytes with
 * U+FFFD, noting each of these as a repair. UTF-8, the common case, takes Node's native decoder.
 */
export class XmlTextDecoder {
  private head: Buffer[] | null = [];
  private headLength = 0;
  private decoder: TextDecoder | null = null;
  private carry: Buffer | null = null;
  private bytesSeen = 0;
  private invalidNoted = false;

  constructor(private readonly repairs: RepairLog) {}

  decode(chunk: Buffer): string {
    if (this.head) {
      this.head.push(chunk);
      this.headLength += chunk.length;
      if (this.headLength < DETECT_BYTES) return '';
      return this.decodeDetected(this.detect());
    }
    return this.decodeDetected(chunk);
  }

  end(): string {
    const rest = this.head ? this.decodeDetected(this.detect()) : '';
    if (this.decoder) return rest + this.decoder.decode();
    const carry = this.carry;
    this.carry = null;
    if (!carry) return rest;
    this.checkUtf8(carry);
    return rest + carry.toString('utf8');
  }

  private decodeDetected(chunk: Buffer): string {
    if (this.decoder) return this.decoder.decode(chunk, { stream: true });
    const bytes = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    const complete = completeUtf8Length(bytes);
    this.carry = complete < bytes.length ? Buffer.from(bytes.subarray(complete)) : null;
    const part = complete < bytes.length ? bytes.subarray(0, complete) : bytes;
    this.checkUtf8(part);
    return part.toString('utf8');
  }

  private checkUtf8(part: Buffer): void {
    if (!this.invalidNoted && !isUtf8(part)) {
      this.invalidNoted = true;
      const at = firstInvalidUtf8(part);
      this.repairs.note(
        'invalid-utf8',
        `invalid UTF-8 byte 0x${part[at].toString(16).padStart(2, '0')} at byte ${this.bytesSeen + at} replaced by U+FFFD`,
      );
    }
    this.bytesSeen += part.length;
  }

  /** Chooses the decoder from the head and returns the head with any BOM removed. */
  private detect(): Buffer {
    const parts = this.head ?? [];
    const head = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    this.head = null;
    if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) {
      this.repairs.note('bom', 'UTF-8 byte order mark removed');
      return head.subarray(3);
    }
    if ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0x3c && head[1] === 0x00 && head[2] === 0x3f)) {
      this.decoder = new TextDecoder('utf-16le');
      return head;
    }
    if ((head[0] === 0xfe && head[1] === 0xff) || (head[0] === 0x00 && head[1] === 0x3c && head[2] === 0x00)) {
      this.decoder = new TextDecoder('utf-16be');
      return head;
    }
    const declared = declaredEncoding(head);
    if (declared === undefined || /^utf-?8$/i.test(declared)) return head;
    if (/^utf-?16/i.test(declared) || /^(ucs-2|utf-?32)/i.test(declared)) {
      // The declaration was readable as ASCII, so the bytes are not UTF-16 whatever it says.
      this.repairs.note('encoding-mismatch', `declared encoding ${declared} does not match the 8-bit bytes; read as UTF-8`);
      return head;
    }
    try {
      this.decoder = new TextDecoder(declared.toLowerCase());
    } catch (err) {
      throw new ReportError('REPORT_ENCODING_UNSUPPORTED', `XML declares encoding "${declared}", which cannot be decoded`, {
        cause: err,
      });
    }
    this.repairs.note('encoding', `decoded from the declared encoding ${declared}`);
    return head;
  }
}

function declaredEncoding(head: Buffer): string | undefined {
  const text = head.subarray(0, DETECT_BYTES).toString('latin1');
  return /^\s*<\?xml\s[^>]*?encoding\s*=\s*["']\s*([A-Za-z0-9._:-]+)\s*["']/.exec(text)?.[1];
}

/** Length of the prefix that ends on a whole UTF-8 character; the rest waits for the next chunk. */
export function completeUtf8Length(bytes: Buffer): number {
  const len = bytes.length;
  for (let i = len - 1; i >= 0 && i >= len - 4; i--) {
    const b = bytes[i];
    if ((b & 0xc0) === 0x80) continue;
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return i + need > len ? i : len;
  }
  return len;
}

function firstInvalidUtf8(bytes: Buffer): number {
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i];
    const need = b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0;
    if (need === 0) return i;
    for (let j = 1; j < need; j++) if ((bytes[i + j] & 0xc0) !== 0x80) return i;
    // Overlong forms and surrogates pass the lead/continuation test; isUtf8 on the one sequence catches them.
    if (need > 1 && !isUtf8(bytes.subarray(i, i + need))) return i;
    i += need;
  }
  return 0;
}
