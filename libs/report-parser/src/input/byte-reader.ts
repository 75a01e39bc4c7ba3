import { ReportError } from '../errors';

/** What the parser reads: bytes in memory, or a stream of them (a Node Readable is an AsyncIterable). */
export type ReportInput = Uint8Array | AsyncIterable<Uint8Array>;

// Chunks handed on are at most this big, so one chunk of a huge in-memory input never becomes one huge
// string, and the records decoded from one chunk stay a small batch.
const MAX_CHUNK = 64 * 1024;

/**
 * A pull reader over a byte source with look-ahead and push-back: format sniffing peeks at the head, and the
 * gzip framing gives back the bytes the inflater did not consume.
 */
export class ByteReader {
  private readonly pushedBack: Buffer[] = [];
  private done = false;

  private constructor(private readonly source: AsyncIterator<Uint8Array> | null) {}

  static from(input: ReportInput): ByteReader {
    if (input instanceof Uint8Array) return ByteReader.fromBuffer(input);
    return new ByteReader(input[Symbol.asyncIterator]());
  }

  static fromBuffer(input: Uint8Array): ByteReader {
    const reader = new ByteReader(null);
    const buf = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    // Pushed back in reverse so they come out in order; subarrays, so nothing is copied.
    for (let end = buf.length; end > 0; end -= MAX_CHUNK) {
      reader.pushedBack.push(buf.subarray(Math.max(0, end - MAX_CHUNK), end));
    }
    return reader;
  }

  /** A reader over chunks produced by another stage (a decompressor). */
  static fromChunks(chunks: AsyncIterable<Buffer>): ByteReader {
    return new ByteReader(chunks[Symbol.asyncIterator]());
  }

  /** The next chunk, or null at the end. */
  async read(): Promise<Buffer | null> {
    const back = this.pushedBack.pop();
    if (back) return back;
    if (this.done || !this.source) return null;
    for (;;) {
      const next = await this.source.next();
      if (next.done) {
        this.done = true;
        return null;
      }
      const value = next.value;
      if (value.byteLength === 0) continue;
      const buf = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      if (buf.length <= MAX_CHUNK) return buf;
      for (let end = buf.length; end > MAX_CHUNK; end -= MAX_CHUNK) {
        this.pushedBack.push(buf.subarray(Math.max(MAX_CHUNK, end - MAX_CHUNK), end));
      }
      return buf.subarray(0, MAX_CHUNK);
    }
  }

  /** Gives bytes back: the next `read` returns them first. */
  unshift(buf: Buffer): void {
    if (buf.length > 0) this.pushedBack.push(buf);
  }

  /** Up to `n` bytes from the head, without consuming them (fewer only at the end of the input). */
  async peek(n: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let have = 0;
    while (have < n) {
      const chunk = await this.read();
      if (!chunk) break;
      parts.push(chunk);
      have += chunk.length;
    }
    for (let i = parts.length - 1; i >= 0; i--) this.unshift(parts[i]);
    const head = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    return head.length > n ? head.subarray(0, n) : head;
  }

  /** Exactly `n` bytes, or fewer when the input ends first. */
  async readExactly(n: number): Promise<Buffer> {
    const head = await this.peek(n);
    await this.skip(head.length);
    return head;
  }

  async skip(n: number): Promise<void> {
    let left = n;
    while (left > 0) {
      const chunk = await this.read();
      if (!chunk) return;
      if (chunk.length > left) {
        this.unshift(chunk.subarray(left));
        return;
      }
      left -= chunk.length;
    }
  }

  /**
   * The rest of an input already in memory, as one buffer, if it is at most `max` bytes; null when more of it
   * is still to come from a stream, or it is larger. Nothing is consumed.
   */
  held(max: number): Buffer | null {
    if (this.source !== null && !this.done) return null;
    let total = 0;
    for (const part of this.pushedBack) if ((total += part.length) > max) return null;
    if (this.pushedBack.length === 1) return this.pushedBack[0];
    return Buffer.concat([...this.pushedBack].reverse(), total);
  }

  /** The whole rest of the input in one buffer, refused past `limit` bytes before it is all held. */
  async readAll(limit: number, what: string): Promise<Buffer> {
    const parts: Buffer[] = [];
    let total = 0;
    for (let chunk = await this.read(); chunk; chunk = await this.read()) {
      total += chunk.length;
      if (total > limit) {
        await this.close();
        throw new ReportError('REPORT_TOO_LARGE', `${what} is larger than the ${limit}-byte limit`);
      }
      parts.push(chunk);
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts, total);
  }

  /** Stops the source early (a stream is destroyed, a decompressor stopped). */
  async close(): Promise<void> {
    this.pushedBack.length = 0;
    if (!this.done && this.source?.return) {
      this.done = true;
      await this.source.return();
    }
    this.done = true;
  }
}
