// The two-tier cache on in-process drivers: policy per type, TTLs on a hand-moved clock, coalescing,
// write-through and invalidation between two caches sharing one L2 and one broadcast, quotas per tier.
import { InProcessBroadcast } from './broadcast';
import type { CacheScope } from './cache-key';
import { CacheClosedError, UnknownDataTypeError } from './errors';
import { MemoryCacheL2 } from './memory-l2';
import type { InvalidatedEvent, TieredCacheOptions } from './options';
import { TieredCache } from './tiered-cache';

const tenantA: CacheScope = { tenantId: 'a', tier: 'starter' };
const tenantB: CacheScope = { tenantId: 'b', tier: 'starter' };

class World {
  t = Date.UTC(2026, 0, 1);
  readonly now = (): number => this.t;
  readonly l2 = new MemoryCacheL2(this.now);
  readonly broadcast = new InProcessBroadcast();
  readonly caches: TieredCache[] = [];

  cache(options: Partial<TieredCacheOptions> = {}): TieredCache {
    const cache = new TieredCache({ l2: this.l2, broadcast: this.broadcast, now: this.now, ...options });
    this.caches.push(cache);
    return cache;
  }

  async close(): Promise<void> {
    await Promise.all(this.caches.map((c) => c.close()));
  }
}

/** A source that counts its loads and answers with the current version. */
function source(initial: unknown = 'v1') {
  const s = {
    value: initial,
    loads: 0,
    load: async () => {
      s.loads++;
      return s.value;
    },
  };
  return s;
}

