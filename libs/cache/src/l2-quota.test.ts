// The tier quota in L2 (here the in-memory driver, which keeps the Redis script's accounting): a tenant over
// its bytes loses its own least recently written entries there, never another tenant's or a global one.
import { InProcessBroadcast } from './broadcast';
import { cacheKey, type CacheScope } from './cache-key';
import { MemoryCacheL2 } from './memory-l2';
import { TieredCache } from './tiered-cache';

describe('L2 quota per tenant', () => {
  it('evicts the writing tenant’s oldest L2 entries past its tier’s bytes, and nothing of anyone else', async () => {
    const l2 = new MemoryCacheL2();
    const cache = new TieredCache({ l2, broadcast: new InProcessBroadcast(), quotas: { starter: 2000, business: 1_000_000, global: 1_000_000 } });
    const starter: CacheScope = { tenantId: 's', tier: 'starter' };
    const business: CacheScope = { tenantId: 'b', tier: 'business' };
    const value = 'x'.repeat(200);
    await cache.set(business, 'dashboard', ['b.example', '0'], value);
    await cache.set('global', 'dns', ['example.com'], value);
    for (let i = 0; i < 30; i++) await cache.set(starter, 'dashboard', ['s.example', String(i)], value);
    const held = l2.keys();
    const starterHeld = held.filter((k) => k.startsWith('tenant:s:'));
    // The newest of the starter tenant's entries remain, within its 2,000 bytes (each ~250 with its key)...
    expect(starterHeld).toContain(cacheKey(starter, 'dashboard', ['s.example', '29']));
    expect(starterHeld).not.toContain(cacheKey(starter, 'dashboard', ['s.example', '0']));
    expect(starterHeld.length).toBeLessThanOrEqual(8);
    // ...the others' are untouched.
    expect(held).toContain(cacheKey(business, 'dashboard', ['b.example', '0']));
    expect(held).toContain(cacheKey('global', 'dns', ['example.com']));
    expect(cache.stats().l2Evictions).toBe(30 - starterHeld.length);
    // Rewriting a key does not count it twice.
    for (let i = 0; i < 10; i++) await cache.set(business, 'dashboard', ['b.example', '0'], value);
    expect(l2.keys()).toContain(cacheKey(business, 'dashboard', ['b.example', '0']));
    await cache.close();
  });
});
