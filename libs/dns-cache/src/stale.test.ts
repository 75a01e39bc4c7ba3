import type { RecordType, UpstreamAnswer } from '@dmarc/dns-wire';
import { harness } from './__test-support__/harness';
import { settle } from './__test-support__/manual-clock';
import { UpstreamFailedError } from './errors';

const NAME = 'spf.stale.example';

describe('stale-while-revalidate', () => {
  it('an expired entry still held is served at once while one refresh runs', async () => {
    const h = harness({ staleWhileRevalidateSeconds: 60 });
    h.upstream.txt(NAME, 'v=spf1 ip4:192.0.2.0/24 -all', 100);
    const t0 = h.clock.now();
    await h.cache.resolve(NAME, 'TXT');
    h.clock.advanceTo(t0 + 110_000);
    h.upstream.hold();
    h.upstream.txt(NAME, 'v=spf1 -all', 100);
    const stale = await h.cache.resolve(NAME, 'TXT');
    expect(stale).toMatchObject({ source: 'l1', state: 'stale', ttl: 0 });
    expect(stale.answers[0]).toMatchObject({ strings: ['v=spf1 ip4:192.0.2.0/24 -all'] });
    const again = h.cache.peek(NAME, 'TXT');
    expect(again).toMatchObject({ state: 'stale' });
    await settle();
    expect(h.upstream.count).toBe(2);
    h.upstream.release();
    await settle();
    const fresh = h.cache.peek(NAME, 'TXT');
    expect(fresh).toMatchObject({ state: 'fresh', ttl: 100 });
    expect(fresh?.answers[0]).toMatchObject({ strings: ['v=spf1 -all'] });
    expect(h.cache.metrics.counters.staleServed).toBe(2);
    expect(h.upstream.count).toBe(2);
  });

  it('past the staleness window nothing stale is served: the caller waits for the upstream', async () => {
    const h = harness({ staleWhileRevalidateSeconds: 60 });
    h.upstream.txt(NAME, 'x', 100);
    const t0 = h.clock.now();
    await h.cache.resolve(NAME, 'TXT');
    h.clock.advanceTo(t0 + 160_000);
    expect(h.cache.peek(NAME, 'TXT')).toBeUndefined();
    await expect(h.cache.resolve(NAME, 'TXT')).resolves.toMatchObject({ source: 'upstream', state: 'fresh' });
  });

  it('another process finds a stale copy in L2: served at once from l2 while the refresh runs', async () => {
    const h = harness({ staleWhileRevalidateSeconds: 60 });
    h.upstream.txt(NAME, 'x', 100);
    const t0 = h.clock.now();
    await h.cache.resolve(NAME, 'TXT');
    await settle();
    const b = h.another();
    h.clock.advanceTo(t0 + 120_000);
    h.upstream.hold();
    await expect(b.resolve(NAME, 'TXT')).resolves.toMatchObject({ source: 'l2', state: 'stale' });
    await settle();
    expect(h.upstream.count).toBe(2);
    h.upstream.release();
    await settle();
    expect(b.peek(NAME, 'TXT')).toMatchObject({ state: 'fresh', source: 'l1' });
  });
});

