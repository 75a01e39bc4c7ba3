import { harness } from './__test-support__/harness';
import { settle } from './__test-support__/manual-clock';
import { leaseKey } from './shared-lease';
import { sharedKey } from './dns-name';

describe('coalescing: one upstream query per question', () => {
  it('10,000 concurrent callers of a missing name cause exactly one upstream query and all get its answer', async () => {
    const h = harness();
    h.upstream.txt('_dmarc.example.com', 'v=DMARC1; p=reject', 300);
    h.upstream.hold();
    const callers = Array.from({ length: 10_000 }, () => h.cache.resolve('_dmarc.example.com', 'TXT'));
    await settle();
    expect(h.upstream.count).toBe(1);
    h.upstream.release();
    const results = await Promise.all(callers);
    expect(h.upstream.count).toBe(1);
    expect(new Set(results.map((r) => r.answers[0]))).toEqual(new Set([{ type: 'TXT', name: '_dmarc.example.com', ttl: 300, strings: ['v=DMARC1; p=reject'] }]));
    expect(results.every((r) => r.source === 'upstream' && r.state === 'fresh' && r.ttl === 300)).toBe(true);
    const c = h.cache.metrics.counters;
    expect(c).toMatchObject({ lookups: 10_000, upstreamQueries: 1, coalescedWaiters: 9_999, upstreamAnswers: 10_000 });
    await settle();
    expect(h.cache.stats().inFlight).toBe(0);
  });

  it('after the flight, callers hit L1 without awaiting anything: peek is synchronous', async () => {
    const h = harness();
    h.upstream.a('mx1.example.net', '192.0.2.1', 300);
    expect(h.cache.peek('mx1.example.net', 'A')).toBeUndefined();
    await h.cache.resolve('mx1.example.net', 'A');
    const hit = h.cache.peek('MX1.Example.NET.', 'A');
    expect(hit).toMatchObject({ name: 'mx1.example.net', source: 'l1', state: 'fresh', ttl: 300 });
    expect((await h.cache.resolve('mx1.example.net', 'A')).source).toBe('l1');
    expect(h.upstream.count).toBe(1);
    // The first peek found nothing and is not a lookup; the resolve after it, the hit and the last resolve are.
    expect(h.cache.metrics.counters).toMatchObject({ lookups: 3, l1Hits: 2 });
  });

  it('an expired name read by 1,000 callers at once is asked once again', async () => {
    const h = harness({ staleWhileRevalidateSeconds: 0 });
    h.upstream.txt('example.com', 'v=spf1 -all', 60);
    await h.cache.resolve('example.com', 'TXT');
    h.clock.advance(61_000);
    h.upstream.hold();
    const callers = Array.from({ length: 1_000 }, () => h.cache.resolve('example.com', 'TXT'));
    await settle();
    h.upstream.release();
    const results = await Promise.all(callers);
    expect(h.upstream.count).toBe(2);
    expect(results.every((r) => r.state === 'fresh' && r.ttl === 60)).toBe(true);
  });

  it('two caches sharing one L2 send one upstream query between them; the other gets it from L2', async () => {
    const h = harness();
    const b = h.another();
    h.upstream.txt('_dmarc.shared.example', 'v=DMARC1; p=none', 300);
    h.upstream.hold();
    const fromA = Array.from({ length: 100 }, () => h.cache.resolve('_dmarc.shared.example', 'TXT'));
    await settle();
    const fromB = Array.from({ length: 100 }, () => b.resolve('_dmarc.shared.example', 'TXT'));
    await settle();
    expect(h.upstream.count).toBe(1);
    h.upstream.release();
    const [a, bb] = await Promise.all([Promise.all(fromA), Promise.all(fromB)]);
    expect(h.upstream.count).toBe(1);
    expect(a.every((r) => r.source === 'upstream')).toBe(true);
    expect(bb.every((r) => r.source === 'l2' && r.answers.length === 1)).toBe(true);
    expect(b.metrics.counters.leaseWaits).toBe(1);
    expect(h.l2.keys()).toEqual([sharedKey('TXT', '_dmarc.shared.example')]);
    expect(h.l2.channelCount).toBe(0);
  });

  it('a lease holder that died is replaced once its lease expires', async () => {
    const h = harness({ leaseMs: 5_000, leasePollMs: 100 });
    h.upstream.txt('orphan.example', 'x', 300);
    const key = sharedKey('TXT', 'orphan.example');
    // A process took the lease and died before answering.
    await h.l2.acquireLease({ key: leaseKey(key), token: 'dead-process' }, 5_000);
    const pending = h.cache.resolve('orphan.example', 'TXT');
    let done = false;
    void pending.then(() => (done = true));
    for (let t = 0; t < 4_900; t += 100) {
      h.clock.advance(100);
      await settle(3);
    }
    expect(done).toBe(false);
    expect(h.upstream.count).toBe(0);
    h.clock.advance(200);
    await settle();
    const result = await pending;
    expect(result).toMatchObject({ source: 'upstream', state: 'fresh' });
    expect(h.upstream.count).toBe(1);
    expect(h.cache.metrics.counters.leaseWaits).toBe(1);
  });

  it('a waiter gives up on a stuck lease after leaseMaxWaitMs and asks the upstream itself', async () => {
    const h = harness({ leaseMs: 60_000, leasePollMs: 1_000, leaseMaxWaitMs: 3_000 });
    h.upstream.txt('stuck.example', 'x', 300);
    await h.l2.acquireLease({ key: leaseKey(sharedKey('TXT', 'stuck.example')), token: 'stuck' }, 60_000);
    const pending = h.cache.resolve('stuck.example', 'TXT');
    for (let i = 0; i < 4; i++) {
      await settle(3);
      h.clock.advance(1_000);
    }
    await expect(pending).resolves.toMatchObject({ source: 'upstream' });
    expect(h.upstream.count).toBe(1);
  });
});

describe('the shared lease', () => {
  it('is renewed while a slow upstream query runs, so a live holder is not replaced', async () => {
    const h = harness({ leaseMs: 1_000, leasePollMs: 100 });
    const b = h.another({ leaseMs: 1_000, leasePollMs: 100 });
    h.upstream.txt('slow.example', 'x', 300);
    h.upstream.delayMs = 5_000;
    const fromA = h.cache.resolve('slow.example', 'TXT');
    await settle();
    const fromB = b.resolve('slow.example', 'TXT');
    await settle();
    await h.clock.runTo(h.clock.now() + 5_000);
    await expect(fromA).resolves.toMatchObject({ source: 'upstream' });
    await expect(fromB).resolves.toMatchObject({ source: 'l2' });
    expect(h.upstream.count).toBe(1);
    expect(h.l2.keys()).toEqual([sharedKey('TXT', 'slow.example')]);
  });
});
