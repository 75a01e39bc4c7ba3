// Redis away, on in-process drivers: callers get no error, the source answers, L2 is skipped for a moment
// after a failure and used again by itself, invalidations L2 missed are applied when it is back, and L1 is
// trusted only briefly while the broadcast is down, then cleared when it reconnects.
import { InProcessBroadcast } from './broadcast';
import type { CacheScope } from './cache-key';
import { MemoryCacheL2 } from './memory-l2';
import { TieredCache } from './tiered-cache';
import { FlakyL2 } from './__test-support__/flaky-l2';

const tenant: CacheScope = { tenantId: 't', tier: 'business' };

describe('TieredCache when Redis is unreachable', () => {
  let t: number;
  const now = () => t;
  let l2: FlakyL2;
  let broadcast: InProcessBroadcast;
  let caches: TieredCache[];
  const cache = () => {
    const c = new TieredCache({ l2, broadcast, now, l2RetryMs: 1_000, unsubscribedL1MaxAgeMs: 500 });
    caches.push(c);
    return c;
  };

  beforeEach(() => {
    t = Date.UTC(2026, 0, 1);
    l2 = new FlakyL2(new MemoryCacheL2(now));
    broadcast = new InProcessBroadcast();
    caches = [];
  });
  afterEach(() => Promise.all(caches.map((c) => c.close())));

  it('serves from the source and L1 without an error, skips L2 for l2RetryMs, then uses it again', async () => {
    const c = cache();
    let loads = 0;
    const load = async () => `v${++loads}`;
    l2.down = true;
    expect(await c.getOrLoad(tenant, 'dashboard', ['a.com'], load)).toBe('v1');
    expect(c.stats()).toMatchObject({ degraded: true, l2Available: false, l2Errors: 1 });
    const callsWhileOpen = l2.calls;
    expect(await c.getOrLoad(tenant, 'dashboard', ['b.com'], load)).toBe('v2');
    expect(await c.set(tenant, 'dashboard', ['c.com'], 'set')).toBeUndefined();
    expect(await c.invalidate(tenant, 'dashboard', ['a.com'])).toBeUndefined();
    expect(await c.invalidateGroup(tenant, 'dashboard', 'b.com')).toBe(1);
    // The circuit is open: none of these went to L2.
    expect(l2.calls).toBe(callsWhileOpen);
    l2.down = false;
    t += 1_000;
    expect(await c.getOrLoad(tenant, 'dashboard', ['d.com'], load)).toBe('v3');
    expect(c.stats()).toMatchObject({ degraded: false, l2Available: true });
    // A second process now finds d.com in L2.
    expect(await cache().get(tenant, 'dashboard', ['d.com'])).toBe('v3');
  });

  it('never serves an entry past its TTL while degraded', async () => {
    const c = cache();
    let loads = 0;
    await c.getOrLoad(tenant, 'policy', ['a.com'], async () => `v${++loads}`);
    l2.down = true;
    t += 30_000;
    expect(await c.getOrLoad(tenant, 'policy', ['a.com'], async () => `v${++loads}`)).toBe('v2');
  });

  it('invalidations L2 could not take are applied when it answers again', async () => {
    const a = cache();
    const b = cache();
    await a.getOrLoad(tenant, 'policy', ['a.com'], async () => 'old');
    await a.getOrLoad(tenant, 'compliance', ['a.com', 'dkim'], async () => 'old');
    await a.set(tenant, 'dashboard', ['a.com'], 'old');
    l2.down = true;
    await a.invalidate(tenant, 'policy', ['a.com']);
    await a.invalidateGroup(tenant, 'compliance', 'a.com');
    await a.set(tenant, 'dashboard', ['a.com'], 'new');
    l2.down = false;
    t += 1_000;
    // Any successful L2 call replays what is pending.
    await a.getOrLoad(tenant, 'trend', ['x'], async () => 'x');
    await new Promise((r) => setImmediate(r));
    expect(await b.getOrLoad(tenant, 'policy', ['a.com'], async () => 'fresh')).toBe('fresh');
    expect(await b.getOrLoad(tenant, 'compliance', ['a.com', 'dkim'], async () => 'fresh')).toBe('fresh');
    // The write L2 missed: the old value is gone from L2 rather than served for the rest of its TTL.
    expect(await b.get(tenant, 'dashboard', ['a.com'])).toBeUndefined();
  });

  it('while the broadcast is down L1 is trusted only for unsubscribedL1MaxAgeMs; on reconnect it is cleared', async () => {
    const a = cache();
    const b = cache();
    let loads = 0;
    const load = async () => `v${++loads}`;
    await b.getOrLoad(tenant, 'policy', ['a.com'], load);
    broadcast.disconnect();
    expect(b.stats().degraded).toBe(true);
    // Stored long before the disconnect: not trusted now, goes to L2 (which still answers).
    t += 600;
    expect(await b.getOrLoad(tenant, 'policy', ['a.com'], load)).toBe('v1');
    expect(b.stats().l2.hits).toBe(1);
    // A missed invalidation: L2 dropped, B's broadcast did not hear it.
    await a.invalidate(tenant, 'policy', ['a.com']);
    t += 501;
    expect(await b.getOrLoad(tenant, 'policy', ['a.com'], load)).toBe('v2');
    // Just stored: trusted for a short while.
    expect(await b.getOrLoad(tenant, 'policy', ['a.com'], load)).toBe('v2');
    broadcast.reconnect();
    expect(b.stats().l1Entries).toBe(0);
    expect(b.stats().degraded).toBe(false);
  });
});
