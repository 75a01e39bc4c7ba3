// The shared tier on a real Redis: caches in two processes send one upstream query between them, a lease
// holder that dies is replaced after its lease expires, and the TTL counts down across processes.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import Redis from 'ioredis';
import { DnsCache } from './dns-cache';
import { RedisL2 } from './redis-l2';
import { sharedKey } from './dns-name';
import { leaseKey } from './shared-lease';
import { FakeUpstream } from './__test-support__/fake-upstream';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const runId = randomUUID().slice(0, 8);

interface Child {
  process: ChildProcess;
  lines: Array<Record<string, unknown>>;
  stderr: () => string;
  exited: Promise<unknown>;
}

function startChild(args: object): Child {
  const fixture = join(__dirname, '__fixtures__/cache-process.ts');
  const child = spawn(process.execPath, ['--require', require.resolve('tsx/cjs'), fixture, JSON.stringify({ redisUrl, ...args })], {
    cwd: join(__dirname, '../../..'),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: Array<Record<string, unknown>> = [];
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    for (const line of chunk.split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return { process: child, lines, stderr: () => stderr, exited: new Promise((resolve) => child.on('exit', resolve)) };
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const event = (child: Child, name: string) => child.lines.find((l) => l.event === name);

describe('dns cache on a shared Redis', () => {
  const clients: Redis[] = [];
  const drivers: RedisL2[] = [];
  const caches: DnsCache[] = [];
  const children: Child[] = [];

  function cacheWith(upstream: FakeUpstream, leaseMs = 3_000): DnsCache {
    const redis = new Redis(redisUrl);
    const l2 = new RedisL2(redis);
    clients.push(redis);
    drivers.push(l2);
    const cache = new DnsCache({ upstream, l2, leaseMs, leasePollMs: 50 });
    caches.push(cache);
    return cache;
  }

  function child(args: object): Child {
    const c = startChild(args);
    children.push(c);
    return c;
  }

  afterAll(async () => {
    for (const c of children) if (c.process.exitCode === null) c.process.kill('SIGKILL');
    for (const c of caches) c.close();
    await Promise.all(drivers.map((d) => d.close()));
    await Promise.all(clients.map((c) => c.quit()));
  });

  it('two processes asking at the same moment send one upstream query between them and both get the answer', async () => {
    const name = `_dmarc.two-proc-${runId}.example`;
    const text = 'v=DMARC1; p=reject';
    const upstream = new FakeUpstream();
    upstream.txt(name, text, 300);
    upstream.delayMs = 300;
    const cache = cacheWith(upstream);
    const other = child({ name, text, ttl: 300, delayMs: 300, leaseMs: 3_000 });
    await waitFor(`child ready (${other.stderr()})`, () => !!event(other, 'ready'));

    other.process.stdin!.end('go\n');
    const here = await Promise.all(Array.from({ length: 1_000 }, () => cache.resolve(name, 'TXT')));
    await waitFor(`child resolved (${other.stderr()})`, () => !!event(other, 'resolved'));
    const there = event(other, 'resolved')!;

    expect(upstream.count + (there.upstreamQueries as number)).toBe(1);
    expect(here.every((r) => r.answers.length === 1 && (r.answers[0] as { strings: string[] }).strings[0] === text)).toBe(true);
    expect(there.answers).toEqual([{ type: 'TXT', name, ttl: 300, strings: [text] }]);
    // Whoever did not ask the upstream got the answer through Redis.
    const sources = new Set([...here.map((r) => r.source), there.source]);
    expect(sources).toEqual(new Set(['upstream', 'l2']));
    await other.exited;
  });

  it('a lease holder that dies is replaced once its lease expires; the answer still takes one query', async () => {
    const name = `dead-holder-${runId}.example`;
    const upstream = new FakeUpstream();
    upstream.txt(name, 'v=spf1 -all', 300);
    const leaseMs = 1_500;
    const holder = child({ name, text: 'v=spf1 -all', ttl: 300, delayMs: 0, leaseMs, hang: true });
    await waitFor(`child ready (${holder.stderr()})`, () => !!event(holder, 'ready'));
    holder.process.stdin!.end('go\n');
    await waitFor(`child querying (${holder.stderr()})`, () => !!event(holder, 'querying'));
    const probe = clients[0] ?? new Redis(redisUrl);
    if (!clients.includes(probe)) clients.push(probe);
    const leaseTtl = await probe.pttl(leaseKey(sharedKey('TXT', name)));
    expect(leaseTtl).toBeGreaterThan(0);

    const cache = cacheWith(upstream, leaseMs);
    const started = Date.now();
    const pending = cache.resolve(name, 'TXT');
    holder.process.kill('SIGKILL');
    await holder.exited;
    const result = await pending;
    const waited = Date.now() - started;

    expect(result).toMatchObject({ source: 'upstream', state: 'fresh' });
    expect(upstream.count).toBe(1);
    expect(cache.metrics.counters.leaseWaits).toBe(1);
    // It waited for the dead holder's lease to run out, and not much longer (one poll interval + slack).
    expect(waited).toBeGreaterThanOrEqual(leaseTtl - 100);
    expect(waited).toBeLessThan(leaseTtl + 1_500);
  });

  it('two caches racing on 200 names at once still send one query per name between them', async () => {
    const names = Array.from({ length: 200 }, (_, i) => `race${i}-${runId}.example`);
    const upA = new FakeUpstream();
    const upB = new FakeUpstream();
    for (const up of [upA, upB]) {
      up.delayMs = 50;
      for (const n of names) up.txt(n, `v=spf1 include:${n} -all`, 300);
    }
    const a = cacheWith(upA);
    const b = cacheWith(upB);
    const all = await Promise.all(names.flatMap((n) => [a.resolve(n, 'TXT'), b.resolve(n, 'TXT'), a.resolve(n, 'TXT'), b.resolve(n, 'TXT')]));
    expect(all.every((r) => r.answers.length === 1)).toBe(true);
    expect(upA.count + upB.count).toBe(names.length);
    expect(a.metrics.counters.leaseWaits + b.metrics.counters.leaseWaits).toBe(names.length);
  });

  it('counts the TTL down across processes: a copy read from Redis later has less TTL left', async () => {
    const name = `ttl-${runId}.example`;
    const upstream = new FakeUpstream();
    upstream.a(name, '192.0.2.7', 60);
    const a = cacheWith(upstream);
    const b = cacheWith(new FakeUpstream());
    await expect(a.resolve(name, 'A')).resolves.toMatchObject({ ttl: 60, source: 'upstream' });
    await new Promise((r) => setTimeout(r, 1_100));
    const fromRedis = await b.resolve(name, 'A');
    expect(fromRedis).toMatchObject({ source: 'l2', answers: [{ address: '192.0.2.7' }] });
    expect(fromRedis.ttl).toBeLessThanOrEqual(59);
    expect(fromRedis.ttl).toBeGreaterThanOrEqual(57);
    const pttl = await clients[0].pttl(sharedKey('A', name));
    // Kept in Redis for as long as any process could still serve it stale (TTL + max stale).
    expect(pttl).toBeGreaterThan(60_000);
    expect(upstream.count).toBe(1);
  });

  it('readMany reads what another process landed with one MGET, and leaves the rest undefined', async () => {
    const names = [0, 1, 2].map((i) => `many-${i}-${runId}.example`);
    const upstream = new FakeUpstream();
    for (const name of names.slice(0, 2)) upstream.a(name, '192.0.2.8', 300);
    const a = cacheWith(upstream);
    await Promise.all(names.slice(0, 2).map((name) => a.resolve(name, 'A')));
    const b = cacheWith(new FakeUpstream());
    // Callers are answered before the write to Redis lands.
    for (let tries = 0; (await clients[0].exists(...names.slice(0, 2).map((n) => sharedKey('A', n)))) < 2; tries++) {
      if (tries > 500) throw new Error('the answers never landed in Redis');
      await new Promise((r) => setTimeout(r, 10));
    }
    const read = await b.readMany(names, 'A');
    expect(read.map((r) => r?.source)).toEqual(['l2', 'l2', undefined]);
    expect(read[0]).toMatchObject({ answers: [{ address: '192.0.2.8' }], state: 'fresh' });
    expect(b.metrics.counters).toMatchObject({ l2Hits: 2, upstreamQueries: 0 });
  });
});