describe('stale on failure (RFC 8767)', () => {
  it('serves the stale answer while the upstream is down, for the extension and no longer; logs once per outage', async () => {
    const h = harness({ staleWhileRevalidateSeconds: 30, staleExtensionSeconds: 300, maxStaleSeconds: 300, failureRecheckSeconds: 30, failureTtlSeconds: 5 });
    h.upstream.txt(NAME, 'v=spf1 -all', 100);
    const t0 = h.clock.now();
    await h.cache.resolve(NAME, 'TXT');
    h.upstream.failure = 'timeout';

    const callers = 50;
    h.clock.advanceTo(t0 + 101_000);
    const first = await Promise.all(Array.from({ length: callers }, () => h.cache.resolve(NAME, 'TXT')));
    expect(first.every((r) => r.state === 'stale' && r.answers.length === 1)).toBe(true);
    await settle();
    expect(h.upstream.count).toBe(2);

    // Inside the recheck interval nobody asks again; once past it, one caller's refresh does.
    for (let t = 102_000; t < 399_000; t += 1_000) {
      h.clock.advanceTo(t0 + t);
      expect(h.cache.peek(NAME, 'TXT')).toMatchObject({ state: 'stale' });
      await settle(3);
    }
    // One query every 30 s of recheck interval: at 101 s, 131 s, ... 371 s.
    expect(h.upstream.count).toBe(2 + 9);
    const warnings = h.logs.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ message: 'dns upstream failing', fields: { name: NAME, reason: 'TIMEOUT', servingStale: true } });

    // Expiry (100 s) plus max stale (300 s): no longer.
    h.clock.advanceTo(t0 + 400_001);
    expect(h.cache.peek(NAME, 'TXT')).toBeUndefined();
    const error = await h.cache.resolve(NAME, 'TXT').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamFailedError);
    expect(error).toMatchObject({ code: 'DNS_UPSTREAM_FAILED', retriable: true, cached: false, reason: 'TIMEOUT' });
    expect(h.logs.filter((l) => l.level === 'warn')).toHaveLength(1);

    // The failure itself is remembered for 5 s: a dead upstream is not hammered.
    const count = h.upstream.count;
    h.clock.advance(4_000);
    await expect(h.cache.resolve(NAME, 'TXT')).rejects.toMatchObject({ cached: true });
    expect(h.upstream.count).toBe(count);

    h.upstream.failure = undefined;
    h.clock.advance(1_001);
    await expect(h.cache.resolve(NAME, 'TXT')).resolves.toMatchObject({ state: 'fresh', source: 'upstream' });
    expect(h.logs.filter((l) => l.level === 'info').map((l) => l.message)).toEqual(['dns upstream answers again']);
  });

  it('SERVFAIL with nothing stale: one query for all callers, the failure cached briefly, then asked again', async () => {
    const h = harness({ failureTtlSeconds: 5 });
    h.upstream.failure = 'servfail';
    const results = await Promise.allSettled(Array.from({ length: 100 }, () => h.cache.resolve('down.example', 'A')));
    expect(results.every((r) => r.status === 'rejected' && (r.reason as UpstreamFailedError).reason === 'SERVFAIL')).toBe(true);
    expect(h.upstream.count).toBe(1);
    h.clock.advance(1_000);
    expect(() => h.cache.peek('down.example', 'A')).toThrow(UpstreamFailedError);
    // Shared through L2 too: another process does not ask either.
    await expect(h.another().resolve('down.example', 'A')).rejects.toMatchObject({ cached: true });
    expect(h.upstream.count).toBe(1);
    h.clock.advance(4_001);
    await expect(h.cache.resolve('down.example', 'A')).rejects.toMatchObject({ cached: false });
    expect(h.upstream.count).toBe(2);
    expect(h.logs.filter((l) => l.level === 'warn')).toHaveLength(1);
    expect(h.cache.metrics.counters.upstreamFailures).toBe(2);
  });
});

describe('a hung upstream', () => {
  it('is cut off at the deadline (the signal aborted) and counts as a timeout', async () => {
    const h = harness({ upstreamDeadlineMs: 2_000 });
    let signal: AbortSignal | undefined;
    h.upstream.query = (_name: string, _type: RecordType, s?: AbortSignal) => {
      signal = s;
      return new Promise<UpstreamAnswer>(() => undefined);
    };
    const outcome = h.cache.resolve('hung.example', 'A').catch((e: unknown) => e);
    await settle();
    await h.clock.runTo(h.clock.now() + 2_000);
    expect(await outcome).toMatchObject({ code: 'DNS_UPSTREAM_FAILED', reason: 'TIMEOUT' });
    expect(signal?.aborted).toBe(true);
    expect(h.l2.keys()).toEqual(['global:dns:a:hung.example']);
  });
});

describe('one outage, two processes', () => {
  it('the outage travels with the entry through L2: the second process neither asks again early nor logs again', async () => {
    const h = harness({ failureRecheckSeconds: 30 });
    const b = h.another();
    h.upstream.txt(NAME, 'x', 100);
    const t0 = h.clock.now();
    await h.cache.resolve(NAME, 'TXT');
    await b.resolve(NAME, 'TXT');
    h.upstream.failure = 'servfail';
    h.clock.advanceTo(t0 + 101_000);
    expect(h.cache.peek(NAME, 'TXT')).toMatchObject({ state: 'stale' });
    await settle();
    expect(h.upstream.count).toBe(2);
    h.clock.advanceTo(t0 + 102_000);
    expect(b.peek(NAME, 'TXT')).toMatchObject({ state: 'stale' });
    await settle();
    // B found A's extended copy in L2 (retry not before 131 s): no query, no second warning.
    expect(h.upstream.count).toBe(2);
    expect(h.logs.filter((l) => l.level === 'warn')).toHaveLength(1);
  });
});
