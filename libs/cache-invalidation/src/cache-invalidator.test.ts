import { cacheKey, InProcessBroadcast, MemoryCacheL2, PolicyTable, TieredCache, type CacheScope } from '@dmarc/cache';
import type { ConfigChange } from '@dmarc/contracts';
import { authCacheId } from '@dmarc/tenant-admin';
import { CacheInvalidator } from './cache-invalidator';
import type { ChangeEvent } from './invalidation-policy';
import { SequenceTracker } from './sequence-tracker';

const T = '11111111-1111-4111-8111-111111111111';
const scope: CacheScope = { tenantId: T, tier: 'business' };
const change = (sequence: number, over: Partial<ConfigChange> = {}): ChangeEvent => ({
  topic: 'dmarc.config.changes',
  value: { eventId: `e${sequence}`, sequence, tenantId: T, domain: 'example.com', kind: 'policy_changed', entity: 'policy:example.com', userId: null, version: sequence, actor: 'cli', before: null, after: `{"v":${sequence}}`, at: 0, ...over },
});

// An L2 that can be made to fail, as Redis going away does.
class FlakyL2 extends MemoryCacheL2 {
  down = false;
  override async delete(keys: readonly string[]): Promise<number> {
    if (this.down) throw new Error('connection refused');
    return super.delete(keys);
  }
  override async deleteIndexed(indexKey: string): Promise<number> {
    if (this.down) throw new Error('connection refused');
    return super.deleteIndexed(indexKey);
  }
}

describe('CacheInvalidator', () => {
  const setup = (policies = new PolicyTable()) => {
    const l2 = new FlakyL2();
    const broadcast = new InProcessBroadcast();
    const reader = new TieredCache({ l2, broadcast });
    const cache = new TieredCache({ l2, broadcast, l2RetryMs: 0 });
    const invalidator = new CacheInvalidator({ cache, policies, deleteL2Keys: (keys) => l2.delete(keys) });
    return { l2, reader, cache, invalidator };
  };

  it('applies a change twice harmlessly, and ignores one older than a change already applied for its key', async () => {
    const { reader, invalidator } = setup();
    expect((await invalidator.apply(change(5))).applied).toBe(true);
    await reader.set(scope, 'dashboard', ['example.com', 'summary'], { fresh: true });
    // The same change again (a redelivery) is recognised and skipped (dropping again would be harmless too)...
    expect((await invalidator.apply(change(5))).applied).toBe(false);
    // ...and an older one is ignored: the entry cached after the newer change stays.
    expect((await invalidator.apply(change(4))).applied).toBe(false);
    expect(await reader.get(scope, 'dashboard', ['example.com', 'summary'])).toEqual({ fresh: true });
    expect((await invalidator.apply(change(6))).applied).toBe(true);
    expect(await reader.get(scope, 'dashboard', ['example.com', 'summary'])).toBeUndefined();
  });

  it('keeps sequences per tenant and domain: another domain’s older sequence still applies', async () => {
    const { invalidator } = setup();
    await invalidator.apply(change(9));
    expect((await invalidator.apply(change(3, { domain: 'other.org' }))).applied).toBe(true);
  });

  it('never writes an older value through after a newer one', async () => {
    const { reader, invalidator } = setup(new PolicyTable({ policy: { strategy: 'write-through' } }));
    await invalidator.apply(change(2));
    await invalidator.apply(change(1));
    expect(await reader.get(scope, 'policy', ['example.com'])).toEqual({ v: 2 });
  });

  it('throws a retriable error while Redis is down, and records nothing, so the redelivery applies it', async () => {
    const { l2, reader, invalidator } = setup();
    await reader.set(scope, 'compliance', ['example.com', 'x'], 1);
    l2.down = true;
    await expect(invalidator.apply(change(1))).rejects.toMatchObject({ code: 'CACHE_INVALIDATION_L2_UNAVAILABLE', retriable: true });
    l2.down = false;
    expect((await invalidator.apply(change(1))).applied).toBe(true);
    expect(await l2.get(`tenant:${T}:compliance:example.com:x`)).toBeNull();
  });

  it('logs a failed discovery and goes on: warming is best effort and must not hold the partition', async () => {
    const l2 = new MemoryCacheL2();
    const cache = new TieredCache({ l2, broadcast: new InProcessBroadcast() });
    const warnings: string[] = [];
    const invalidator = new CacheInvalidator({
      cache,
      policies: new PolicyTable(),
      deleteL2Keys: (keys) => l2.delete(keys),
      discover: async () => {
        throw new Error('SERVFAIL');
      },
      logger: { warn: (_f, message) => void warnings.push(message) },
    });
    await cache.set({ tenantId: T, tier: 'starter' }, 'dashboard', ['example.com', 'old'], 1);
    expect(await invalidator.apply(change(1, { kind: 'domain_added' }))).toMatchObject({ applied: true, discoveryFailed: true });
    expect(await cache.get({ tenantId: T, tier: 'starter' }, 'dashboard', ['example.com', 'old'])).toBeUndefined();
    expect(warnings).toEqual([expect.stringContaining('DNS discovery')]);
  });
});

