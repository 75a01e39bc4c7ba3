import * as zlib from 'node:zlib';
import type { Duplex } from 'node:stream';
import { ReportError } from '../errors';
import type { ByteReader } from './byte-reader';
import type { DecompressionBudget } from './decompression-budget';

const OUTPUT_CHUNK = 64 * 1024;
// A deflate stream this small and already in memory (most reports: a few hundred bytes) is inflated in one
// synchronous call, where a stream would cost more than the inflating. Its output is capped, so a bomb costs
// at most that much before the streamed path takes over and refuses it at the budget, in bounded memory.
const SYNC_MAX_INPUT = 256 * 1024;
const SYNC_MAX_OUTPUT = 16 * 1024 * 1024;

/**
 * Inflates one raw deflate stream read from `reader`, yielding output chunks as they come (memory stays at
 * a few chunks, whatever the size; a small input held in memory comes out in one chunk of at most
 * SYNC_MAX_OUTPUT), and gives back to the reader every byte after the end of the deflate
 * data: the gzip trailer, a next gzip member, or the junk some senders append.
 *
 * Node's own gunzip cannot be used for that: on bytes after a member that are not another member it fails
 * ("incorrect header check") and drops the output of the last chunk (Mimecast reports end in "\r\n").
 */
export async function* inflateRaw(reader: ByteReader, budget: DecompressionBudget, what: string, framing: Framing = 'raw'): AsyncGenerator<Buffer> {
  const held = inflateHeld(reader, budget, framing);
  if (held) {
    budget.consume(held.output.length, what);
    await reader.skip(held.consumed);
    if (held.output.length > 0) yield held.output;
    return;
  }
  yield* inflateStreamed(reader, budget, what);
}

/**
 * What follows the deflate data: in a gzip member, its trailer, whose last four bytes are the output's length
 * (modulo 2^32). When the held input ends with that trailer, the output buffer is sized from it.
 */
export type Framing = 'raw' | 'gzip';

/** The synchronous fast path: the output and the input bytes it took, or null to leave it to the stream. */
function inflateHeld(reader: ByteReader, budget: DecompressionBudget, framing: Framing): { output: Buffer; consumed: number } | null {
  const cap = Math.min(budget.remaining, SYNC_MAX_OUTPUT);
  const input = cap > 0 ? reader.held(SYNC_MAX_INPUT) : null;
  if (!input) return null;
  try {
    // `info` gives the engine too: its bytesWritten is where the deflate data ended (trailer, next member, junk).
    const { buffer, engine } = zlib.inflateRawSync(input, { maxOutputLength: cap, info: true, chunkSize: outputChunkSize(input, framing) }) as unknown as {
      buffer: Buffer;
      engine: zlib.InflateRaw;
    };
    return { output: buffer, consumed: engine.bytesWritten };
  } catch {
    // Past the cap, truncated or corrupt: the streamed path reads it again and decides, so the bomb limit,
    // the error and the output before it are exactly what they always were.
    return null;
  }
}

/**
 * The output buffer's size: one byte more than the gzip trailer says the output is (a buffer filled exactly is
 * followed by another, empty one), so the output comes out of one buffer, neither a fresh 16 KiB one for a
 * report of 2 KiB nor many to concatenate. The trailer is only a hint (the bytes may be something else, or
 * lie): bounded, and a wrong one costs only more, smaller pieces.
 */
function outputChunkSize(input: Buffer, framing: Framing): number | undefined {
  if (framing !== 'gzip' || input.length < 8) return undefined;
  return Math.min(Math.max(input.readUInt32LE(input.length - 4) + 1, MIN_OUTPUT_CHUNK), MAX_OUTPUT_CHUNK);
}
const MIN_OUTPUT_CHUNK = 1024;
const MAX_OUTPUT_CHUNK = 1024 * 1024;

async function* inflateStreamed(reader: ByteReader, budget: DecompressionBudget, what: string): AsyncGenerator<Buffer> {
  const inflater = zlib.createInflateRaw({ chunkSize: OUTPUT_CHUNK });
  // Written chunks the inflater may not have consumed yet, and the count written before the first of them.
  const unconfirmed: Buffer[] = [];
  let confirmedBytes = 0;
  let unwritten: Buffer | null = null;
  let finished = false;

  const pump = async (): Promise<void> => {
    while (!finished) {
      const chunk = await reader.read();
      if (finished || inflater.destroyed) {
        unwritten = chunk;
        return;
      }
      if (!chunk) {
        inflater.end();
        return;
      }
      while (unconfirmed.length > 0 && confirmedBytes + unconfirmed[0].length <= inflater.bytesWritten) {
        confirmedBytes += unconfirmed.shift()!.length;
      }
      unconfirmed.push(chunk);
      if (!inflater.write(chunk)) await drainedOrClosed(inflater);
    }
  };
  const pumping = pump().catch((err: unknown) => {
    inflater.destroy(err instanceof Error ? err : new Error(String(err)));
  });

  let completed = false;
  try {
    for await (const out of inflater as AsyncIterable<Buffer>) {
      budget.consume(out.length, what);
      yield out;
    }
    completed = true;
  } catch (err) {
    throw asDecompressionError(err, what);
  } finally {
    finished = true;
    // Writes racing the teardown must not surface as an unhandled 'error' event.
    inflater.on('error', () => undefined);
    if (!completed) inflater.destroy();
  }
  inflater.destroy();
  await pumping;

  // bytesWritten counts what the engine consumed: everything after that is not deflate data.
  if (unwritten) reader.unshift(unwritten);
  const consumedInUnconfirmed = inflater.bytesWritten - confirmedBytes;
  const tail = Buffer.concat(unconfirmed).subarray(consumedInUnconfirmed);
  reader.unshift(tail);
}

export function asDecompressionError(err: unknown, what: string): unknown {
  if (err instanceof ReportError) return err;
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  if (code === 'Z_BUF_ERROR' || /unexpected end/i.test(message)) {
    return new ReportError('REPORT_DECOMPRESSION_FAILED', `${what} is truncated: the compressed data ends early`, {
      cause: err,
    });
  }
  if (typeof code === 'string' && code.startsWith('Z_')) {
    return new ReportError('REPORT_DECOMPRESSION_FAILED', `${what} is corrupt: ${message}`, { cause: err });
  }
  return err;
}

function drainedOrClosed(stream: Duplex): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}
