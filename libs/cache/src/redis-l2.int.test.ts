// The Redis tier on the real server: entries carry their PX TTL, group index sets outlive their members and
// are deleted in one script with exactly their members, and hostile names stay inside their own tenant.
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { cacheKey, type CacheScope } from './cache-key';
import { connectRedisCache, type RedisCacheConnection } from './redis-connection';
import { TieredCache } from './tiered-cache';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const run = randomUUID().slice(0, 8);

async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  // SCAN in the test only, to see what is really there; the cache itself never lists keys.
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 1000);
    cursor = next;
    found.push(...batch);
  } while (cursor !== '0');
  return found.sort();
}

describe('RedisCacheL2 and TieredCache on a real Redis', () => {
  let redis: Redis;
  let conn: RedisCacheConnection;
  let cache: TieredCache;
  const tenantX: CacheScope = { tenantId: `x-${run}`, tier: 'business' };
  const tenantY: CacheScope = { tenantId: `y-${run}`, tier: 'business' };

  beforeAll(async () => {
    redis = new Redis(redisUrl);
    conn = connectRedisCache(redisUrl, { channel: `dmarc:cache:test:${run}` });
    expect(await conn.ready()).toBe(true);
    cache = new TieredCache({ ...conn, closeDrivers: true });
  });
  afterAll(async () => {
    await cache.close();
    for (const scope of [tenantX, tenantY]) {
      const keys = await keysUnder(redis, `tenant:${(scope as { tenantId: string }).tenantId}:`);
      if (keys.length) await redis.del(...keys);
    }
    await redis.quit();
  });

  it('stores the JSON entry with a PX TTL and indexes it in a set that lives at least as long', async () => {
    await conn.l2.set(`tenant:x-${run}:trend:a.com:1`, '{"v":1,"e":0}', 60_000, `tenant:x-${run}:trend:a.com:~idx`);
    await conn.l2.set(`tenant:x-${run}:trend:a.com:2`, '{"v":2,"e":0}', 5_000, `tenant:x-${run}:trend:a.com:~idx`);
    const pttl = await redis.pttl(`tenant:x-${run}:trend:a.com:1`);
    expect(pttl).toBeGreaterThan(50_000);
    expect(pttl).toBeLessThanOrEqual(60_000);
    expect(await redis.pttl(`tenant:x-${run}:trend:a.com:2`)).toBeLessThanOrEqual(5_000);
    // The shorter second write did not shorten the index below the first member's life.
    expect(await redis.pttl(`tenant:x-${run}:trend:a.com:~idx`)).toBeGreaterThan(50_000);
    expect((await redis.smembers(`tenant:x-${run}:trend:a.com:~idx`)).sort()).toEqual([`tenant:x-${run}:trend:a.com:1`, `tenant:x-${run}:trend:a.com:2`]);
    expect(await conn.l2.deleteIndexed(`tenant:x-${run}:trend:a.com:~idx`)).toBe(2);
    expect(await keysUnder(redis, `tenant:x-${run}:trend:`)).toEqual([]);
  });

  it('pattern invalidation drops exactly the dependants (example.com vs example.co, example.com.evil, ex*ample)', async () => {
    const domains = ['example.com', 'example.co', 'example.com.evil', 'ex*ample', 'example.com:*'];
    for (const d of domains) {
      for (const id of [[d], [d, 'dkim'], [d, 'spf', 'policy']]) await cache.getOrLoad(tenantX, 'compliance', id, async () => ({ d, id }));
      await cache.getOrLoad(tenantX, 'dashboard', [d, 'summary'], async () => d);
      await cache.getOrLoad(tenantY, 'compliance', [d, 'dkim'], async () => d);
    }
    const before = await keysUnder(redis, 'tenant:');
    expect(await cache.invalidateGroup(tenantX, 'compliance', 'example.com')).toBe(3);
    const after = await keysUnder(redis, 'tenant:');
    const gone = before.filter((k) => !after.includes(k));
    expect(gone).toEqual(
      [`tenant:x-${run}:compliance:example.com`, `tenant:x-${run}:compliance:example.com:dkim`, `tenant:x-${run}:compliance:example.com:spf:policy`, `tenant:x-${run}:compliance:example.com:~idx`].sort(),
    );
    expect(await cache.invalidateGroup(tenantX, 'compliance', 'ex*ample')).toBe(3);
    expect(await cache.get(tenantX, 'compliance', ['example.co', 'dkim'])).toEqual({ d: 'example.co', id: ['example.co', 'dkim'] });
  });

  it('a hostile domain name in one tenant cannot reach the keys of another', async () => {
    const victim = `y-${run}`;
    await cache.set(tenantY, 'policy', ['a.com'], 'victim');
    await cache.set(tenantY, 'policy', ['a.com', 'x'], 'victim');
    const hostile = ['a.com:*', `x}:tenant:${victim}`, `a.com}:tenant:${victim}:policy:a.com`, '*', '?', '[a-z]*', '\\', '%', '{}', 'a.com\n', `:tenant:${victim}:policy:a.com`];
    for (const name of hostile) {
      await cache.set(tenantX, 'policy', [name], `attacker ${name}`);
      expect(await cache.invalidateGroup(tenantX, 'policy', name)).toBe(1);
      await cache.invalidate(tenantX, 'policy', [name, 'x']);
      expect(await cache.get(tenantX, 'policy', [name])).toBeUndefined();
    }
    // Every key the attacker wrote sits under its own tenant, one distinct key per name.
    for (const name of hostile) await cache.set(tenantX, 'policy', [name], 'again');
    expect((await keysUnder(redis, `tenant:x-${run}:policy:`)).filter((k) => !k.endsWith(':~idx'))).toHaveLength(hostile.length);
    expect(await keysUnder(redis, `tenant:${victim}:policy:`)).toEqual([`tenant:${victim}:policy:a.com`, `tenant:${victim}:policy:a.com:x`, `tenant:${victim}:policy:a.com:~idx`]);
    // The victim's entries are untouched in Redis (read through another cache, no L1).
    const other = connectRedisCache(redisUrl, { channel: `dmarc:cache:test:${run}` });
    expect(await other.ready()).toBe(true);
    const fresh = new TieredCache({ ...other, closeDrivers: true });
    try {
      expect(await fresh.get(tenantY, 'policy', ['a.com'])).toBe('victim');
      expect(await fresh.get(tenantY, 'policy', ['a.com', 'x'])).toBe('victim');
      expect(fresh.stats().l2.hits).toBe(2);
    } finally {
      await fresh.close();
    }
  });

  it('keeps each tenant within its tier quota in Redis too: over it, that tenant’s own oldest entries go, never another’s', async () => {
    const small: CacheScope = { tenantId: `small-${run}`, tier: 'starter' };
    const other: CacheScope = { tenantId: `other-${run}`, tier: 'starter' };
    // A second cache on the same Redis with a 4 KB starter quota (L2 and L1 alike).
    const tightConn = connectRedisCache(redisUrl, { channel: `dmarc:cache:test:${run}:q` });
    expect(await tightConn.ready()).toBe(true);
    const tight = new TieredCache({ ...tightConn, closeDrivers: true, quotas: { starter: 4096 } });
    const value = 'v'.repeat(300);
    try {
      for (let i = 0; i < 5; i++) await tight.set(other, 'dashboard', ['keep.example', String(i)], value);
      for (let i = 0; i < 40; i++) await tight.set(small, 'dashboard', ['big.example', String(i)], value);
      const inRedis = async (scope: CacheScope, group: string, n: number) =>
        (await Promise.all(Array.from({ length: n }, (_, i) => redis.exists(cacheKey(scope, 'dashboard', [group, String(i)]))))).map(Number);
      const smallHeld = await inRedis(small, 'big.example', 40);
      // Only the newest entries of the tenant over its quota are left, and they fit it...
      expect(smallHeld.slice(-5)).toEqual([1, 1, 1, 1, 1]);
      expect(smallHeld.slice(0, 20).every((x) => x === 0)).toBe(true);
      expect(smallHeld.filter(Boolean).length * 300).toBeLessThanOrEqual(4096);
      // ...and the other tenant, under its own quota, lost nothing.
      expect(await inRedis(other, 'keep.example', 5)).toEqual([1, 1, 1, 1, 1]);
      expect(tight.stats().l2Evictions).toBeGreaterThanOrEqual(25);
    } finally {
      await tight.close();
      for (const scope of [small, other]) {
        const keys = await keysUnder(redis, `tenant:${(scope as { tenantId: string }).tenantId}:`);
        if (keys.length) await redis.del(...keys);
      }
    }
  });
});
