import * as zlib from 'node:zlib';
import { RepairLog } from '../repair-log';
import { ByteReader } from './byte-reader';
import { DecompressionBudget } from './decompression-budget';
import { gunzip } from './gzip-stream';

async function gunzipAll(bytes: Buffer, limit = 1 << 30): Promise<{ out: Buffer; repairs: string[] }> {
  const repairs = new RepairLog();
  const parts: Buffer[] = [];
  for await (const chunk of gunzip(ByteReader.fromBuffer(bytes), new DecompressionBudget(limit), repairs, 'r.xml.gz')) {
    parts.push(chunk);
  }
  return { out: Buffer.concat(parts), repairs: repairs.list() };
}

/** A gzip of `size` zero bytes, made as a stream so the test never holds the plain bytes. */
async function zeroBomb(size: number): Promise<Buffer> {
  const gzip = zlib.createGzip({ level: 9 });
  const out: Buffer[] = [];
  gzip.on('data', (c: Buffer) => out.push(c));
  const done = new Promise((resolve) => gzip.on('end', resolve));
  const block = Buffer.alloc(1 << 20);
  for (let written = 0; written < size; written += block.length) {
    if (!gzip.write(block)) await new Promise((resolve) => gzip.once('drain', resolve));
  }
  gzip.end();
  await done;
  return Buffer.concat(out);
}

describe('gunzip', () => {
  const text = Buffer.from('<feedback>report</feedback>\n'.repeat(10000));

  it('round-trips, with names and comments in the header', async () => {
    const gz = zlib.gzipSync(text);
    gz[3] |= 0x08;
    const named = Buffer.concat([gz.subarray(0, 10), Buffer.from('report.xml\0'), gz.subarray(10)]);
    expect((await gunzipAll(named)).out.equals(text)).toBe(true);
  });

  it('reads every member of a multi-member file', async () => {
    const both = Buffer.concat([zlib.gzipSync(Buffer.from('<a>')), zlib.gzipSync(Buffer.from('</a>'))]);
    expect((await gunzipAll(both)).out.toString()).toBe('<a></a>');
  });

  it('keeps the data when junk follows it (Mimecast appends CRLF), noting it', async () => {
    const { out, repairs } = await gunzipAll(Buffer.concat([zlib.gzipSync(text), Buffer.from('\r\n')]));
    expect(out.equals(text)).toBe(true);
    expect(repairs).toEqual(['bytes after the end of the gzip data in r.xml.gz were ignored']);
  });

  it('ignores zero padding silently', async () => {
    expect((await gunzipAll(Buffer.concat([zlib.gzipSync(text), Buffer.alloc(100)]))).repairs).toEqual([]);
  });

  it('inflates a small buffer in one piece and a stream in pieces, to the same bytes and repairs', async () => {
    const gz = Buffer.concat([zlib.gzipSync(text.subarray(0, 1000)), zlib.gzipSync(text.subarray(1000)), Buffer.from('\r\n')]);
    const fast = await gunzipAll(gz);
    const repairs = new RepairLog();
    const parts: Buffer[] = [];
    const chunks = (async function* () {
      for (let at = 0; at < gz.length; at += 100) yield gz.subarray(at, at + 100);
    })();
    for await (const chunk of gunzip(ByteReader.fromChunks(chunks), new DecompressionBudget(1 << 30), repairs, 'r.xml.gz')) parts.push(chunk);
    expect(fast.out.equals(Buffer.concat(parts))).toBe(true);
    expect(fast.out.equals(text)).toBe(true);
    expect(fast.repairs).toEqual(repairs.list());
  });

  it('inflates whatever the trailer says the size is: bigger than one output buffer, or a trailer that is not one', async () => {
    const big = Buffer.from('<record>x</record>\n'.repeat(200_000));
    expect((await gunzipAll(zlib.gzipSync(big))).out.equals(big)).toBe(true);
    // Junk after the member: its last four bytes are not the member's size.
    const junk = Buffer.concat([zlib.gzipSync(text), Buffer.from([0xff, 0xff, 0xff, 0x7f])]);
    expect((await gunzipAll(junk)).out.equals(text)).toBe(true);
    const tiny = Buffer.concat([zlib.gzipSync(text), Buffer.from([1, 0, 0, 0])]);
    expect((await gunzipAll(tiny)).out.equals(text)).toBe(true);
  });

  it('refuses corrupt data, a wrong checksum and a truncated stream', async () => {
    const gz = zlib.gzipSync(text);
    const badCrc = Buffer.from(gz);
    badCrc[gz.length - 6] ^= 0xff;
    await expect(gunzipAll(badCrc)).rejects.toMatchObject({ code: 'REPORT_DECOMPRESSION_FAILED', reason: expect.stringContaining('checksum') });
    await expect(gunzipAll(gz.subarray(0, gz.length - 20))).rejects.toMatchObject({
      code: 'REPORT_DECOMPRESSION_FAILED',
      reason: expect.stringContaining('truncated'),
    });
    const corrupt = Buffer.from(gz);
    corrupt.fill(0xff, 12, 40);
    await expect(gunzipAll(corrupt)).rejects.toMatchObject({ code: 'REPORT_DECOMPRESSION_FAILED' });
  });

  describe('bombs', () => {
    let bomb: Buffer;
    beforeAll(async () => {
      bomb = await zeroBomb(256 << 20);
    });

    const drain = async (limit: number, input = bomb): Promise<{ produced: number; growth: number }> => {
      const before = process.memoryUsage().rss;
      let peak = before;
      let produced = 0;
      for await (const chunk of gunzip(ByteReader.fromBuffer(input), new DecompressionBudget(limit), new RepairLog(), 'bomb.gz')) {
        produced += chunk.length;
        peak = Math.max(peak, process.memoryUsage().rss);
      }
      return { produced, growth: peak - before };
    };

    it('refuses a 256 MiB bomb in under 512 KiB once its output passes the limit', async () => {
      expect(bomb.length).toBeLessThan(512 * 1024);
      await expect(drain(16 << 20)).rejects.toMatchObject({
        code: 'REPORT_DECOMPRESSION_LIMIT',
        reason: expect.stringContaining('more than the 16777216-byte limit'),
      });
    });

    it('decompresses as a stream: 256 MiB pass through while the process grows by a few MiB', async () => {
      const { produced, growth } = await drain(1 << 30);
      expect(produced).toBe(256 << 20);
      expect(growth).toBeLessThan(64 << 20);
    });

    it('a bomb small enough for the synchronous path costs at most its cap, then streams', async () => {
      const small = await zeroBomb(128 << 20);
      expect(small.length).toBeLessThan(256 * 1024);
      await expect(drain(16 << 20, small)).rejects.toMatchObject({ code: 'REPORT_DECOMPRESSION_LIMIT' });
      const { produced, growth } = await drain(1 << 30, small);
      expect(produced).toBe(128 << 20);
      expect(growth).toBeLessThan(64 << 20);
    });
  });
});