describe('CacheInvalidator: writing through for a tenant whose tier it does not know', () => {
  it('never evicts the tenant’s entries below its real quota (it writes at the largest tier’s budget)', async () => {
    const l2 = new MemoryCacheL2();
    const broadcast = new InProcessBroadcast();
    const quotas = { starter: 2_000, business: 1_000_000, enterprise: 10_000_000 };
    const api = new TieredCache({ l2, broadcast, quotas });
    const cache = new TieredCache({ l2, broadcast, quotas });
    const invalidator = new CacheInvalidator({ cache, policies: new PolicyTable({ policy: { strategy: 'write-through' } }), deleteL2Keys: (keys) => l2.delete(keys) });
    const business: CacheScope = { tenantId: T, tier: 'business' };
    for (let i = 0; i < 10; i++) await api.set(business, 'trend', [`d${i}.example`], 'x'.repeat(500));
    await invalidator.apply(change(1, { after: '{"p":"reject"}' }));
    // In Redis (here its in-memory stand-in) every one of the tenant's entries is still there.
    for (let i = 0; i < 10; i++) expect(await l2.get(cacheKey(business, 'trend', [`d${i}.example`]))).not.toBeNull();
    expect(await api.get(business, 'policy', ['example.com'])).toEqual({ p: 'reject' });
    await api.close();
    await cache.close();
  });
});

describe('CacheInvalidator: a revoked API key', () => {
  it('drops the key’s cached authentication, found under its hash (the API may have died before dropping it)', async () => {
    const l2 = new MemoryCacheL2();
    const broadcast = new InProcessBroadcast();
    const api = new TieredCache({ l2, broadcast });
    const cache = new TieredCache({ l2, broadcast });
    const hashes: Record<string, string> = { k1: 'hash-of-k1', k2: 'hash-of-k2' };
    const invalidator = new CacheInvalidator({ cache, policies: new PolicyTable(), deleteL2Keys: (keys) => l2.delete(keys), keyHashOf: async (id) => hashes[id] });
    await api.set('global', 'auth', authCacheId('hash-of-k1'), { tenantId: T });
    await api.set('global', 'auth', authCacheId('hash-of-k2'), { tenantId: T });
    await invalidator.apply(change(1, { kind: 'api_key_revoked', domain: null, entity: 'api-key:k1' }));
    expect(await api.get('global', 'auth', authCacheId('hash-of-k1'))).toBeUndefined();
    expect(await api.get('global', 'auth', authCacheId('hash-of-k2'))).toEqual({ tenantId: T });
    // A created key has nothing cached to drop; an unknown id finds no hash.
    await invalidator.apply(change(2, { kind: 'api_key_created', domain: null, entity: 'api-key:k2' }));
    await invalidator.apply(change(3, { kind: 'api_key_revoked', domain: null, entity: 'api-key:nope' }));
    expect(await api.get('global', 'auth', authCacheId('hash-of-k2'))).toEqual({ tenantId: T });
    await api.close();
    await cache.close();
  });
});

