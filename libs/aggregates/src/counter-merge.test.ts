import { countChunk } from './chunk-counts';
import { mergeCounters } from './counter-merge';
import { fixtureChunk, fixtureRecord } from './report-chunk-fixtures';

const A = '11111111-1111-4111-8111-111111111111';
const B = '22222222-2222-4222-8222-222222222222';
const onDomain = (c: ReturnType<typeof fixtureChunk>, domain: string) => ({ ...c, metadata: { ...c.metadata, policy: { ...c.metadata.policy, domain } } });

describe('mergeCounters', () => {
  it('sums increments of the same counter key across chunks, under the first chunk of its tenant, domain and day', () => {
    const chunks = [
      fixtureChunk(A, 'r1', [fixtureRecord({ sourceIp: '192.0.2.1', count: 3 }), fixtureRecord({ sourceIp: '192.0.2.2', count: 1, disposition: 'reject', dkimAligned: false, spfAligned: false })]),
      fixtureChunk(A, 'r2', [fixtureRecord({ sourceIp: '192.0.2.1', count: 4, disposition: 'quarantine', dkimAligned: false })]),
      fixtureChunk(A, 'r3', [fixtureRecord({ sourceIp: '192.0.2.1', count: 5 })]),
    ].map(countChunk);
    const merged = mergeCounters(chunks);
    expect(merged).toHaveLength(1);
    expect(merged[0].item).toBe(0);
    const byIp = Object.fromEntries(merged[0].counters.map((c) => [c.sourceIp, c]));
    expect(byIp['192.0.2.1']).toMatchObject({ messages: 12, none: 8, quarantine: 4, reject: 0, dkimAligned: 8, spfAligned: 12, dmarcPass: 12 });
    expect(byIp['192.0.2.2']).toMatchObject({ messages: 1, reject: 1, dmarcPass: 0 });
    // The chunks' own deltas are untouched: the exact path may still need them.
    expect(chunks[0].counters.find((c) => c.sourceIp === '192.0.2.1')?.messages).toBe(3);
  });

  it('never merges across tenants, domains, days or header-from domains', () => {
    const other = fixtureChunk(A, 'r4', [fixtureRecord({ count: 1 })]);
    const chunks = [
      fixtureChunk(A, 'r1', [fixtureRecord({ count: 1 })]),
      fixtureChunk(B, 'r2', [fixtureRecord({ count: 10 })]),
      onDomain(fixtureChunk(A, 'r3', [fixtureRecord({ count: 100 })]), 'other.example'),
      { ...other, metadata: { ...other.metadata, begin: other.metadata.begin + 86_400_000 } },
      fixtureChunk(A, 'r5', [fixtureRecord({ count: 1000, headerFrom: 'mail.example.com' })]),
    ].map(countChunk);
    const merged = mergeCounters(chunks);
    expect(merged.map((m) => [m.item, m.counters.map((c) => [c.headerFrom, c.messages])])).toEqual([
      [0, [['example.com', 1], ['mail.example.com', 1000]]],
      [1, [['example.com', 10]]],
      [2, [['example.com', 100]]],
      [3, [['example.com', 1]]],
    ]);
  });

  it('keeps the latest source name a chunk gave, and never erases one with a chunk that has none', () => {
    const named = (ptr: string | null) => {
      const counts = countChunk(fixtureChunk(A, `r-${ptr}`, [fixtureRecord()]));
      counts.counters[0].ptr = ptr;
      counts.counters[0].baseDomain = ptr && 'example.net';
      return counts;
    };
    const [merged] = mergeCounters([named('a.example.net'), named('b.example.net'), named(null)]);
    expect(merged.counters).toEqual([expect.objectContaining({ ptr: 'b.example.net', baseDomain: 'example.net', messages: 3 })]);
  });

  it('leaves out chunks without counters (duplicates) and gives nothing for none', () => {
    const dup = countChunk(fixtureChunk(A, 'copy', [fixtureRecord()], { duplicateOf: 'orig' }));
    expect(mergeCounters([dup])).toEqual([]);
    expect(mergeCounters([])).toEqual([]);
  });
});
