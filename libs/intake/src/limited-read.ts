import { createHash } from 'node:crypto';

export interface ReadLimits {
  /** Largest body accepted, in bytes. */
  maxBytes: number;
  /** How much of an oversize body to keep, so the refusal can be looked at later. */
  headBytes: number;
  /** The length the sender announced (Content-Length), when it did. */
  declaredBytes?: number;
}

export type LimitedRead =
  | { readonly complete: true; readonly bytes: Buffer }
  | {
      readonly complete: false;
      /** The first `headBytes` bytes. */
      readonly head: Buffer;
      /** How many bytes were read before reading stopped. */
      readonly bytesRead: number;
      /** SHA-256 of every byte read (not of the whole body, which was never read). */
      readonly sha256: string;
      readonly declaredBytes?: number;
    };

/**
 * Reads a body up to `maxBytes` and stops as soon as it is known to be larger: a body announced as too
 * large is read only for its head, one that grows past the limit no further than the chunk that crossed
 * it. Memory stays within `maxBytes` plus one chunk either way.
 *
 * On stopping early the source is left unfinished rather than destroyed: destroying an HTTP request
 * destroys its socket, and the caller still has to answer 413 on it.
 */
export async function readWithinLimit(source: AsyncIterable<Uint8Array>, limits: ReadLimits): Promise<LimitedRead> {
  const announcedTooLarge = limits.declaredBytes !== undefined && limits.declaredBytes > limits.maxBytes;
  const iterator = source[Symbol.asyncIterator]();
  const chunks: Uint8Array[] = [];
  const hash = createHash('sha256');
  let bytesRead = 0;
  const oversize = (): LimitedRead => {
    const all = Buffer.concat(chunks, bytesRead);
    const head = Buffer.from(all.subarray(0, Math.min(all.length, limits.headBytes)));
    return { complete: false, head, bytesRead, sha256: hash.digest('hex'), declaredBytes: limits.declaredBytes };
  };

  for (;;) {
    const next = await iterator.next();
    if (next.done) break;
    chunks.push(next.value);
    bytesRead += next.value.byteLength;
    hash.update(next.value);
    if (bytesRead > limits.maxBytes || (announcedTooLarge && bytesRead >= limits.headBytes)) return oversize();
  }
  // A sender that announced too much and sent less is still refused: the announcement is what it asked.
  return announcedTooLarge ? oversize() : { complete: true, bytes: Buffer.concat(chunks, bytesRead) };
}
