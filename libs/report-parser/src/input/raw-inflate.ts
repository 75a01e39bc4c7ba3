import * as zlib from 'node:zlib';
import type { Duplex } from 'node:stream';
import { ReportError } from '../errors';
import type { ByteReader } from './byte-reader';
import type { DecompressionBudget } from './decompression-budget';

const OUTPUT_CHUNK = 64 * 1024;

/**
 * Inflates one raw deflate stream read from `reader`, yielding output chunks as they come (memory stays at
 * a few chunks, whatever the size), and gives back to the reader every byte after the end of the deflate
 * data: the gzip trailer, a next gzip member, or the junk some senders append.
 *
 * Node's own gunzip cannot be used for that: on bytes after a member that are not another member it fails
 * ("incorrect header check") and drops the output of the last chunk (Mimecast reports end in "\r\n").
 */
export async function* inflateRaw(reader: ByteReader, budget: DecompressionBudget, what: string): AsyncGenerator<Buffer> {
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
