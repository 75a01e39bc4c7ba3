// Stale-while-revalidate for groups (refreshGroup): entries stay and are served, each is refreshed once in the
// background, other processes mark theirs through the broadcast and take a newer L2 value without loading.
import { InProcessBroadcast } from './broadcast';
import type { CacheScope } from './cache-key';
import { MemoryCacheL2 } from './memory-l2';
import { TieredCache } from './tiered-cache';

const tenant: CacheScope = { tenantId: 't1', tier: 'business' };
const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

function world() {
  let t = Date.UTC(2026, 10, 25);
  const now = () => t;
  const l2 = new MemoryCacheL2(now);
  const broadcast = new InProcessBroadcast();
  const caches: TieredCache[] = [];
  const cache = () => {
    const c = new TieredCache({ l2, broadcast, now });
    caches.push(c);
    return c;
  };
  return { cache, tick: (ms: number) => (t += ms), close: () => Promise.all(caches.map((c) => c.close())) };
}

/** A loader answering `value()` and counting its calls; `gate` holds it until released. */
function source(value: () => unknown) {
  const s = { calls: 0, release: () => undefined as void, gate: null as Promise<void> | null };
  const load = async () => {
    s.calls++;
    if (s.gate) await s.gate;
    return value();
  };
  const hold = () => (s.gate = new Promise<void>((r) => (s.release = () => ((s.gate = null), r()))));
  return { s, load, hold };
}

describe('TieredCache.refreshGroup (stale-while-revalidate)', () => {
  it('serves the marked entries without waiting, refreshes each once in the background, and leaves other groups alone', async () => {
    const w = world();
    const a = w.cache();
    let version = 1;
    const src = source(() => ({ version }));
    const other = source(() => ({ other: true }));
    expect(await a.getOrLoad(tenant, 'dashboard', ['example.com', 'summary'], src.load)).toEqual({ version: 1 });
    await a.getOrLoad(tenant, 'dashboard', ['example.org', 'summary'], other.load);
    w.tick(1000);
    version = 2;
    expect(await a.refreshGroup(tenant, 'dashboard', 'example.com')).toBe(1);

    src.hold();
    // Three reads while the refresh is held at the source: all answered at once with the stale value, one load.
    const reads = await Promise.all([1, 2, 3].map(() => a.getOrLoad(tenant, 'dashboard', ['example.com', 'summary'], src.load)));
    expect(reads).toEqual([{ version: 1 }, { version: 1 }, { version: 1 }]);
    expect(src.s.calls).toBe(2);
    src.s.release();
    await settle();
    expect(await a.getOrLoad(tenant, 'dashboard', ['example.com', 'summary'], src.load)).toEqual({ version: 2 });
    expect(src.s.calls).toBe(2);
    // The other domain was never marked: no refresh, no load.
    await a.getOrLoad(tenant, 'dashboard', ['example.org', 'summary'], other.load);
    expect(other.s.calls).toBe(1);
    expect(a.stats()).toMatchObject({ staleServed: 3, refreshes: 1 });
    await w.close();
  });

  it('marks other processes through the broadcast; their refresh takes the newer value from L2 instead of loading', async () => {
    const w = world();
    const a = w.cache();
    const b = w.cache();
    let version = 1;
    const srcA = source(() => ({ version }));
    const srcB = source(() => ({ version }));
    await a.getOrLoad(tenant, 'trend', ['example.com', '2026-11-01'], srcA.load);
    await b.getOrLoad(tenant, 'trend', ['example.com', '2026-11-01'], srcB.load); // an L2 hit: b never loads
    expect(srcB.s.calls).toBe(0);
    w.tick(1000);
    version = 2;
    await a.refreshGroup(tenant, 'trend', 'example.com');
    // a refreshes (one load) and writes the new value to L2...
    expect(await a.getOrLoad(tenant, 'trend', ['example.com', '2026-11-01'], srcA.load)).toEqual({ version: 1 });
    await settle();
    expect(srcA.s.calls).toBe(2);
    // ...b, marked through the broadcast, serves its stale copy once and then takes a's value from L2.
    expect(await b.getOrLoad(tenant, 'trend', ['example.com', '2026-11-01'], srcB.load)).toEqual({ version: 1 });
    await settle();
    expect(await b.getOrLoad(tenant, 'trend', ['example.com', '2026-11-01'], srcB.load)).toEqual({ version: 2 });
    expect(srcB.s.calls).toBe(0);
    await w.close();
  });

  it('an L2 entry older than the mark, read by a process that did not hold it, is served and then refreshed', async () => {
    const w = world();
    const a = w.cache();
    const b = w.cache();
    let version = 1;
    const src = source(() => ({ version }));
    await a.getOrLoad(tenant, 'dashboard', ['example.com', 'sources'], src.load);
    w.tick(1000);
    version = 2;
    await b.refreshGroup(tenant, 'dashboard', 'example.com');
    const fromB = source(() => ({ version }));
    expect(await b.getOrLoad(tenant, 'dashboard', ['example.com', 'sources'], fromB.load)).toEqual({ version: 1 });
    expect(await b.getOrLoad(tenant, 'dashboard', ['example.com', 'sources'], fromB.load)).toEqual({ version: 1 });
    await settle();
    expect(fromB.s.calls).toBe(1);
    expect(await b.getOrLoad(tenant, 'dashboard', ['example.com', 'sources'], fromB.load)).toEqual({ version: 2 });
    await w.close();
  });

  it('a load that started before a mark is kept stale: the next read refreshes it again', async () => {
    const w = world();
    const a = w.cache();
    let version = 1;
    const src = source(() => ({ version }));
    src.hold();
    const first = a.getOrLoad(tenant, 'dashboard', ['example.com', 'summary'], src.load);
    await settle();
    w.tick(10);
    await a.refreshGroup(tenant, 'dashboard', 'example.com'); // lands while the load runs
    version = 2;
    src.s.release();
    expect(await first).toEqual({ version: 2 });
    // The load read the source before the mark as far as the cache can know: stale, refreshed on the next read.
    await a.getOrLoad(tenant, 'dashboard', ['example.com', 'summary'], src.load);
    await settle();
    expect(src.s.calls).toBe(2);
    await w.close();
  });

  it('a drop still drops: invalidateGroup after a mark leaves nothing to serve', async () => {
    const w = world();
    const a = w.cache();
    const src = source(() => ({ v: 1 }));
    await a.getOrLoad(tenant, 'dashboard', ['example.com', 'summary'], src.load);
    await a.refreshGroup(tenant, 'dashboard', 'example.com');
    await a.invalidateGroup(tenant, 'dashboard', 'example.com');
    expect(await a.get(tenant, 'dashboard', ['example.com', 'summary'])).toBeUndefined();
    await w.close();
  });
});
