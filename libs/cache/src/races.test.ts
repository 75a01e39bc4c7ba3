// Reads racing writes and invalidations: a value read before a change must not land in L1 after it.
import { InProcessBroadcast } from './broadcast';
import type { CacheScope } from './cache-key';
import { MemoryCacheL2 } from './memory-l2';
import { TieredCache } from './tiered-cache';
import { FlakyL2 } from './__test-support__/flaky-l2';

const scope: CacheScope = { tenantId: 't', tier: 'enterprise' };

describe('TieredCache races', () => {
  let l2: FlakyL2;
  let broadcast: InProcessBroadcast;
  let a: TieredCache;
  let b: TieredCache;

  beforeEach(() => {
    l2 = new FlakyL2(new MemoryCacheL2());
    broadcast = new InProcessBroadcast();
    a = new TieredCache({ l2, broadcast });
    b = new TieredCache({ l2, broadcast });
  });
  afterEach(() => Promise.all([a.close(), b.close()]));

  it('get(): an invalidation heard while reading L2 keeps the old value out of L1', async () => {
    await a.set(scope, 'policy', ['a.com'], 'old');
    const release = l2.hold();
    const reading = b.get(scope, 'policy', ['a.com']);
    await new Promise((r) => setImmediate(r));
    release();
    // The change lands (L2 then broadcast) while B's read of the old value is still on its way back.
    await a.invalidate(scope, 'policy', ['a.com']);
    expect(await reading).toBe('old');
    expect(b.l1Has(scope, 'policy', ['a.com'])).toBe(false);
    expect(await b.get(scope, 'policy', ['a.com'])).toBeUndefined();
  });

  it('getOrLoad(): a write in this process while the L2 read is on its way wins over what was read', async () => {
    await a.set(scope, 'policy', ['a.com'], 'old');
    const release = l2.hold();
    const reading = b.getOrLoad(scope, 'policy', ['a.com'], async () => 'source');
    await new Promise((r) => setImmediate(r));
    release();
    await b.set(scope, 'policy', ['a.com'], 'new');
    await reading;
    expect(await b.get(scope, 'policy', ['a.com'])).toBe('new');
    expect(await a.get(scope, 'policy', ['a.com'])).toBe('new');
  });
});
