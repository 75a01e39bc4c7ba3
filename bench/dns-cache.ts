/**
 * `npm run bench:dns-cache`: the DNS cache (@dmarc/dns-cache) on a fake upstream with simulated latency and the
 * in-memory L2. Prints one JSON line. Not a timed test: the figures depend on the machine, so it checks nothing.
 *
 * - l1Hit: the synchronous hit path, per call, over warm names: peek() and the call of resolve() (which returns
 *   an already settled promise on a hit). Target p99 < 50 µs.
 * - concurrent: 10,000 concurrent callers, each awaiting resolve() in a loop over 10,000 names (5 ms upstream),
 *   cold start included: lookups/s and upstream queries.
 * - stampede: 10,000 callers at once on one missing name: upstream queries (must be 1) and the time to answer all.
 * - steady: simulated time (manual clock): 100 names with TTLs of 300 s-3600 s, each read at random (mean every
 *   2 s) for 12 h, upstream latency 20 ms ± 10 ms. queriesPerNamePerWindow = upstream queries / TTL windows (the
 *   floor: one query per name per window). Compared with the same cache refreshing at 90 % of the TTL, as
 *   Unbound's prefetch does in the last 10 % (its manual: ~10 % more traffic; at 80 %, CoreDNS-style, 1.25);
 *   and with two replicas sharing the L2, each read going to one of them at random.
 * - l2HitRedis (only with REDIS_URL): a lookup answered from Redis by a cache with an empty L1, per lookup.
 */
import * as os from 'node:os';
import { DnsCache, MemoryL2 } from '@dmarc/dns-cache';
// Test support, not public API: the fake upstream and manual clock the lib's own tests use.
import { FakeUpstream } from '../libs/dns-cache/src/__test-support__/fake-upstream';
import { ManualClock, settle } from '../libs/dns-cache/src/__test-support__/manual-clock';
import { quantile, round } from './dns-stats';
import { seededRandom } from './seeded-random';

async function l1Hit(): Promise<object> {
  const upstream = new FakeUpstream();
  const names = Array.from({ length: 1_000 }, (_, i) => `_dmarc.d${i}.example.com`);
  for (const n of names) upstream.txt(n, 'v=DMARC1; p=reject; rua=mailto:r@example.com', 3600);
  const cache = new DnsCache({ upstream, l2: new MemoryL2() });
  for (const n of names) await cache.resolve(n, 'TXT');
  const samples = 200_000;
  const peek = new Array<number>(samples);
  const resolve = new Array<number>(samples);
  // Warm-up, then measured passes (JIT settled).
  for (let i = 0; i < 100_000; i++) cache.peek(names[i % names.length], 'TXT');
  for (let i = 0; i < samples; i++) {
    const n = names[(i * 7) % names.length];
    const t0 = process.hrtime.bigint();
    cache.peek(n, 'TXT');
    const t1 = process.hrtime.bigint();
    void cache.resolve(n, 'TXT');
    const t2 = process.hrtime.bigint();
    peek[i] = Number(t1 - t0) / 1000;
    resolve[i] = Number(t2 - t1) / 1000;
  }
  peek.sort((a, b) => a - b);
  resolve.sort((a, b) => a - b);
  cache.close();
  return {
    peekP50Us: round(quantile(peek, 0.5), 3),
    peekP99Us: round(quantile(peek, 0.99), 3),
    resolveP50Us: round(quantile(resolve, 0.5), 3),
    resolveP99Us: round(quantile(resolve, 0.99), 3),
    samples,
  };
}

async function concurrent(): Promise<object> {
  const upstream = new FakeUpstream();
  upstream.delayMs = 5;
  const names = Array.from({ length: 10_000 }, (_, i) => `s${i % 4}._domainkey.d${i}.example.org`);
  for (const n of names) upstream.txt(n, 'v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC', 3600);
  const cache = new DnsCache({ upstream, l2: new MemoryL2() });
  const callers = 10_000;
  const perCaller = 200;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: callers }, async (_, c) => {
      for (let k = 0; k < perCaller; k++) await cache.resolve(names[(c * 31 + k * 997) % names.length], 'TXT');
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const c = cache.metrics.counters;
  cache.close();
  return { callers, names: names.length, lookups: c.lookups, seconds: round(seconds, 3), lookupsPerSec: Math.round(c.lookups / seconds), upstreamQueries: c.upstreamQueries, l1Hits: c.l1Hits, coalescedWaiters: c.coalescedWaiters };
}

async function stampede(): Promise<object> {
  const upstream = new FakeUpstream();
  upstream.delayMs = 5;
  upstream.txt('_dmarc.popular.example', 'v=DMARC1; p=none', 300);
  const cache = new DnsCache({ upstream, l2: new MemoryL2() });
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: 10_000 }, () => cache.resolve('_dmarc.popular.example', 'TXT')));
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  cache.close();
  return { callers: 10_000, upstreamQueries: upstream.count, ms: round(ms, 1) };
}

