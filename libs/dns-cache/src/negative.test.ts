import { harness } from './__test-support__/harness';

describe('negative caching (RFC 2308)', () => {
  it('NXDOMAIN is cached for the SOA negative TTL', async () => {
    const h = harness();
    h.upstream.set('nope.example', 'TXT', { rcode: 'NXDOMAIN', negativeTtl: 120 });
    const t0 = h.clock.now();
    await expect(h.cache.resolve('nope.example', 'TXT')).resolves.toMatchObject({ rcode: 'NXDOMAIN', state: 'negative', ttl: 120, answers: [], source: 'upstream' });
    h.clock.advanceTo(t0 + 50_000);
    expect(h.cache.peek('nope.example', 'TXT')).toMatchObject({ rcode: 'NXDOMAIN', state: 'negative', ttl: 70, source: 'l1' });
    expect(h.upstream.count).toBe(1);
    expect(h.cache.metrics.counters.negativeHits).toBe(2);
    // Past its TTL and staleness window: asked again.
    h.clock.advanceTo(t0 + 120_000 + 60_000);
    await h.cache.resolve('nope.example', 'TXT');
    expect(h.upstream.count).toBe(2);
  });

  it('NODATA is cached too, its SOA TTL clamped to the minimum; without an SOA the default applies', async () => {
    const h = harness({ negativeMinTtlSeconds: 30, negativeDefaultTtlSeconds: 60 });
    h.upstream.set('nodata.example', 'MX', { rcode: 'NOERROR', answers: [], negativeTtl: 5 });
    h.upstream.set('nosoa.example', 'AAAA', { rcode: 'NOERROR', answers: [] });
    await expect(h.cache.resolve('nodata.example', 'MX')).resolves.toMatchObject({ rcode: 'NOERROR', state: 'negative', ttl: 30 });
    await expect(h.cache.resolve('nosoa.example', 'AAAA')).resolves.toMatchObject({ state: 'negative', ttl: 60 });
  });

  it('an NXDOMAIN read by 1,000 callers at once is asked once', async () => {
    const h = harness();
    h.upstream.hold();
    const callers = Array.from({ length: 1_000 }, () => h.cache.resolve('gone.example', 'PTR'));
    h.upstream.release();
    const results = await Promise.all(callers);
    expect(results.every((r) => r.state === 'negative')).toBe(true);
    expect(h.upstream.count).toBe(1);
  });
});

describe('CNAME chasing', () => {
  it('follows a CNAME without TXT records; the answer lives no longer than the CNAME', async () => {
    const h = harness();
    h.upstream.set('selector._domainkey.example.com', 'TXT', { answers: [{ type: 'CNAME', name: 'selector._domainkey.example.com', ttl: 120, target: 'selector.dkim.provider.example' }] });
    h.upstream.txt('selector.dkim.provider.example', 'v=DKIM1; p=MIGf', 600);
    const result = await h.cache.resolve('selector._domainkey.example.com', 'TXT');
    expect(result).toMatchObject({ state: 'fresh', ttl: 120, answers: [{ strings: ['v=DKIM1; p=MIGf'] }] });
    expect(h.upstream.queries.map((q) => q.name)).toEqual(['selector._domainkey.example.com', 'selector.dkim.provider.example']);
  });

  it('a CNAME loop ends in a failure, not a hang', async () => {
    const h = harness({ maxCnameDepth: 4 });
    h.upstream.set('a.loop.example', 'TXT', { answers: [{ type: 'CNAME', name: 'a.loop.example', ttl: 60, target: 'b.loop.example' }] });
    h.upstream.set('b.loop.example', 'TXT', { answers: [{ type: 'CNAME', name: 'b.loop.example', ttl: 60, target: 'a.loop.example' }] });
    await expect(h.cache.resolve('a.loop.example', 'TXT')).rejects.toMatchObject({ code: 'DNS_UPSTREAM_FAILED' });
    expect(h.upstream.count).toBeLessThanOrEqual(4);
  });
});
