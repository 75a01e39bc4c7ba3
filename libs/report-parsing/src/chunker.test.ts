import type { AggregateRecord } from '@dmarc/report-parser';
import { MAX_CHUNK_CHARS, RecordChunker, recordChars, toTopicRecord } from './chunker';

const record = (i: number, headerFrom = 'example.com'): AggregateRecord =>
  ({
    sourceIp: `192.0.2.${i % 250}`,
    count: 1,
    disposition: 'none',
    dkimAligned: 'pass',
    spfAligned: 'fail',
    headerFrom,
    envelopeFrom: null,
    envelopeTo: null,
    reasons: [],
    dkim: [{ domain: 'example.com', selector: 's1', result: 'pass' }],
    spf: [{ domain: 'example.com', scope: 'mfrom', result: 'pass' }],
  }) as unknown as AggregateRecord;

const cut = (chunker: RecordChunker, records: AggregateRecord[]) => {
  const chunks = chunker.add(records);
  chunks.push(chunker.finish());
  return chunks;
};

describe('RecordChunker', () => {
  it('cuts by record count, the last chunk held back and indexed in order', () => {
    const chunks = cut(new RecordChunker(4), Array.from({ length: 10 }, (_, i) => record(i)));
    expect(chunks.map((c) => [c.index, c.records.length])).toEqual([
      [0, 4],
      [1, 4],
      [2, 2],
    ]);
  });

  it('cuts by size too: records with 60 KiB fields never make a chunk over the broker limit', () => {
    const big = 'x'.repeat(60_000) + '.example';
    const records = Array.from({ length: 40 }, (_, i) => record(i, big));
    const chunks = cut(new RecordChunker(4000), records);
    for (const c of chunks) {
      const chars = c.records.reduce((s, r) => s + recordChars(r), 0);
      expect(chars).toBeLessThanOrEqual(MAX_CHUNK_CHARS);
      // 3 UTF-8 bytes per UTF-16 unit at worst: under 1 MiB.
      expect(chars * 3).toBeLessThan(1024 * 1024);
    }
    expect(chunks.reduce((s, c) => s + c.records.length, 0)).toBe(40);
    expect(chunks.length).toBeGreaterThan(1);
  });

  it('cuts the same way every time (redelivery), and a record over the budget travels alone', () => {
    const huge = 'y'.repeat(MAX_CHUNK_CHARS);
    const records = [record(1), record(2, huge), record(3)];
    const a = cut(new RecordChunker(4000), records).map((c) => c.records.length);
    const b = cut(new RecordChunker(4000), records).map((c) => c.records.length);
    expect(a).toEqual([1, 1, 1]);
    expect(b).toEqual(a);
  });

  it('counts every string of a record, lists included', () => {
    const r = toTopicRecord(record(7));
    expect(recordChars(r)).toBeGreaterThan('192.0.2.7'.length + 'example.com'.length * 3 + 's1mfrompasspass'.length);
  });
});
