// The cache's behaviours proved end to end: DnsCache → DnsClient over loopback UDP/TCP → a real DNS server
// the tests start (@dmarc/testing), L2 on the real Redis. The server counts the queries it receives, so
// "one upstream query" is counted on the wire, not by the cache about itself. Time is the cache's manual
// clock: the TTLs come from the server's answers and the tests move the clock instead of sleeping.
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { startDnsTestServer, type DnsTestServer } from '@dmarc/testing';
import type { DnsRecord } from '@dmarc/dns-wire';
import type { DnsCache } from './dns-cache';
import { sharedKey, type CachedType } from './dns-name';
import { UpstreamFailedError } from './errors';
import { quietFor, realStack, waitUntil, type RealStack, type RealStackOptions } from './__test-support__/real-upstream';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const runId = randomUUID().slice(0, 8);
/** A name no other test, and no other run sharing this Redis, uses. */
const unique = (label: string): string => `${label}.run-${runId}.example`;
const txt = (r: DnsRecord | undefined): string[] | undefined => (r?.type === 'TXT' ? r.strings : undefined);

describe('dns cache over a real DNS server on loopback and a real Redis', () => {
  let server: DnsTestServer;
  let redis: Redis;
  const stacks: RealStack[] = [];

  function stack(options: Partial<RealStackOptions> = {}): RealStack {
    const s = realStack(server, { redisUrl, ...options });
    stacks.push(s);
    return s;
  }

  /** A first caller is answered before the write to Redis lands; another process sees it once it has. */
  const landed = (type: CachedType, name: string): Promise<void> =>
    waitUntil(`${type} ${name} to land in Redis`, async () => (await redis.exists(sharedKey(type, name))) === 1);

  /** Two processes holding `name` (TTL 100 s), the second one's copy read from Redis. */
  async function twoProcessesHolding(name: string, text: string): Promise<{ s: RealStack; other: DnsCache; t0: number }> {
    server.set(name, 'TXT', [text], 100);
    const s = stack();
    const other = s.another();
    const t0 = s.clock.now();
    await s.cache.resolve(name, 'TXT');
    await landed('TXT', name);
    await expect(other.resolve(name, 'TXT')).resolves.toMatchObject({ source: 'l2' });
    return { s, other, t0 };
  }

  beforeAll(async () => {
    server = await startDnsTestServer();
    redis = new Redis(redisUrl);
  });

  afterEach(async () => {
    await Promise.all(stacks.splice(0).map((s) => s.close()));
  });

  afterAll(async () => {
    // Every key this run wrote (entries, leases) carries the run id in its name.
    const keys: string[] = [];
    const scan = redis.scanStream({ match: `global:dns:*run-${runId}*`, count: 1_000 });
    for await (const batch of scan) keys.push(...(batch as string[]));
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
    await server.close();
  });

  it('10,000 concurrent callers of one missing name: exactly one query reaches the server, every caller gets the answer', async () => {
    const name = unique('_dmarc.coalesce');
    server.set(name, 'TXT', ['v=DMARC1; p=reject'], 300);
    // Slow enough that the one query is surely still in flight while all the callers arrive.
    server.delay(50, name);
    const { cache } = stack();

    const results = await Promise.all(Array.from({ length: 10_000 }, () => cache.resolve(name, 'TXT')));

    expect(server.queries(name, 'TXT')).toEqual({ total: 1, udp: 1, tcp: 0 });
    expect(results.every((r) => r.rcode === 'NOERROR' && r.answers.length === 1 && txt(r.answers[0])?.[0] === 'v=DMARC1; p=reject')).toBe(true);
    expect(results.every((r) => r.ttl === 300 && r.state === 'fresh')).toBe(true);
    expect(cache.metrics.counters.upstreamQueries).toBe(1);
    expect(cache.metrics.counters.coalescedWaiters).toBe(9_999);
    // And the next reader is answered from memory.
    expect(cache.peek(name, 'TXT')).toMatchObject({ source: 'l1', state: 'fresh' });
    expect(server.queries(name, 'TXT').total).toBe(1);
  }, 10_000);

  it('prefetch: reads past 80 % are answered at once and lead to one refresh just before expiry; an unread name is left to expire', async () => {
    const read = unique('read.prefetch');
    const unread = unique('unread.prefetch');
    server.set(read, 'TXT', ['v=spf1 -all'], 100);
    server.set(unread, 'TXT', ['v=spf1 ~all'], 100);
    const { cache, clock } = stack();
    const t0 = clock.now();
    await cache.resolve(read, 'TXT');
    await cache.resolve(unread, 'TXT');
    expect(server.queries(read, 'TXT').total).toBe(1);
    expect(server.queries(unread, 'TXT').total).toBe(1);

    clock.advanceTo(t0 + 50_000);
    expect(cache.peek(read, 'TXT')).toMatchObject({ state: 'fresh', ttl: 50 });
    expect(cache.peek(unread, 'TXT')).toMatchObject({ state: 'fresh', ttl: 50 });
    expect(cache.stats().scheduledPrefetches).toBe(0);

    // Past 80 %: the hit is answered synchronously from L1 and marks the name wanted; no query at the hit.
    clock.advanceTo(t0 + 85_000);
    expect(cache.peek(read, 'TXT')).toMatchObject({ source: 'l1', state: 'fresh', ttl: 15, answers: [{ strings: ['v=spf1 -all'] }] });
    for (let i = 0; i < 1_000; i++) cache.peek(read, 'TXT');
    expect(cache.stats().scheduledPrefetches).toBe(1);
    await quietFor(100);
    expect(server.queries(read, 'TXT').total).toBe(1);

    server.set(read, 'TXT', ['v=spf1 include:_spf.example -all'], 100);
    // The clock's upstream round trips measure 0 ms (it does not move during a query), so the lead is the
    // minimum, 50 ms: the refresh goes out at expiry - 50 ms and not a moment before.
    clock.advanceTo(t0 + 99_949);
    await quietFor(100);
    expect(server.queries(read, 'TXT').total).toBe(1);
    clock.advanceTo(t0 + 99_950);
    await waitUntil('the prefetch to reach the server', () => server.queries(read, 'TXT').total === 2);
    await waitUntil('the prefetch to land', () => cache.stats().inFlight === 0);
    expect(cache.metrics.counters.prefetches).toBe(1);

    // The new answer was in before the old one expired: readers never saw it stale.
    clock.advanceTo(t0 + 100_000);
    expect(cache.peek(read, 'TXT')).toMatchObject({ source: 'l1', state: 'fresh', ttl: 100, answers: [{ strings: ['v=spf1 include:_spf.example -all'] }] });
    expect(cache.metrics.counters.staleServed).toBe(0);

    // The unread name (nobody read it past 80 %) was never refreshed; past its staleness window it is gone.
    clock.advanceTo(t0 + 100_000 + cache.policy.staleWhileRevalidateMs + 1);
    await quietFor(100);
    expect(server.queries(unread, 'TXT').total).toBe(1);
    expect(cache.peek(unread, 'TXT')).toBeUndefined();
    expect(cache.metrics.counters.prefetches).toBe(1);
    expect(server.queries(read, 'TXT').total).toBe(2);
  }, 10_000);

  it('stale while refreshing: an expired entry is served at once while one slow refresh runs, then the new answer', async () => {
    const name = unique('spf.stale');
    server.set(name, 'TXT', ['v=spf1 ip4:192.0.2.0/24 -all'], 100);
    const { cache, clock } = stack({ staleWhileRevalidateSeconds: 60 });
    const t0 = clock.now();
    await cache.resolve(name, 'TXT');

    server.set(name, 'TXT', ['v=spf1 ip4:198.51.100.0/24 -all'], 200);
    server.delay(500, name);
    clock.advanceTo(t0 + 110_000);
    const started = Date.now();
    const stale = await Promise.all(Array.from({ length: 1_000 }, () => cache.resolve(name, 'TXT')));
    const waitedMs = Date.now() - started;

    // Answered while the refresh is still held by the server, not after it.
    expect(cache.stats().inFlight).toBe(1);
    expect(waitedMs).toBeLessThan(400);
    expect(stale.every((r) => r.state === 'stale' && r.source === 'l1' && r.ttl === 0)).toBe(true);
    expect(txt(stale[0].answers[0])).toEqual(['v=spf1 ip4:192.0.2.0/24 -all']);
    await waitUntil('the refresh to reach the server', () => server.queries(name, 'TXT').total === 2);
    // Still refreshing (the server holds its answer 500 ms): more readers, still stale, still one refresh.
    expect(cache.stats().inFlight).toBe(1);
    expect(cache.peek(name, 'TXT')).toMatchObject({ state: 'stale' });

    await waitUntil('the refresh to land', () => cache.stats().inFlight === 0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    const fresh = cache.peek(name, 'TXT');
    expect(fresh).toMatchObject({ source: 'l1', state: 'fresh', ttl: 200 });
    expect(txt(fresh?.answers[0])).toEqual(['v=spf1 ip4:198.51.100.0/24 -all']);
    expect(server.queries(name, 'TXT').total).toBe(2);
    expect(cache.metrics.counters.staleServed).toBe(1_001);
  }, 10_000);

  it('stale on failure: served through timeouts and SERVFAIL for the extensions, not past the total bound; logged once', async () => {
    const name = unique('_dmarc.outage');
    server.set(name, 'TXT', ['v=DMARC1; p=none'], 100);
    const { cache, clock, logs } = stack({
      staleWhileRevalidateSeconds: 30,
      staleExtensionSeconds: 300,
      maxStaleSeconds: 600,
      failureRecheckSeconds: 120,
      failureTtlSeconds: 5,
      client: { timeoutMs: 150, retries: 0 },
    });
    const t0 = clock.now();
    await cache.resolve(name, 'TXT');
    const queries = (): number => server.queries(name, 'TXT').total;

    // The server goes silent: the client's queries time out.
    server.fail('drop', name);
    clock.advanceTo(t0 + 101_000);
    const first = await Promise.all(Array.from({ length: 100 }, () => cache.resolve(name, 'TXT')));
    expect(first.every((r) => r.state === 'stale' && txt(r.answers[0])?.[0] === 'v=DMARC1; p=none')).toBe(true);
    await waitUntil('the failed refresh to end', () => cache.stats().inFlight === 0);
    expect(queries()).toBe(2);

    // Read every 10 s up to just before the bound (expiry 100 s + max stale 600 s). A refresh is tried once
    // per recheck interval (120 s): at 221, 341, 461 and 581 s; from 221 s on the server answers SERVFAIL.
    const refreshedAt: number[] = [];
    for (let t = 111_000; t < 700_000; t += 10_000) {
      if (t === 221_000) server.fail('servfail', name);
      const before = queries();
      clock.advanceTo(t0 + t);
      expect(cache.peek(name, 'TXT')).toMatchObject({ state: 'stale', answers: [{ strings: ['v=DMARC1; p=none'] }] });
      await waitUntil(`the refresh at ${t} ms to end`, () => cache.stats().inFlight === 0);
      if (queries() > before) refreshedAt.push(t);
    }
    expect(refreshedAt).toEqual([221_000, 341_000, 461_000, 581_000]);
    clock.advanceTo(t0 + 699_999);
    expect(cache.peek(name, 'TXT')).toMatchObject({ state: 'stale' });

    // Past the bound nothing stale is served: the caller gets the failure.
    clock.advanceTo(t0 + 700_001);
    expect(cache.peek(name, 'TXT')).toBeUndefined();
    const error = await cache.resolve(name, 'TXT').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamFailedError);
    expect(error).toMatchObject({ code: 'DNS_UPSTREAM_FAILED', reason: 'SERVFAIL', cached: false });
    expect(queries()).toBe(7);
    // The failure is then remembered briefly: the dead server is not asked again at once.
    clock.advance(4_000);
    await expect(cache.resolve(name, 'TXT')).rejects.toMatchObject({ cached: true });
    expect(queries()).toBe(7);

    const warnings = logs.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ message: 'dns upstream failing', fields: { name, type: 'TXT', reason: 'TIMEOUT', servingStale: true } });
    expect(cache.metrics.counters.upstreamFailures).toBe(6);

    // The server answers again: the next query is asked and its recovery logged, once.
    server.fail(null, name);
    clock.advance(1_001);
    await expect(cache.resolve(name, 'TXT')).resolves.toMatchObject({ source: 'upstream', state: 'fresh', ttl: 100 });
    expect(queries()).toBe(8);
    expect(logs.filter((l) => l.level === 'info').map((l) => l.message)).toEqual(['dns upstream answers again']);
  }, 15_000);

  it('a prefetch that fails keeps the answer: fresh to expiry, then stale, asked again only after the recheck interval', async () => {
    const name = unique('prefetch.fails');
    server.set(name, 'TXT', ['v=spf1 -all'], 100);
    const { cache, clock, logs } = stack({ failureRecheckSeconds: 30, client: { timeoutMs: 150, retries: 0 } });
    const t0 = clock.now();
    await cache.resolve(name, 'TXT');
    clock.advanceTo(t0 + 90_000);
    cache.peek(name, 'TXT');
    server.fail('servfail', name);
    clock.advanceTo(t0 + 99_950);
    await waitUntil('the prefetch to end', () => server.queries(name, 'TXT').total === 2 && cache.stats().inFlight === 0);

    expect(cache.peek(name, 'TXT')).toMatchObject({ state: 'fresh', answers: [{ strings: ['v=spf1 -all'] }] });
    for (let t = 100_000; t < 129_950; t += 2_000) {
      clock.advanceTo(t0 + t);
      expect(cache.peek(name, 'TXT')).toMatchObject({ state: 'stale', answers: [{ strings: ['v=spf1 -all'] }] });
    }
    await quietFor(50);
    expect(server.queries(name, 'TXT').total).toBe(2);
    // Recheck interval over (30 s after the failed prefetch): one more try, which succeeds.
    server.fail(null, name);
    clock.advanceTo(t0 + 129_950);
    expect(cache.peek(name, 'TXT')).toMatchObject({ state: 'stale' });
    await waitUntil('the retry to land', () => server.queries(name, 'TXT').total === 3 && cache.stats().inFlight === 0);
    expect(cache.peek(name, 'TXT')).toMatchObject({ state: 'fresh', ttl: 100 });
    expect(logs.filter((l) => l.level === 'warn')).toHaveLength(1);
  }, 10_000);

  it('a silent server with nothing stale: 1,000 callers cost one query; the failure is remembered briefly, in Redis too', async () => {
    const name = unique('silent.failure');
    server.fail('drop', name);
    const s = stack({ failureTtlSeconds: 5, client: { timeoutMs: 150, retries: 1 } });
    const outcomes = await Promise.allSettled(Array.from({ length: 1_000 }, () => s.cache.resolve(name, 'A')));
    expect(outcomes.every((o) => o.status === 'rejected' && o.reason instanceof UpstreamFailedError && o.reason.reason === 'TIMEOUT')).toBe(true);
    // One logical query: the client's own retry is the second datagram.
    expect(server.queries(name, 'A').total).toBe(2);
    expect(s.cache.metrics.counters.upstreamQueries).toBe(1);
    await landed('A', name);

    s.clock.advance(4_000);
    await expect(s.cache.resolve(name, 'A')).rejects.toMatchObject({ cached: true });
    await expect(s.another().resolve(name, 'A')).rejects.toMatchObject({ cached: true, reason: 'TIMEOUT' });
    expect(server.queries(name, 'A').total).toBe(2);

    server.fail(null, name);
    server.set(name, 'A', ['192.0.2.53'], 60);
    s.clock.advance(1_001);
    await expect(s.cache.resolve(name, 'A')).resolves.toMatchObject({ source: 'upstream', state: 'fresh', answers: [{ address: '192.0.2.53' }] });
    expect(server.queries(name, 'A').total).toBe(3);
    expect(s.logs.filter((l) => l.level === 'warn')).toHaveLength(1);
  }, 10_000);

  it('negative caching: NXDOMAIN and NODATA live for the SOA negative TTL, clamped; no re-ask within it, one after', async () => {
    const nx = unique('nx.negative');
    const nodata = unique('nodata.negative');
    const short = unique('short.negative');
    const long = unique('long.negative');
    server.set(nodata, 'A', ['192.0.2.10'], 300);
    // Without an in-zone SOA the server sends its own, whose TTL and MINIMUM setSoa changes: negative TTL
    // = min(SOA TTL, MINIMUM) (RFC 2308 §5). No stale window and no prefetch here, so the re-ask is plain.
    const { cache, clock } = stack({ staleWhileRevalidateSeconds: 0, prefetchRatio: 1, negativeMinTtlSeconds: 30, negativeMaxTtlSeconds: 600 });
    try {
      server.setSoa({ ttl: 3600, minimum: 45 });
      const t0 = clock.now();
      await expect(cache.resolve(nx, 'TXT')).resolves.toMatchObject({ rcode: 'NXDOMAIN', state: 'negative', ttl: 45, answers: [], source: 'upstream' });
      await expect(cache.resolve(nodata, 'TXT')).resolves.toMatchObject({ rcode: 'NOERROR', state: 'negative', ttl: 45, answers: [], source: 'upstream' });

      clock.advanceTo(t0 + 44_999);
      await expect(cache.resolve(nx, 'TXT')).resolves.toMatchObject({ rcode: 'NXDOMAIN', state: 'negative', ttl: 1, source: 'l1' });
      await expect(cache.resolve(nodata, 'TXT')).resolves.toMatchObject({ rcode: 'NOERROR', state: 'negative', ttl: 1, source: 'l1' });
      expect(server.queries(nx, 'TXT').total).toBe(1);
      expect(server.queries(nodata, 'TXT').total).toBe(1);

      clock.advanceTo(t0 + 45_000);
      await expect(cache.resolve(nx, 'TXT')).resolves.toMatchObject({ rcode: 'NXDOMAIN', source: 'upstream' });
      await expect(cache.resolve(nodata, 'TXT')).resolves.toMatchObject({ rcode: 'NOERROR', state: 'negative', source: 'upstream' });
      expect(server.queries(nx, 'TXT').total).toBe(2);
      expect(server.queries(nodata, 'TXT').total).toBe(2);

      // The SOA's negative TTL clamped: cached that long, asked again at its end and not before.
      const clampedTo = async (name: string, type: 'MX' | 'AAAA', ttl: number): Promise<void> => {
        const t = clock.now();
        await expect(cache.resolve(name, type)).resolves.toMatchObject({ rcode: 'NXDOMAIN', source: 'upstream', ttl });
        clock.advanceTo(t + ttl * 1000 - 1);
        await expect(cache.resolve(name, type)).resolves.toMatchObject({ source: 'l1', ttl: 1 });
        expect(server.queries(name, type).total).toBe(1);
        clock.advanceTo(t + ttl * 1000);
        await expect(cache.resolve(name, type)).resolves.toMatchObject({ source: 'upstream', ttl });
        expect(server.queries(name, type).total).toBe(2);
      };
      server.setSoa({ ttl: 3600, minimum: 5 });
      await clampedTo(short, 'MX', 30);
      server.setSoa({ ttl: 7200, minimum: 7200 });
      await clampedTo(long, 'AAAA', 600);
    } finally {
      server.setSoa({ ttl: 3600, minimum: 60 });
    }
  }, 10_000);

  it('TTL countdown across L1 and L2: a second process reads the entry from Redis with the elapsed time taken off', async () => {
    const name = unique('countdown');
    server.set(name, 'A', ['192.0.2.7'], 300);
    const s = stack();
    const t0 = s.clock.now();
    const first = await s.cache.resolve(name, 'A');
    expect(first).toMatchObject({ source: 'upstream', state: 'fresh', ttl: 300, answers: [{ address: '192.0.2.7' }] });
    await landed('A', name);

    s.clock.advanceTo(t0 + 120_500);
    const other = s.another();
    const fromL2 = await other.resolve(name, 'A');
    expect(fromL2).toMatchObject({ source: 'l2', state: 'fresh', ttl: 180, expiresAt: first.expiresAt, answers: [{ address: '192.0.2.7' }] });
    const fromL1 = await other.resolve(name, 'A');
    expect(fromL1).toMatchObject({ source: 'l1', state: 'fresh', ttl: 180, expiresAt: first.expiresAt });
    s.clock.advanceTo(t0 + 200_000);
    expect(other.peek(name, 'A')).toMatchObject({ source: 'l1', ttl: 100 });
    expect(s.cache.peek(name, 'A')).toMatchObject({ source: 'l1', ttl: 100 });
    expect(server.queries(name, 'A').total).toBe(1);
    expect(other.metrics.counters.upstreamQueries).toBe(0);
  }, 10_000);

  it('a negative answer counts down across L1 and L2 too', async () => {
    const name = unique('countdown.negative');
    // The server's default SOA: TTL 3600, MINIMUM 60, so NXDOMAIN lives 60 s.
    const s = stack();
    const t0 = s.clock.now();
    await expect(s.cache.resolve(name, 'TXT')).resolves.toMatchObject({ source: 'upstream', state: 'negative', rcode: 'NXDOMAIN', ttl: 60 });
    await landed('TXT', name);
    s.clock.advanceTo(t0 + 20_500);
    const other = s.another();
    await expect(other.resolve(name, 'TXT')).resolves.toMatchObject({ source: 'l2', state: 'negative', rcode: 'NXDOMAIN', ttl: 40 });
    await expect(other.resolve(name, 'TXT')).resolves.toMatchObject({ source: 'l1', state: 'negative', ttl: 40 });
    expect(server.queries(name, 'TXT').total).toBe(1);
  }, 10_000);

  it('two processes on one Redis, asked at the same moment, send one query between them', async () => {
    const name = unique('_dmarc.two-processes');
    server.set(name, 'TXT', ['v=DMARC1; p=quarantine'], 300);
    server.delay(100, name);
    const s = stack();
    const other = s.another();
    const results = await Promise.all(Array.from({ length: 1_000 }, (_, i) => (i % 2 === 0 ? s.cache : other).resolve(name, 'TXT')));

    expect(server.queries(name, 'TXT').total).toBe(1);
    expect(results.every((r) => r.state === 'fresh' && txt(r.answers[0])?.[0] === 'v=DMARC1; p=quarantine')).toBe(true);
    // Whichever did not take the lease got the answer through Redis (pub/sub on its landing).
    expect(new Set(results.map((r) => r.source))).toEqual(new Set(['upstream', 'l2']));
    expect(s.cache.metrics.counters.upstreamQueries + other.metrics.counters.upstreamQueries).toBe(1);
  }, 10_000);

  it('stale while refreshing in two processes: both serve the stale answer at once, one refresh between them, both get the new one', async () => {
    const name = unique('stale.two-processes');
    const { s, other, t0 } = await twoProcessesHolding(name, 'v=spf1 a -all');

    server.set(name, 'TXT', ['v=spf1 mx -all'], 100);
    server.delay(300, name);
    s.clock.advanceTo(t0 + 105_000);
    expect(s.cache.peek(name, 'TXT')).toMatchObject({ state: 'stale', answers: [{ strings: ['v=spf1 a -all'] }] });
    expect(other.peek(name, 'TXT')).toMatchObject({ state: 'stale', answers: [{ strings: ['v=spf1 a -all'] }] });
    await waitUntil('both refreshes to end', () => s.cache.stats().inFlight === 0 && other.stats().inFlight === 0);

    expect(server.queries(name, 'TXT').total).toBe(2);
    for (const cache of [s.cache, other]) {
      expect(cache.peek(name, 'TXT')).toMatchObject({ source: 'l1', state: 'fresh', ttl: 100, answers: [{ strings: ['v=spf1 mx -all'] }] });
    }
  }, 10_000);

  it('two processes that both want a name refresh it with one query between them, just before expiry', async () => {
    const name = unique('prefetch.two-processes');
    const { s, other, t0 } = await twoProcessesHolding(name, 'v=DKIM1; p=AAAA');

    s.clock.advanceTo(t0 + 90_000);
    s.cache.peek(name, 'TXT');
    other.peek(name, 'TXT');
    server.set(name, 'TXT', ['v=DKIM1; p=BBBB'], 100);
    s.clock.advanceTo(t0 + 99_950);
    await waitUntil('both prefetches to end', () => s.cache.stats().inFlight === 0 && other.stats().inFlight === 0);

    expect(server.queries(name, 'TXT').total).toBe(2);
    s.clock.advanceTo(t0 + 100_000);
    for (const cache of [s.cache, other]) {
      expect(cache.peek(name, 'TXT')).toMatchObject({ source: 'l1', state: 'fresh', ttl: 100, answers: [{ strings: ['v=DKIM1; p=BBBB'] }] });
    }
    expect(s.cache.metrics.counters.staleServed + other.metrics.counters.staleServed).toBe(0);
  }, 10_000);

  it('a hit past 80 % answered from L2 marks the name wanted too', async () => {
    const name = unique('l2.prefetch');
    server.set(name, 'TXT', ['v=spf1 -all'], 100);
    const s = stack({ staleWhileRevalidateSeconds: 0 });
    const t0 = s.clock.now();
    await s.cache.resolve(name, 'TXT');
    await landed('TXT', name);

    // Another process reads the name once, past 80 %, from Redis.
    s.clock.advanceTo(t0 + 90_000);
    const other = s.another();
    await expect(other.resolve(name, 'TXT')).resolves.toMatchObject({ source: 'l2', state: 'fresh', ttl: 10 });
    expect(other.stats().scheduledPrefetches).toBe(1);
    s.clock.advanceTo(t0 + 99_950);
    await waitUntil('the prefetch to reach the server', () => server.queries(name, 'TXT').total === 2);
    await waitUntil('the prefetch to land', () => other.stats().inFlight === 0);
    s.clock.advanceTo(t0 + 100_000);
    expect(other.peek(name, 'TXT')).toMatchObject({ source: 'l1', state: 'fresh', ttl: 100 });
  }, 10_000);

  it('a truncated UDP answer is asked again over TCP inside the one upstream query, for every caller', async () => {
    const flagged = unique('tc.flagged');
    const big = unique('tc.big');
    server.set(flagged, 'TXT', ['v=spf1 -all'], 300);
    server.truncate(flagged);
    // Too big for the client's 1,232-byte EDNS buffer: the server itself sets TC.
    const strings = Array.from({ length: 8 }, (_, i) => `${i}`.padEnd(250, 'x'));
    server.set(big, 'TXT', strings, 300);
    const { cache } = stack();

    const flaggedResults = await Promise.all(Array.from({ length: 1_000 }, () => cache.resolve(flagged, 'TXT')));
    expect(flaggedResults.every((r) => r.state === 'fresh' && txt(r.answers[0])?.[0] === 'v=spf1 -all')).toBe(true);
    expect(server.queries(flagged, 'TXT')).toEqual({ total: 2, udp: 1, tcp: 1 });

    const bigResults = await Promise.all(Array.from({ length: 1_000 }, () => cache.resolve(big, 'TXT')));
    expect(bigResults.every((r) => r.answers.length === 8)).toBe(true);
    expect(bigResults[0].answers.flatMap((r) => txt(r) ?? []).sort()).toEqual([...strings].sort());
    expect(server.queries(big, 'TXT')).toEqual({ total: 2, udp: 1, tcp: 1 });

    // One logical upstream query per name, as far as the cache is concerned.
    expect(cache.metrics.counters.upstreamQueries).toBe(2);
    expect(cache.metrics.counters.upstreamFailures).toBe(0);
  }, 10_000);
});
