import * as zlib from 'node:zlib';
import { ReportError } from '../errors';
import { ByteReader } from './byte-reader';
import type { DecompressionBudget } from './decompression-budget';
import { inflateRaw } from './raw-inflate';

/** One file of a zip archive, as its central directory describes it. */
export interface ZipEntry {
  readonly name: string;
  readonly method: number;
  readonly crc32: number;
  readonly compressedSize: number;
  readonly dataOffset: number;
}

const EOCD_SIGNATURE = 0x06054b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const EOCD_MIN = 22;
const STORED = 0;
const DEFLATED = 8;
const FLAG_ENCRYPTED = 0x0001;
const FLAG_UTF8 = 0x0800;

/**
 * Lists the files of a zip held in memory, by its central directory (the local headers can lie). Refuses the
 * whole archive when any entry name climbs out of it, whether in the central or the local header: nothing is
 * ever written to disk here, but an archive built to attack extractors is not a report.
 */
export function listZipEntries(zip: Buffer, maxEntries: number, what: string): ZipEntry[] {
  const eocd = findEndOfCentralDirectory(zip, what);
  const count = zip.readUInt16LE(eocd + 10);
  const directorySize = zip.readUInt32LE(eocd + 12);
  const directoryOffset = zip.readUInt32LE(eocd + 16);
  if (count === 0xffff || directoryOffset === 0xffffffff) {
    throw invalid(what, 'zip64 archives are not supported');
  }
  if (count > maxEntries) throw invalid(what, `has ${count} entries, more than the ${maxEntries} allowed`);
  if (directoryOffset + directorySize > eocd) throw invalid(what, 'central directory lies outside the archive');

  const entries: ZipEntry[] = [];
  let at = directoryOffset;
  for (let i = 0; i < count; i++) {
    if (at + 46 > zip.length || zip.readUInt32LE(at) !== CENTRAL_SIGNATURE) {
      throw invalid(what, `central directory entry ${i + 1} is damaged`);
    }
    const flags = zip.readUInt16LE(at + 8);
    const method = zip.readUInt16LE(at + 10);
    const crc32 = zip.readUInt32LE(at + 16);
    const compressedSize = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const localOffset = zip.readUInt32LE(at + 42);
    const name = decodeName(zip.subarray(at + 46, at + 46 + nameLength), flags);
    at += 46 + nameLength + extraLength + commentLength;

    refuseTraversal(name, what);
    if (name.endsWith('/') || name.startsWith('__MACOSX/')) continue;
    if (flags & FLAG_ENCRYPTED) throw invalid(what, `entry ${name} is encrypted`);
    if (method !== STORED && method !== DEFLATED) {
      throw invalid(what, `entry ${name} uses compression method ${method}; only stored and deflate are read`);
    }
    const dataOffset = localDataOffset(zip, localOffset, name, what);
    if (dataOffset + compressedSize > zip.length) throw invalid(what, `entry ${name} runs past the end of the archive`);
    entries.push({ name, method, crc32, compressedSize, dataOffset });
  }
  return entries;
}

/** The entry's bytes, decompressed as a stream and checked against the CRC the directory gives. */
export async function* readZipEntry(
  zip: Buffer,
  entry: ZipEntry,
  budget: DecompressionBudget,
  what: string,
): AsyncGenerator<Buffer> {
  const data = zip.subarray(entry.dataOffset, entry.dataOffset + entry.compressedSize);
  const chunks = entry.method === STORED ? ByteReader.fromBuffer(data) : null;
  let crc = 0;
  const source = chunks ? drain(chunks) : inflateRaw(ByteReader.fromBuffer(data), budget, what);
  for await (const chunk of source) {
    crc = zlib.crc32(chunk, crc);
    yield chunk;
  }
  if (crc >>> 0 !== entry.crc32) {
    throw new ReportError('REPORT_DECOMPRESSION_FAILED', `${what} is corrupt: CRC-32 mismatch`);
  }
}

async function* drain(reader: ByteReader): AsyncGenerator<Buffer> {
  for (let chunk = await reader.read(); chunk; chunk = await reader.read()) yield chunk;
}

function findEndOfCentralDirectory(zip: Buffer, what: string): number {
  // The record ends the file, followed at most by a 64 KiB comment.
  const lowest = Math.max(0, zip.length - EOCD_MIN - 0xffff);
  for (let at = zip.length - EOCD_MIN; at >= lowest; at--) {
    if (zip.readUInt32LE(at) === EOCD_SIGNATURE) return at;
  }
  throw invalid(what, 'no end of central directory: the archive is truncated or not a zip');
}

function localDataOffset(zip: Buffer, offset: number, centralName: string, what: string): number {
  if (offset + 30 > zip.length || zip.readUInt32LE(offset) !== LOCAL_SIGNATURE) {
    throw invalid(what, `local header of entry ${centralName} is missing`);
  }
  const nameLength = zip.readUInt16LE(offset + 26);
  const extraLength = zip.readUInt16LE(offset + 28);
  const localName = decodeName(zip.subarray(offset + 30, offset + 30 + nameLength), zip.readUInt16LE(offset + 6));
  refuseTraversal(localName, what);
  return offset + 30 + nameLength + extraLength;
}

function decodeName(bytes: Buffer, flags: number): string {
  return bytes.toString(flags & FLAG_UTF8 ? 'utf8' : 'latin1');
}

function refuseTraversal(name: string, what: string): void {
  const path = name.replace(/\\/g, '/');
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path) || path.split('/').includes('..') || path.includes('\0')) {
    throw new ReportError('REPORT_ZIP_TRAVERSAL', `${what} has an entry named "${name}" that points outside the archive`);
  }
}

function invalid(what: string, reason: string): ReportError {
  return new ReportError('REPORT_ZIP_INVALID', `${what} ${reason}`);
}
