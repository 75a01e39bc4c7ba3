import { harness } from './__test-support__/harness';
import { settle } from './__test-support__/manual-clock';

const NAME = '_dmarc.prefetch.example';

async function at(h: ReturnType<typeof harness>, t0: number, offsetMs: number): Promise<void> {
  await h.clock.runTo(t0 + offsetMs);
}

describe('prefetch: near one upstream query per name per TTL', () => {
  it('a hit past 80 % returns at once and marks the name wanted; its one refresh runs just before expiry, not at the hit', async () => {
    const h = harness();
    h.upstream.txt(NAME, 'v=DMARC1; p=reject', 100);
    const t0 = h.clock.now();
    await h.cache.resolve(NAME, 'TXT');

    await at(h, t0, 50_000);
    expect(h.cache.peek(NAME, 'TXT')).toMatchObject({ state: 'fresh', ttl: 50 });
    expect(h.cache.stats().scheduledPrefetches).toBe(0);

    await at(h, t0, 85_000);
    const hit = h.cache.peek(NAME, 'TXT');
    expect(hit).toMatchObject({ source: 'l1', state: 'fresh', ttl: 15 });
    expect(h.cache.stats().scheduledPrefetches).toBe(1);
    // More hits in the window schedule nothing more and ask nothing.
    for (let i = 0; i < 100; i++) h.cache.peek(NAME, 'TXT');
    await settle(3);
    expect(h.upstream.count).toBe(1);

    // No latency measured yet: the minimum lead, 50 ms.
    await at(h, t0, 99_949);
    expect(h.upstream.count).toBe(1);
    h.clock.advanceTo(t0 + 99_950);
    await settle(5);
    expect(h.upstream.count).toBe(2);
    expect(h.upstream.queries[1].at - t0).toBe(99_950);
    expect(h.cache.metrics.counters.prefetches).toBe(1);

    // Readers never see a stale answer: the new one is in before the old one expires.
    await at(h, t0, 100_000);
    expect(h.cache.peek(NAME, 'TXT')).toMatchObject({ state: 'fresh', source: 'l1' });
    expect(h.cache.metrics.counters.staleServed).toBe(0);
  });

  it('the lead before expiry is learned from the measured upstream latency', async () => {
    const h = harness();
    h.upstream.txt(NAME, 'x', 300);
    h.upstream.delayMs = 200;
    const t0 = h.clock.now();
    const first = h.cache.resolve(NAME, 'TXT');
    await settle(5);
    h.clock.advance(200);
    const answer = await first;
    const resolvedAt = t0 + 200;
    expect(answer.expiresAt).toBe(resolvedAt + 300_000);

    await at(h, resolvedAt, 250_000);
    h.cache.peek(NAME, 'TXT');
    // One sample of 200 ms: smoothed 200 + 4 x 100 deviation = 600 ms a round trip, three of them.
    await at(h, resolvedAt, 300_000 - 1_801);
    expect(h.upstream.count).toBe(1);
    await at(h, resolvedAt, 300_000 - 1_800);
    expect(h.upstream.count).toBe(2);
    h.clock.advance(200);
    await settle(5);
    expect(h.cache.peek(NAME, 'TXT')).toMatchObject({ state: 'fresh', ttl: 300 });
  });

  it('a name nobody read past 80 % of its TTL is left to expire', async () => {
    const h = harness({ staleWhileRevalidateSeconds: 0 });
    h.upstream.txt(NAME, 'x', 100);
    const t0 = h.clock.now();
    await h.cache.resolve(NAME, 'TXT');
    await at(h, t0, 60_000);
    h.cache.peek(NAME, 'TXT');
    await at(h, t0, 500_000);
    expect(h.upstream.count).toBe(1);
    expect(h.cache.metrics.counters.prefetches).toBe(0);
    expect(h.cache.peek(NAME, 'TXT')).toBeUndefined();
  });

  it('steady reads cost one upstream query per TTL window, and no reader waits or gets stale data', async () => {
    const h = harness();
    h.upstream.txt(NAME, 'x', 60);
    h.upstream.delayMs = 20;
    const t0 = h.clock.now();
    const first = h.cache.resolve(NAME, 'TXT');
    await settle(5);
    h.clock.advance(20);
    await first;
    const windows = 20;
    let waited = 0;
    for (let t = 0; t < windows * 60_000; t += 500) {
      await at(h, t0, t);
      if (!h.cache.peek(NAME, 'TXT')) waited++;
    }
    expect(waited).toBe(0);
    expect(h.cache.metrics.counters.staleServed).toBe(0);
    // One query per window: each new window starts a lead (3 round trips) before the old one ends, so
    // 20 windows of 60 s hold 20 refreshes and the start of a 21st.
    expect(h.upstream.count).toBeGreaterThanOrEqual(windows);
    expect(h.upstream.count).toBeLessThanOrEqual(windows + 1);
    const gaps = h.upstream.queries.slice(1).map((q, i) => q.at - h.upstream.queries[i].at);
    for (const gap of gaps) expect(gap).toBeGreaterThan(59_700);
  });

  it('two caches that both want a name refresh it with one upstream query between them', async () => {
    const h = harness();
    const b = h.another();
    h.upstream.txt(NAME, 'x', 100);
    const t0 = h.clock.now();
    await h.cache.resolve(NAME, 'TXT');
    await b.resolve(NAME, 'TXT');
    await at(h, t0, 90_000);
    h.cache.peek(NAME, 'TXT');
    b.peek(NAME, 'TXT');
    await at(h, t0, 99_999);
    await settle();
    expect(h.upstream.count).toBe(2);
    await at(h, t0, 100_001);
    expect(h.cache.peek(NAME, 'TXT')).toMatchObject({ state: 'fresh' });
    expect(b.peek(NAME, 'TXT')).toMatchObject({ state: 'fresh' });
    expect(h.upstream.count).toBe(2);
  });
});

describe('prefetch when the upstream fails', () => {
  it('a failed refresh is retried after the recheck interval, not at every hit', async () => {
    const h = harness({ failureRecheckSeconds: 30, staleExtensionSeconds: 300 });
    h.upstream.txt(NAME, 'x', 1_000);
    const t0 = h.clock.now();
    await h.cache.resolve(NAME, 'TXT');
    await at(h, t0, 900_000);
    h.cache.peek(NAME, 'TXT');
    h.upstream.failure = 'servfail';
    for (let t = 990_000; t < 1_029_000; t += 100) {
      await at(h, t0, t);
      expect(h.cache.peek(NAME, 'TXT')).toBeDefined();
    }
    // The timed refresh at 999.95 s failed; the next try waits for the recheck time, 30 s later.
    expect(h.upstream.queries.map((q) => q.at - t0)).toEqual([0, 999_950]);
    await at(h, t0, 1_031_000);
    h.cache.peek(NAME, 'TXT');
    await settle();
    expect(h.upstream.count).toBe(3);
    expect(h.logs.filter((l) => l.level === 'warn')).toHaveLength(1);
  });
});
