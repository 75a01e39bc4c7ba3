import { MeterProvider, MetricReader, type AggregationTemporality } from '@opentelemetry/sdk-metrics';
import { harness } from './__test-support__/harness';
import { settle } from './__test-support__/manual-clock';
import { sharedKey } from './dns-name';
import { InvalidNameError, UnsupportedTypeError } from './errors';

describe('two tiers', () => {
  it('counts the TTL down across L1 and L2: the absolute expiry travels, not the TTL', async () => {
    const h = harness();
    h.upstream.txt('_dmarc.ttl.example', 'v=DMARC1; p=none', 300);
    const t0 = h.clock.now();
    await expect(h.cache.resolve('_dmarc.ttl.example', 'TXT')).resolves.toMatchObject({ ttl: 300, source: 'upstream' });
    await settle();
    h.clock.advanceTo(t0 + 100_000);
    const b = h.another();
    await expect(b.resolve('_dmarc.ttl.example', 'TXT')).resolves.toMatchObject({ ttl: 200, source: 'l2' });
    h.clock.advanceTo(t0 + 150_000);
    expect(b.peek('_dmarc.ttl.example', 'TXT')).toMatchObject({ ttl: 150, source: 'l1' });
    expect(h.cache.peek('_dmarc.ttl.example', 'TXT')).toMatchObject({ ttl: 150, source: 'l1' });
    h.clock.advanceTo(t0 + 239_500);
    expect(b.peek('_dmarc.ttl.example', 'TXT')).toMatchObject({ ttl: 61 });
    expect(h.upstream.count).toBe(1);
    expect(b.metrics.counters).toMatchObject({ l2Hits: 1, l1Hits: 2, upstreamQueries: 0 });
  });

  it('bounds L1 by size; an evicted entry comes back from L2 without an upstream query', async () => {
    const h = harness({ l1MaxEntries: 2 });
    for (const n of ['a', 'b', 'c']) h.upstream.a(`${n}.example`, '192.0.2.1', 300);
    for (const n of ['a', 'b', 'c']) await h.cache.resolve(`${n}.example`, 'A');
    await settle();
    expect(h.cache.stats().l1Entries).toBe(2);
    expect(h.cache.peek('a.example', 'A')).toBeUndefined();
    await expect(h.cache.resolve('a.example', 'A')).resolves.toMatchObject({ source: 'l2' });
    expect(h.upstream.count).toBe(3);
    expect(h.l2.keys().sort()).toEqual(['global:dns:a:a.example', 'global:dns:a:b.example', 'global:dns:a:c.example']);
  });

  it('carries on with L1 and the upstream when L2 is down, and says so once', async () => {
    const h = harness();
    h.upstream.txt('l2down.example', 'x', 300);
    h.l2.failWith = new Error('connection refused');
    await expect(h.cache.resolve('l2down.example', 'TXT')).resolves.toMatchObject({ source: 'upstream' });
    await settle();
    h.upstream.txt('other.example', 'y', 300);
    await h.cache.resolve('other.example', 'TXT');
    await settle();
    expect(h.cache.metrics.counters.l2Errors).toBeGreaterThan(0);
    expect(h.logs.filter((l) => l.level === 'warn').map((l) => l.message)).toEqual(['dns cache: L2 unreachable; carrying on with L1 and the upstream']);
    h.l2.failWith = undefined;
    h.upstream.txt('back.example', 'z', 300);
    await h.cache.resolve('back.example', 'TXT');
    expect(h.logs.filter((l) => l.level === 'info').map((l) => l.message)).toEqual(['dns cache: L2 reachable again']);
  });

  it('refuses bad names and types before any tier or the upstream is touched', async () => {
    const h = harness();
    await expect(h.cache.resolve('bad name.example', 'TXT')).rejects.toBeInstanceOf(InvalidNameError);
    await expect(h.cache.resolve(`${'a'.repeat(250)}.com`, 'A')).rejects.toBeInstanceOf(InvalidNameError);
    await expect(h.cache.resolve('example.com', 'ANY')).rejects.toBeInstanceOf(UnsupportedTypeError);
    expect(() => h.cache.peek('example.com:x', 'A')).toThrow(InvalidNameError);
    expect(h.upstream.count).toBe(0);
    expect(h.l2.operations).toBe(0);
    expect(sharedKey('TXT', 'example.com')).toBe('global:dns:txt:example.com');
  });

  it('readMany: L1 first, the rest from L2 in one round trip, never the upstream; what neither holds fresh is left to resolve()', async () => {
    const h = harness({ l1MaxEntries: 2 });
    for (const n of ['a', 'b', 'c', 'd']) h.upstream.a(`${n}.example`, '192.0.2.1', 300);
    for (const n of ['a', 'b', 'c']) await h.cache.resolve(`${n}.example`, 'A');
    await settle();
    const b = h.another();
    await b.resolve('c.example', 'A');
    const before = { l2: h.l2.operations, upstream: h.upstream.count };
    // c in b's L1; a and b only in L2; d nowhere; a bad name and an unknown type are left to resolve().
    const got = await b.readMany(['c.example', 'A.Example.', 'b.example', 'd.example', 'bad..name'], 'A');
    expect(got.map((r) => r && [r.name, r.source, r.ttl])).toEqual([
      ['c.example', 'l1', 300],
      ['a.example', 'l2', 300],
      ['b.example', 'l2', 300],
      undefined,
      undefined,
    ]);
    expect(h.l2.operations - before.l2).toBe(1);
    expect(h.upstream.count).toBe(before.upstream);
    // What L2 answered is in L1 now.
    expect(b.peek('a.example', 'A')).toMatchObject({ source: 'l1' });
    expect(b.metrics.counters).toMatchObject({ l2Hits: 3, upstreamQueries: 0 });
    // An L2 outage leaves the L2 part undefined and is counted, not thrown.
    h.l2.failWith = new Error('connection refused');
    const c = h.another();
    await expect(c.readMany(['a.example'], 'A')).resolves.toEqual([undefined]);
    expect(c.metrics.counters.l2Errors).toBe(1);
  });

  it('readMany leaves an entry past its TTL (stale) to resolve(), which refreshes it', async () => {
    const h = harness();
    h.upstream.a('old.example', '192.0.2.1', 60);
    await h.cache.resolve('old.example', 'A');
    await settle();
    h.clock.advanceTo(h.clock.now() + 61_000);
    await expect(h.another().readMany(['old.example'], 'A')).resolves.toEqual([undefined]);
  });
});

class CollectingReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
  override selectAggregationTemporality(): AggregationTemporality {
    return 1; // CUMULATIVE
  }
}

describe('metrics', () => {
  it('counts every lookup by outcome and exports through an OpenTelemetry meter when given one', async () => {
    const reader = new CollectingReader();
    const provider = new MeterProvider({ readers: [reader] });
    const h = harness({ meter: provider.getMeter('dns-cache-test') });
    h.upstream.txt('m.example', 'x', 100);
    h.upstream.delayMs = 20;
    const first = Promise.all([h.cache.resolve('m.example', 'TXT'), h.cache.resolve('m.example', 'TXT')]);
    await settle(5);
    h.clock.advance(20);
    await first;
    h.cache.peek('m.example', 'TXT');
    h.upstream.delayMs = 0;
    await h.cache.resolve('nx.example', 'A');
    await h.clock.runTo(h.clock.now() + 100);
    const c = h.cache.metrics.snapshot();
    expect(c).toMatchObject({ lookups: 4, l1Hits: 1, upstreamAnswers: 3, upstreamQueries: 2, coalescedWaiters: 1, negativeHits: 1 });
    expect(c.upstreamLatency.count).toBe(2);
    expect(c.upstreamLatency.maxMs).toBe(20);
    expect(c.upstreamLatency.sumMs).toBe(20);

    const { resourceMetrics } = await reader.collect();
    const metrics = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
    const value = (name: string) => metrics.find((m) => m.descriptor.name === name)?.dataPoints[0]?.value;
    expect(value('dns_cache.lookups')).toBe(4);
    expect(value('dns_cache.upstream_queries')).toBe(2);
    expect(value('dns_cache.coalesced_waiters')).toBe(1);
    expect(value('dns_cache.l1_hits')).toBe(1);
    expect(value('dns_cache.upstream_latency')).toMatchObject({ count: 2 });
    await provider.shutdown();
  });
});
