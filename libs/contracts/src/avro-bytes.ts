import type * as avro from 'avsc';

// avsc's `toBuffer` writes into one shared 1 KiB buffer and, when a value does not fit, writes all of it again into
// a buffer of the size it found: every message over 1 KiB (most report chunks and received reports) was encoded
// twice. Here a scratch buffer grows to the largest value met (up to SCRATCH_MAX), so each is written once and its
// bytes copied out. Synchronous, so one scratch buffer serves the whole process.
const SCRATCH_START = 64 * 1024;
const SCRATCH_MAX = 8 * 1024 * 1024;
let scratch = Buffer.allocUnsafeSlow(SCRATCH_START);

/** The Avro bytes of `value` (a copy: the caller owns them). Throws as `type.toBuffer` does on a value that does not match. */
export function avroBytes(type: avro.Type, value: unknown): Buffer {
  const end = type.encode(value, scratch, 0);
  if (end >= 0) return Buffer.from(scratch.subarray(0, end));
  // Did not fit: avsc says by how much. Larger than we keep: avsc's own way, for this value only.
  const needed = scratch.length - end;
  if (needed > SCRATCH_MAX) return type.toBuffer(value);
  scratch = Buffer.allocUnsafeSlow(Math.min(SCRATCH_MAX, Math.max(needed, scratch.length * 2)));
  return avroBytes(type, value);
}
