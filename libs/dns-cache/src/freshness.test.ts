import { extendedEntry, failedEntry, judgeAnswer, negativeEntry, positiveEntry } from './entry-policy';
import { decodeEntry, encodeEntry, remainingTtl } from './entry';
import { freshness } from './freshness';
import { resolvePolicy } from './options';

const T0 = 1_700_000_000_000;
const policy = resolvePolicy({ staleWhileRevalidateSeconds: 60, staleExtensionSeconds: 300, maxStaleSeconds: 900, failureRecheckSeconds: 30 });
const txt = (ttl: number) => [{ type: 'TXT' as const, name: 'x.example', ttl, strings: ['v=spf1 -all'] }];

describe('freshness(entry, now)', () => {
  const e = positiveEntry(txt(100), 100, T0, policy);

  it('is fresh until 80 % of the TTL, prefetch until expiry, stale in the window, then expired', () => {
    expect(freshness(e, T0)).toBe('fresh');
    expect(freshness(e, T0 + 79_999)).toBe('fresh');
    expect(freshness(e, T0 + 80_000)).toBe('prefetch');
    expect(freshness(e, T0 + 99_999)).toBe('prefetch');
    expect(freshness(e, T0 + 100_000)).toBe('stale');
    expect(freshness(e, T0 + 159_999)).toBe('stale');
    expect(freshness(e, T0 + 160_000)).toBe('expired');
  });

  it('never serves a failure stale nor prefetches it', () => {
    const f = failedEntry('SERVFAIL', undefined, T0, policy);
    expect(freshness(f, T0)).toBe('fresh');
    expect(freshness(f, T0 + 4_999)).toBe('fresh');
    expect(freshness(f, T0 + 5_000)).toBe('expired');
  });

  it('clamps the record TTL to [30 s, 3600 s]', () => {
    expect(positiveEntry(txt(5), 5, T0, policy).expiresAt - T0).toBe(30_000);
    expect(positiveEntry(txt(86_400), 86_400, T0, policy).expiresAt - T0).toBe(3_600_000);
    expect(positiveEntry(txt(300), 300, T0, policy).expiresAt - T0).toBe(300_000);
  });

  it('counts down from the absolute expiry, also after a round trip through the L2 encoding', () => {
    const copy = decodeEntry(encodeEntry(e))!;
    expect(copy).toEqual(e);
    expect(remainingTtl(copy, T0 + 40_000)).toBe(60);
    expect(remainingTtl(copy, T0 + 99_001)).toBe(1);
    expect(remainingTtl(copy, T0 + 120_000)).toBe(0);
    expect(decodeEntry('{"v":0}')).toBeUndefined();
    expect(decodeEntry('not json')).toBeUndefined();
  });

  it('caches NXDOMAIN / NODATA for the SOA negative TTL, clamped, and a default without SOA', () => {
    expect(negativeEntry('NXDOMAIN', 600, T0, policy).expiresAt - T0).toBe(600_000);
    expect(negativeEntry('NOERROR', 1, T0, policy).expiresAt - T0).toBe(30_000);
    expect(negativeEntry('NOERROR', 86_400, T0, policy).expiresAt - T0).toBe(3_600_000);
    expect(negativeEntry('NXDOMAIN', undefined, T0, policy).expiresAt - T0).toBe(60_000);
  });

  it('extends a stale answer on failure by one extension at a time, never past expiry + max stale', () => {
    const first = extendedEntry(e, T0 + 101_000, policy)!;
    expect(first.staleUntil).toBe(T0 + 401_000);
    expect(first.retryAt).toBe(T0 + 131_000);
    expect(first.outageSince).toBe(T0 + 101_000);
    const second = extendedEntry(first, T0 + 800_000, policy)!;
    expect(second.staleUntil).toBe(T0 + 100_000 + 900_000);
    expect(second.outageSince).toBe(T0 + 101_000);
    expect(extendedEntry(second, T0 + 1_000_000, policy)).toBeUndefined();
  });

  it('judges answers: records, CNAME to chase, NODATA, NXDOMAIN, failures', () => {
    const base = { server: 's', latencyMs: 1 };
    expect(judgeAnswer('TXT', { ...base, rcode: 'NOERROR', answers: [{ type: 'CNAME', name: 'a', ttl: 50, target: 'b' }, ...txt(200)] })).toEqual({ kind: 'positive', answers: txt(200), ttlSeconds: 50 });
    expect(judgeAnswer('TXT', { ...base, rcode: 'NOERROR', answers: [{ type: 'CNAME', name: 'a', ttl: 50, target: 'b.example' }] })).toEqual({ kind: 'chase', target: 'b.example', cnameTtlSeconds: 50 });
    expect(judgeAnswer('MX', { ...base, rcode: 'NOERROR', answers: [], negativeTtl: 90 })).toEqual({ kind: 'negative', rcode: 'NOERROR', negativeTtlSeconds: 90 });
    expect(judgeAnswer('A', { ...base, rcode: 'NXDOMAIN', answers: [] })).toEqual({ kind: 'negative', rcode: 'NXDOMAIN', negativeTtlSeconds: undefined });
    expect(judgeAnswer('A', { ...base, rcode: 'SERVFAIL', answers: [] })).toEqual({ kind: 'failed', rcode: 'SERVFAIL' });
  });
});
