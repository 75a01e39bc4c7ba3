import * as zlib from 'node:zlib';
import { ReportError } from '../errors';
import type { RepairLog } from '../repair-log';
import type { ByteReader } from './byte-reader';
import type { DecompressionBudget } from './decompression-budget';
import { inflateRaw } from './raw-inflate';

const FHCRC = 0x02;
const FEXTRA = 0x04;
const FNAME = 0x08;
const FCOMMENT = 0x10;
const MAX_HEADER_FIELD = 64 * 1024;

/**
 * Decompresses gzip (RFC 1952) as a stream: every member in turn, each checked against its CRC-32 and
 * length, and trailing bytes after the last member tolerated with a repair note.
 */
export async function* gunzip(
  reader: ByteReader,
  budget: DecompressionBudget,
  repairs: RepairLog,
  what: string,
): AsyncGenerator<Buffer> {
  for (;;) {
    await readMemberHeader(reader, what);
    let crc = 0;
    let size = 0;
    for await (const chunk of inflateRaw(reader, budget, what, 'gzip')) {
      crc = zlib.crc32(chunk, crc);
      size = (size + chunk.length) >>> 0;
      yield chunk;
    }
    const trailer = await reader.readExactly(8);
    if (trailer.length < 8) {
      throw new ReportError('REPORT_DECOMPRESSION_FAILED', `${what} is truncated: the gzip trailer is missing`);
    }
    if (trailer.readUInt32LE(0) !== crc >>> 0 || trailer.readUInt32LE(4) !== size) {
      throw new ReportError('REPORT_DECOMPRESSION_FAILED', `${what} is corrupt: gzip checksum or length mismatch`);
    }
    const next = await reader.peek(2);
    if (next.length === 0) return;
    if (next.length === 2 && next[0] === 0x1f && next[1] === 0x8b) continue;
    // Not another member: what some gateways append (Mimecast adds "\r\n" inside the base64). Not read further.
    if (!isZeroPadding(await reader.peek(512))) {
      repairs.note('gzip-trailing', `bytes after the end of the gzip data in ${what} were ignored`);
    }
    await reader.close();
    return;
  }
}

async function readMemberHeader(reader: ByteReader, what: string): Promise<void> {
  const fixed = await reader.readExactly(10);
  if (fixed.length < 10 || fixed[0] !== 0x1f || fixed[1] !== 0x8b) {
    throw new ReportError('REPORT_DECOMPRESSION_FAILED', `${what} is not valid gzip: bad header`);
  }
  if (fixed[2] !== 8) {
    throw new ReportError('REPORT_DECOMPRESSION_FAILED', `${what} uses gzip method ${fixed[2]}, only deflate (8) exists`);
  }
  const flags = fixed[3];
  if (flags & FEXTRA) {
    const len = await reader.readExactly(2);
    if (len.length < 2) throw truncatedHeader(what);
    await reader.skip(len.readUInt16LE(0));
  }
  if (flags & FNAME) await skipZeroTerminated(reader, what);
  if (flags & FCOMMENT) await skipZeroTerminated(reader, what);
  if (flags & FHCRC) await reader.skip(2);
}

async function skipZeroTerminated(reader: ByteReader, what: string): Promise<void> {
  let skipped = 0;
  for (;;) {
    const chunk = await reader.read();
    if (!chunk) throw truncatedHeader(what);
    const zero = chunk.indexOf(0);
    if (zero >= 0) {
      reader.unshift(chunk.subarray(zero + 1));
      return;
    }
    skipped += chunk.length;
    if (skipped > MAX_HEADER_FIELD) {
      throw new ReportError('REPORT_DECOMPRESSION_FAILED', `${what} is not valid gzip: header name never ends`);
    }
  }
}

function truncatedHeader(what: string): ReportError {
  return new ReportError('REPORT_DECOMPRESSION_FAILED', `${what} is truncated: the gzip header is incomplete`);
}

function isZeroPadding(bytes: Buffer): boolean {
  for (const b of bytes) if (b !== 0) return false;
  return true;
}