describe('CacheInvalidator: aggregate updates during a spike', () => {
  const updated = (domain: string, chunkIndex: number): ChangeEvent => ({
    topic: 'dmarc.aggregates.updated',
    value: { tenantId: T, domain, days: ['2026-11-25'], reportId: `r${chunkIndex}`, chunkIndex, reportComplete: true, at: 0 },
  });
  const summary = (domain: string) => [domain, 'summary'];

  it('marks a domain’s dashboards stale at the first update, folds the next ones into one mark at the window’s end, and drops on config changes at once', async () => {
    jest.useFakeTimers();
    try {
      const l2 = new MemoryCacheL2();
      const broadcast = new InProcessBroadcast();
      const reader = new TieredCache({ l2, broadcast });
      const cache = new TieredCache({ l2, broadcast });
      const invalidator = new CacheInvalidator({ cache, policies: new PolicyTable(), deleteL2Keys: (keys) => l2.delete(keys), aggregateRefreshMs: 5000 });
      await reader.set(scope, 'dashboard', summary('example.com'), { v: 1 });
      expect((await invalidator.apply(updated('example.com', 0))).deferred).toBe(false);
      expect(reader.l1IsStale(scope, 'dashboard', summary('example.com'))).toBe(true);

      // Updates inside the window: deferred, the entry refreshed meanwhile stays fresh...
      await reader.set(scope, 'dashboard', summary('example.com'), { v: 2 });
      for (let i = 1; i <= 20; i++) expect((await invalidator.apply(updated('example.com', i))).deferred).toBe(true);
      expect(reader.l1IsStale(scope, 'dashboard', summary('example.com'))).toBe(false);
      // ...another domain is not held back by it...
      await reader.set(scope, 'dashboard', summary('other.org'), { v: 1 });
      expect((await invalidator.apply(updated('other.org', 0))).deferred).toBe(false);
      expect(reader.l1IsStale(scope, 'dashboard', summary('other.org'))).toBe(true);
      // ...nor is a policy change of the domain: it drops at once.
      await invalidator.apply(change(1));
      expect(await reader.get(scope, 'dashboard', summary('example.com'))).toBeUndefined();
      await reader.set(scope, 'dashboard', summary('example.com'), { v: 3 });

      // The window's end: the folded updates mark the entry once.
      await jest.advanceTimersByTimeAsync(4999);
      expect(reader.l1IsStale(scope, 'dashboard', summary('example.com'))).toBe(false);
      await jest.advanceTimersByTimeAsync(1);
      expect(reader.l1IsStale(scope, 'dashboard', summary('example.com'))).toBe(true);
      await reader.close();
      await cache.close();
    } finally {
      jest.useRealTimers();
    }
  });

  it('flush marks what is folded now (graceful stop)', async () => {
    const l2 = new MemoryCacheL2();
    const broadcast = new InProcessBroadcast();
    const reader = new TieredCache({ l2, broadcast });
    const cache = new TieredCache({ l2, broadcast });
    const invalidator = new CacheInvalidator({ cache, policies: new PolicyTable(), deleteL2Keys: (keys) => l2.delete(keys), aggregateRefreshMs: 60_000 });
    await invalidator.apply(updated('example.com', 0));
    await reader.set(scope, 'trend', ['example.com', '2026-11-01', '2026-11-25'], { v: 1 });
    expect((await invalidator.apply(updated('example.com', 1))).deferred).toBe(true);
    expect(reader.l1IsStale(scope, 'trend', ['example.com', '2026-11-01', '2026-11-25'])).toBe(false);
    await invalidator.flush();
    expect(reader.l1IsStale(scope, 'trend', ['example.com', '2026-11-01', '2026-11-25'])).toBe(true);
    await reader.close();
    await cache.close();
  });
});

describe('SequenceTracker', () => {
  it('forgets the oldest tenth past its bound, never the key just applied', () => {
    const t = new SequenceTracker(10);
    for (let i = 0; i < 11; i++) t.applied(`k${i}`, 1);
    expect(t.size).toBe(10);
    expect(t.isStale('k0', 1)).toBe(false);
    expect(t.isStale('k10', 1)).toBe(true);
    t.applied('k10', 0);
    expect(t.isStale('k10', 1)).toBe(true);
  });
});