describe('TieredCache', () => {
  let world: World;
  beforeEach(() => (world = new World()));
  afterEach(() => world.close());

  it('loads once, then serves from L1 until the TTL, then loads again', async () => {
    const cache = world.cache();
    const src = source();
    expect(await cache.getOrLoad(tenantA, 'policy', ['example.com'], src.load)).toBe('v1');
    src.value = 'v2';
    world.t += 29_999;
    expect(await cache.getOrLoad(tenantA, 'policy', ['example.com'], src.load)).toBe('v1');
    world.t += 1;
    expect(await cache.getOrLoad(tenantA, 'policy', ['example.com'], src.load)).toBe('v2');
    expect(src.loads).toBe(2);
    const stats = cache.stats();
    expect(stats.l1.hits).toBe(1);
    expect(stats.byType.policy).toEqual({ l1Hits: 1, l2Hits: 0, misses: 2, loads: 2 });
  });

  it('another process finds the entry in L2, with the expiry it was written with', async () => {
    const a = world.cache();
    const b = world.cache();
    const src = source({ p: 'reject' });
    await a.getOrLoad(tenantA, 'dashboard', ['example.com', 'summary'], src.load);
    world.t += 20_000;
    expect(await b.getOrLoad(tenantA, 'dashboard', ['example.com', 'summary'], src.load)).toEqual({ p: 'reject' });
    expect(b.stats().l2.hits).toBe(1);
    // B's L1 copy expires with the entry (30 s after A loaded it), not 30 s after B read it.
    world.t += 10_000;
    await b.getOrLoad(tenantA, 'dashboard', ['example.com', 'summary'], src.load);
    expect(src.loads).toBe(2);
  });

  it("'alert' is never served from a cache: getOrLoad always loads, set keeps an L2 record that reads never return", async () => {
    const cache = world.cache();
    const src = source('alert-1');
    await cache.set(tenantA, 'alert', ['example.com', 'spoof-1'], { kind: 'spoof' });
    expect(world.l2.keys()).toContain('tenant:a:alert:example.com:spoof-1');
    expect(await cache.get(tenantA, 'alert', ['example.com', 'spoof-1'])).toBeUndefined();
    for (let i = 0; i < 3; i++) await cache.getOrLoad(tenantA, 'alert', ['example.com', 'spoof-1'], src.load);
    expect(src.loads).toBe(3);
    expect(cache.stats().l1.hits + cache.stats().l2.hits).toBe(0);
  });

  it('an unknown type is refused with CACHE_UNKNOWN_TYPE on every operation', async () => {
    const cache = world.cache();
    const src = source();
    await expect(cache.getOrLoad(tenantA, 'polcy', ['x'], src.load)).rejects.toBeInstanceOf(UnknownDataTypeError);
    await expect(cache.get(tenantA, 'polcy', ['x'])).rejects.toMatchObject({ code: 'CACHE_UNKNOWN_TYPE' });
    await expect(cache.set(tenantA, 'polcy', ['x'], 1)).rejects.toMatchObject({ code: 'CACHE_UNKNOWN_TYPE' });
    await expect(cache.invalidate(tenantA, 'polcy', ['x'])).rejects.toMatchObject({ code: 'CACHE_UNKNOWN_TYPE' });
    await expect(cache.invalidateGroup(tenantA, 'polcy', 'x')).rejects.toMatchObject({ code: 'CACHE_UNKNOWN_TYPE' });
    expect(src.loads).toBe(0);
  });

  it('coalesces: 50 concurrent misses of one key make one load, and all get its value', async () => {
    const cache = world.cache();
    let release: (v: string) => void = () => undefined;
    let loads = 0;
    const load = () => {
      loads++;
      return new Promise<string>((resolve) => (release = resolve));
    };
    const calls = Array.from({ length: 50 }, () => cache.getOrLoad(tenantA, 'trend', ['example.com', '30d'], load));
    await new Promise((r) => setImmediate(r));
    release('trend');
    expect(await Promise.all(calls)).toEqual(Array(50).fill('trend'));
    expect(loads).toBe(1);
    expect(cache.stats().coalesced).toBe(49);
  });

  it('coalesces across processes: while one holds the lease and loads, the other waits for its value', async () => {
    const a = world.cache();
    const b = world.cache({ leasePollMs: 5 });
    let release: (v: string) => void = () => undefined;
    let loads = 0;
    const slow = () => {
      loads++;
      return new Promise<string>((resolve) => (release = resolve));
    };
    const first = a.getOrLoad(tenantA, 'trend', ['example.com'], slow);
    await new Promise((r) => setTimeout(r, 5));
    const second = b.getOrLoad(tenantA, 'trend', ['example.com'], slow);
    await new Promise((r) => setTimeout(r, 30));
    expect(loads).toBe(1);
    release('shared');
    expect(await Promise.all([first, second])).toEqual(['shared', 'shared']);
    expect(loads).toBe(1);
    expect(b.stats().l2.hits).toBe(1);
  });

  it('a lease holder whose load fails lets the waiting process load for itself', async () => {
    const a = world.cache();
    const b = world.cache({ leasePollMs: 5 });
    let fail: (e: Error) => void = () => undefined;
    const first = a.getOrLoad(tenantA, 'trend', ['x'], () => new Promise<string>((_, reject) => (fail = reject)));
    await new Promise((r) => setTimeout(r, 5));
    const second = b.getOrLoad(tenantA, 'trend', ['x'], async () => 'b loaded');
    fail(new Error('db down'));
    await expect(first).rejects.toThrow('db down');
    expect(await second).toBe('b loaded');
  });

  it('a failed load reaches its callers and is not cached', async () => {
    const cache = world.cache();
    const failing = async () => {
      throw new Error('db down');
    };
    await expect(cache.getOrLoad(tenantA, 'policy', ['x'], failing)).rejects.toThrow('db down');
    expect(await cache.getOrLoad(tenantA, 'policy', ['x'], async () => 'ok')).toBe('ok');
  });

  it('write-through: set on one process is what every process reads next', async () => {
    const a = world.cache();
    const b = world.cache();
    const src = source('old');
    expect(await b.getOrLoad(tenantA, 'policy', ['example.com'], src.load)).toBe('old');
    await a.set(tenantA, 'policy', ['example.com'], 'new');
    expect(b.l1Has(tenantA, 'policy', ['example.com'])).toBe(false);
    expect(await b.getOrLoad(tenantA, 'policy', ['example.com'], src.load)).toBe('new');
    expect(await a.get(tenantA, 'policy', ['example.com'])).toBe('new');
    expect(src.loads).toBe(1);
  });

  it('invalidate drops L2 and every L1; the next read loads the new value', async () => {
    const a = world.cache();
    const events: InvalidatedEvent[] = [];
    const b = world.cache({ onInvalidated: (e) => events.push(e) });
    const src = source('v1');
    await a.getOrLoad(tenantA, 'compliance', ['example.com', 'spf'], src.load);
    await b.getOrLoad(tenantA, 'compliance', ['example.com', 'spf'], src.load);
    src.value = 'v2';
    await a.invalidate(tenantA, 'compliance', ['example.com', 'spf']);
    expect(events).toEqual([{ source: 'remote', keys: ['tenant:a:compliance:example.com:spf'], groups: [], dropped: 1 }]);
    expect(await b.getOrLoad(tenantA, 'compliance', ['example.com', 'spf'], src.load)).toBe('v2');
    expect(await a.getOrLoad(tenantA, 'compliance', ['example.com', 'spf'], src.load)).toBe('v2');
    expect(src.loads).toBe(2);
  });

  it('invalidateGroup drops exactly the dependants of one domain, in L2 and in every L1', async () => {
    const a = world.cache();
    const b = world.cache();
    const domains = ['example.com', 'example.co', 'example.com.evil', 'ex*ample', 'example.com:*'];
    for (const d of domains) {
      for (const id of [[d], [d, 'dkim'], [d, 'spf', 'x']]) {
        await a.getOrLoad(tenantA, 'compliance', id, async () => `${d}`);
        await b.getOrLoad(tenantA, 'compliance', id, async () => `${d}`);
      }
      await a.getOrLoad(tenantA, 'dashboard', [d, 'summary'], async () => d);
      await a.getOrLoad(tenantB, 'compliance', [d, 'dkim'], async () => d);
    }
    const before = world.l2.keys();
    expect(await a.invalidateGroup(tenantA, 'compliance', 'example.com')).toBe(3);
    const gone = before.filter((k) => !world.l2.keys().includes(k));
    expect(gone.sort()).toEqual(['tenant:a:compliance:example.com', 'tenant:a:compliance:example.com:dkim', 'tenant:a:compliance:example.com:spf:x']);
    for (const cache of [a, b]) {
      for (const d of domains) {
        expect(cache.l1Has(tenantA, 'compliance', [d, 'dkim'])).toBe(d !== 'example.com');
      }
    }
    expect(a.l1Has(tenantA, 'dashboard', ['example.com', 'summary'])).toBe(true);
    expect(a.l1Has(tenantB, 'compliance', ['example.com', 'dkim'])).toBe(true);
    // A hostile group is its own group: it takes nothing else with it.
    expect(await a.invalidateGroup(tenantA, 'compliance', 'ex*ample')).toBe(3);
    expect(await a.invalidateGroup(tenantA, 'compliance', '*')).toBe(0);
    expect(world.l2.keys().filter((k) => k.startsWith('tenant:a:compliance:')).length).toBe(9);
  });

  it('an invalidation during a load keeps the loaded (older) value out of both tiers', async () => {
    const a = world.cache();
    const b = world.cache();
    let release: (v: string) => void = () => undefined;
    const slow = () => new Promise<string>((resolve) => (release = resolve));
    const reading = a.getOrLoad(tenantA, 'policy', ['example.com'], slow);
    await new Promise((r) => setImmediate(r));
    await b.invalidate(tenantA, 'policy', ['example.com']);
    release('read-before-the-change');
    expect(await reading).toBe('read-before-the-change');
    expect(a.l1Has(tenantA, 'policy', ['example.com'])).toBe(false);
    expect(world.l2.keys()).not.toContain('tenant:a:policy:example.com');
    expect(await a.getOrLoad(tenantA, 'policy', ['example.com'], async () => 'after')).toBe('after');
  });

  it('DNS entries live for their own TTL, capped at the policy (1 h)', async () => {
    const cache = world.cache();
    const src = source('v=DMARC1; p=none');
    await cache.getOrLoad('global', 'dns', ['_dmarc.example.com', 'TXT'], src.load, { ttlMs: 300_000 });
    world.t += 300_000;
    await cache.getOrLoad('global', 'dns', ['_dmarc.example.com', 'TXT'], src.load, { ttlMs: 86_400_000 });
    world.t += 3_599_999;
    await cache.getOrLoad('global', 'dns', ['_dmarc.example.com', 'TXT'], src.load);
    expect(src.loads).toBe(2);
    world.t += 1;
    await cache.getOrLoad('global', 'dns', ['_dmarc.example.com', 'TXT'], src.load);
    expect(src.loads).toBe(3);
  });

  it('values served are frozen copies: a caller cannot change what the next caller gets', async () => {
    const cache = world.cache();
    const first = await cache.getOrLoad<{ n: number[] }>(tenantA, 'trend', ['x'], async () => ({ n: [1] }));
    expect(() => first.n.push(2)).toThrow(TypeError);
    expect(await cache.get(tenantA, 'trend', ['x'])).toEqual({ n: [1] });
  });

  it("over its tier's quota a tenant loses its own least recently used entries, never another tenant's", async () => {
    const cache = world.cache({ quotas: { starter: 2_000, business: 8_000 } });
    const business: CacheScope = { tenantId: 'b', tier: 'business' };
    const value = 'x'.repeat(200); // ~ 2 * (30 + 215) + 160 = 650 bytes an entry
    for (let i = 0; i < 6; i++) await cache.getOrLoad(business, 'trend', [`d${i}`], async () => value);
    for (let i = 0; i < 3; i++) await cache.getOrLoad(tenantA, 'trend', [`d${i}`], async () => value);
    expect(cache.l1Bytes(tenantA)).toBeLessThanOrEqual(2_000);
    // d0 used again: d1 is the least recently used of tenant a.
    await cache.getOrLoad(tenantA, 'trend', ['d0'], async () => value);
    for (let i = 3; i < 6; i++) await cache.getOrLoad(tenantA, 'trend', [`d${i}`], async () => value);
    expect(cache.l1Bytes(tenantA)).toBeLessThanOrEqual(2_000);
    expect(cache.l1Has(tenantA, 'trend', ['d1'])).toBe(false);
    expect(cache.l1Has(tenantA, 'trend', ['d5'])).toBe(true);
    for (let i = 0; i < 6; i++) expect(cache.l1Has(business, 'trend', [`d${i}`])).toBe(true);
    expect(cache.stats().evictions).toBeGreaterThan(0);
    // Evicted from L1 only: still one L2 read away, no load.
    expect(await cache.getOrLoad(tenantA, 'trend', ['d1'], async () => 'reloaded')).toBe(value);
  });

  it('global entries have their own budget', async () => {
    const cache = world.cache({ quotas: { global: 1_000, starter: 100_000 } });
    for (let i = 0; i < 5; i++) await cache.getOrLoad('global', 'dns', [`n${i}.example`], async () => 'x'.repeat(100));
    for (let i = 0; i < 5; i++) await cache.getOrLoad(tenantA, 'dns', [`n${i}.example`], async () => 'x'.repeat(100));
    expect(cache.l1Bytes('global')).toBeLessThanOrEqual(1_000);
    expect(cache.l1Bytes(tenantA)).toBeGreaterThan(1_000);
  });

  it('refuses calls after close', async () => {
    const cache = world.cache();
    await cache.close();
    await expect(cache.get(tenantA, 'policy', ['x'])).rejects.toBeInstanceOf(CacheClosedError);
  });
});