async function steady(roundTrips: number, replicas = 1): Promise<{ queries: number; windows: number; reads: number; waited: number; maxStaleMs: number; staleServed: number }> {
  const rnd = seededRandom(5);
  const clock = new ManualClock();
  const upstream = new FakeUpstream(async (ms) => clock.sleep(ms + (rnd() - 0.5) * 20), () => clock.now());
  upstream.delayMs = 20;
  const names = Array.from({ length: 100 }, (_, i) => ({ name: `_dmarc.steady${i}.example`, ttl: 300 + Math.floor(rnd() * 3301) }));
  for (const n of names) upstream.txt(n.name, 'v=DMARC1; p=quarantine', n.ttl);
  const l2 = new MemoryL2(clock);
  // Replicas share the L2 (and its lease), like processes sharing one Redis; each read goes to one at random.
  const caches = Array.from({ length: replicas }, () => new DnsCache({ upstream, l2, clock, prefetchRoundTrips: roundTrips }));
  const t0 = clock.now();
  const durationMs = 12 * 3600_000;
  // Every read of every name, Poisson with a mean of 2 s, in time order.
  const reads: Array<{ at: number; name: string }> = [];
  for (const n of names) for (let t = rnd() * 2_000; t < durationMs; t += -Math.log(1 - rnd()) * 2_000) reads.push({ at: t0 + t, name: n.name });
  reads.sort((a, b) => a.at - b.at);
  let waited = 0;
  let maxStaleMs = 0;
  const pending: Array<Promise<unknown>> = [];
  for (const read of reads) {
    if (clock.nextDueAt() <= read.at) await clock.runTo(read.at, 3);
    else clock.advanceTo(read.at);
    const cache = caches[Math.floor(rnd() * replicas)];
    const hit = cache.peek(read.name, 'TXT');
    if (hit) {
      if (hit.state === 'stale') maxStaleMs = Math.max(maxStaleMs, read.at - hit.expiresAt);
    } else {
      waited++;
      pending.push(cache.resolve(read.name, 'TXT'));
      // Let the fill reach the upstream (its simulated latency is a timer on this clock).
      await settle(3);
    }
  }
  await clock.runTo(t0 + durationMs + 60_000);
  await Promise.all(pending);
  // The floor: one query per name per TTL window of the replay (every window holds reads).
  const windows = names.reduce((sum, n) => sum + Math.ceil(durationMs / (n.ttl * 1000)), 0);
  for (const cache of caches) cache.close();
  const staleServed = caches.reduce((sum, c) => sum + c.metrics.counters.staleServed, 0);
  return { queries: upstream.count, windows, reads: reads.length, waited, maxStaleMs: Math.round(maxStaleMs), staleServed };
}

/** With REDIS_URL: an L1 miss answered by Redis (one GET), per lookup, from a second cache with an empty L1. */
async function l2Hit(redisUrl: string): Promise<object> {
  const { default: Redis } = await import('ioredis');
  const { RedisL2 } = await import('@dmarc/dns-cache');
  const upstream = new FakeUpstream();
  const names = Array.from({ length: 2_000 }, (_, i) => `bench-l2-${process.pid}-${i}.example`);
  for (const n of names) upstream.a(n, '192.0.2.1', 300);
  const clients = [new Redis(redisUrl), new Redis(redisUrl)];
  const drivers = clients.map((c) => new RedisL2(c));
  const writer = new DnsCache({ upstream, l2: drivers[0] });
  const reader = new DnsCache({ upstream, l2: drivers[1] });
  for (const n of names) await writer.resolve(n, 'A');
  const ms: number[] = [];
  for (const n of names) {
    const t0 = process.hrtime.bigint();
    const r = await reader.resolve(n, 'A');
    ms.push(Number(process.hrtime.bigint() - t0) / 1000);
    if (r.source !== 'l2') throw new Error(`expected an L2 hit, got ${r.source}`);
  }
  ms.sort((a, b) => a - b);
  writer.close();
  reader.close();
  await Promise.all(drivers.map((d) => d.close()));
  await clients[0].del(...names.map((n) => `global:dns:a:${n}`));
  await Promise.all(clients.map((c) => c.quit()));
  return { p50Us: round(quantile(ms, 0.5), 1), p99Us: round(quantile(ms, 0.99), 1), samples: ms.length, upstreamQueries: upstream.count };
}

async function main(): Promise<void> {
  const hit = await l1Hit();
  const stampeded = await stampede();
  const many = await concurrent();
  const ours = await steady(3);
  // A lead of 10 % of the TTL (the cap): refresh at 90 %, where Unbound's prefetch starts.
  const unboundLike = await steady(1e9);
  const twoReplicas = await steady(3, 2);
  const redisUrl = process.env.REDIS_URL;
  const l2 = redisUrl ? await l2Hit(redisUrl) : 'skipped (set REDIS_URL)';
  const line = {
    bench: 'dns-cache',
    machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version },
    l1Hit: hit,
    stampede: stampeded,
    concurrent: many,
    steady: {
      names: 100,
      simulatedHours: 12,
      ttlSeconds: '300-3600',
      upstreamLatencyMs: '20 ± 10',
      reads: ours.reads,
      // Misses: each name's first read (cold start) and reads that came before that first answer landed.
      readsThatWaited: ours.waited,
      staleServed: ours.staleServed,
      maxStaleServedMs: ours.maxStaleMs,
      upstreamQueries: ours.queries,
      floorWindows: ours.windows,
      queriesPerNamePerWindow: round(ours.queries / ours.windows, 4),
      refreshAt90PercentQueriesPerWindow: round(unboundLike.queries / unboundLike.windows, 4),
      twoReplicasQueriesPerNamePerWindow: round(twoReplicas.queries / twoReplicas.windows, 4),
      twoReplicasMaxStaleServedMs: twoReplicas.maxStaleMs,
    },
    l2HitRedis: l2,
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

main().catch((error) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
