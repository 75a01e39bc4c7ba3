import { countChunk, utcDay } from './chunk-counts';
import { AggregationError } from './errors';
import { FIXTURE_BEGIN, fixtureChunk, fixtureRecord } from './report-chunk-fixtures';

const T = '11111111-1111-4111-8111-111111111111';

describe('countChunk', () => {
  it('merges records sharing a source and header-from, and counts dispositions and alignment by messages', () => {
    const counts = countChunk(
      fixtureChunk(T, 'r1', [
        fixtureRecord({ sourceIp: '192.0.2.1', count: 10, disposition: 'none', dkimAligned: true, spfAligned: false }),
        fixtureRecord({ sourceIp: '192.0.2.1', count: 5, disposition: 'quarantine', dkimAligned: false, spfAligned: false }),
        fixtureRecord({ sourceIp: '192.0.2.1', count: 2, disposition: 'pass', dkimAligned: false, spfAligned: true }),
        fixtureRecord({ sourceIp: '198.51.100.7', count: 3, disposition: 'reject', dkimAligned: false, spfAligned: false }),
        fixtureRecord({ sourceIp: '192.0.2.1', count: 4, headerFrom: 'mail.example.com' }),
      ]),
    );
    expect(counts).toMatchObject({ tenantId: T, reportId: 'r1', domain: 'example.com', day: '2025-03-10', records: 5, messages: 24, chunkCount: 1, recordCount: 5 });
    expect(counts.counters).toEqual([
      { sourceIp: '192.0.2.1', headerFrom: 'example.com', ptr: null, baseDomain: null, messages: 17, none: 10, quarantine: 5, reject: 0, pass: 2, dkimAligned: 10, spfAligned: 2, dmarcPass: 12 },
      { sourceIp: '192.0.2.1', headerFrom: 'mail.example.com', ptr: null, baseDomain: null, messages: 4, none: 4, quarantine: 0, reject: 0, pass: 0, dkimAligned: 4, spfAligned: 4, dmarcPass: 4 },
      { sourceIp: '198.51.100.7', headerFrom: 'example.com', ptr: null, baseDomain: null, messages: 3, none: 0, quarantine: 0, reject: 3, pass: 0, dkimAligned: 0, spfAligned: 0, dmarcPass: 0 },
    ]);
  });

  it("gives each counter its source's PTR name and base domain from an enriched chunk's sources", () => {
    const chunk = {
      ...fixtureChunk(T, 'r1', [fixtureRecord({ sourceIp: '192.0.2.1' }), fixtureRecord({ sourceIp: '2001:DB8::1' }), fixtureRecord({ sourceIp: '198.51.100.7' })]),
      sources: [
        { ip: '192.0.2.1', ptr: 'mail-1.sender.example', baseDomain: 'sender.example' },
        { ip: '2001:DB8::1', ptr: 'v6.sender.example', baseDomain: 'sender.example' },
        { ip: '198.51.100.7', ptr: null, baseDomain: null },
      ],
    };
    expect(countChunk(chunk).counters.map((c) => [c.sourceIp, c.ptr, c.baseDomain])).toEqual([
      ['192.0.2.1', 'mail-1.sender.example', 'sender.example'],
      ['198.51.100.7', null, null],
      ['2001:db8::1', 'v6.sender.example', 'sender.example'],
    ]);
  });

  it('spells one address one way: IPv6 canonical and lower-case, the policy domain without case or trailing dot', () => {
    const c = fixtureChunk(T, 'r1', [fixtureRecord({ sourceIp: '2001:DB8:0:0::1', headerFrom: 'Example.COM' }), fixtureRecord({ sourceIp: ' 2001:db8::1 ' })]);
    c.metadata.policy.domain = 'Example.COM.';
    const counts = countChunk(c);
    expect(counts.domain).toBe('example.com');
    expect(counts.counters).toHaveLength(1);
    expect(counts.counters[0]).toMatchObject({ sourceIp: '2001:db8::1', headerFrom: 'example.com', messages: 2 });
  });

  it('attributes a report to the UTC day its period begins, even when it spans midnight', () => {
    const late = Date.UTC(2025, 2, 10, 22, 0);
    const c = fixtureChunk(T, 'r1', [fixtureRecord()]);
    c.metadata = { ...c.metadata, begin: late, end: late + 86_400_000 };
    expect(countChunk(c).day).toBe('2025-03-10');
    expect(utcDay(FIXTURE_BEGIN - 1)).toBe('2025-03-09');
  });

  it('counts nothing of a duplicate but still reports its size', () => {
    const counts = countChunk(fixtureChunk(T, 'r2', [fixtureRecord({ count: 7 })], { duplicateOf: 'r1' }));
    expect(counts).toMatchObject({ duplicateOf: 'r1', counters: [], messages: 7, records: 1 });
  });

  it('knows the chunk count only on the last chunk', () => {
    expect(countChunk(fixtureChunk(T, 'r1', [fixtureRecord()], { chunkIndex: 3, last: false, recordCount: null }))).toMatchObject({ chunkCount: null, recordCount: null });
    expect(countChunk(fixtureChunk(T, 'r1', [fixtureRecord()], { chunkIndex: 3, last: true, recordCount: 7001 }))).toMatchObject({ chunkCount: 4, recordCount: 7001 });
  });

  it.each([
    ['a negative count', fixtureChunk(T, 'r', [fixtureRecord({ count: -1 })]), 'records[0].count'],
    ['a fractional count', fixtureChunk(T, 'r', [fixtureRecord(), fixtureRecord({ count: 1.5 })]), 'records[1].count'],
    ['an unknown disposition', fixtureChunk(T, 'r', [fixtureRecord({ disposition: 'discard' })]), 'records[0].disposition'],
    ['a tenant that is not a UUID', fixtureChunk('acme', 'r', [fixtureRecord()]), 'tenantId'],
    ['a negative chunk index', fixtureChunk(T, 'r', [fixtureRecord()], { chunkIndex: -1 }), 'chunkIndex'],
    ['an impossible begin', { ...fixtureChunk(T, 'r', [fixtureRecord()]), metadata: { ...fixtureChunk(T, 'r', []).metadata, begin: Number.NaN } }, 'metadata.begin'],
    ['an empty policy domain', { ...fixtureChunk(T, 'r', [fixtureRecord()]), metadata: { ...fixtureChunk(T, 'r', []).metadata, policy: { ...fixtureChunk(T, 'r', []).metadata.policy, domain: ' ' } } }, 'metadata.policy.domain'],
  ])('refuses %s, non-retriable, naming the field', (_what, bad, field) => {
    const err = (() => {
      try {
        countChunk(bad);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(AggregationError);
    expect(err).toMatchObject({ code: 'AGGREGATION_INVALID_CHUNK', retriable: false, field });
  });
});
