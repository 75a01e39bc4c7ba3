import { LocalRateLimiter, SharedRateLimiter, takeToken } from './rate-limit';

describe('token bucket', () => {
  it('starts full (one second of burst), refills at the rate, caps at the burst', () => {
    let step = takeToken(undefined, 2, 0);
    expect(step.decision).toEqual({ allowed: true, retryAfterMs: 0 });
    step = takeToken(step.state, 2, 0);
    expect(step.decision.allowed).toBe(true);
    step = takeToken(step.state, 2, 0);
    expect(step.decision).toEqual({ allowed: false, retryAfterMs: 500 });
    step = takeToken(step.state, 2, 250);
    expect(step.decision).toEqual({ allowed: false, retryAfterMs: 250 });
    step = takeToken(step.state, 2, 500);
    expect(step.decision.allowed).toBe(true);
    // An hour idle refills to the burst, not beyond.
    expect(takeToken(step.state, 2, 3_600_000).state.tokens).toBe(1);
  });

  it('keeps one bucket per tenant, at its tier rate, in this process', async () => {
    let now = 0;
    const limiter = new LocalRateLimiter({ starter: 1, business: 3, enterprise: 100 }, () => now);
    expect((await limiter.take('a', 'starter')).allowed).toBe(true);
    expect(await limiter.take('a', 'starter')).toEqual({ allowed: false, retryAfterMs: 1000 });
    expect((await limiter.take('b', 'starter')).allowed).toBe(true);
    const business = await Promise.all([1, 2, 3, 4].map(() => limiter.take('c', 'business')));
    expect(business.map((d) => d.allowed)).toEqual([true, true, true, false]);
    now = 1000;
    expect((await limiter.take('a', 'starter')).allowed).toBe(true);
  });

  it('forgets the oldest bucket past its bound instead of growing', async () => {
    const limiter = new LocalRateLimiter({ starter: 1, business: 1, enterprise: 1 }, () => 0, 2);
    await limiter.take('a', 'starter');
    await limiter.take('b', 'starter');
    await limiter.take('c', 'starter');
    // a was forgotten: full again.
    expect((await limiter.take('a', 'starter')).allowed).toBe(true);
    expect((await limiter.take('c', 'starter')).allowed).toBe(false);
  });
});

describe('SharedRateLimiter', () => {
  const rates = { starter: 1, business: 1, enterprise: 1 };

  it('decides by the Redis script when it answers', async () => {
    const calls: unknown[][] = [];
    const limiter = new SharedRateLimiter({
      redis: { eval: async (...args) => (calls.push(args), [0, 700]) },
      rates,
      fallback: { take: () => Promise.reject(new Error('not used')) },
      keyPrefix: 'rl:',
    });
    expect(await limiter.take('t1', 'business')).toEqual({ allowed: false, retryAfterMs: 700 });
    expect(calls[0].slice(1)).toEqual([1, 'rl:t1', 1, 1]);
  });

  /** A shared bucket as the script keeps it: `available` tokens, each call granting up to what is asked. */
  const sharedBucket = (available: number) => {
    const bucket = { available, calls: 0, granted: 0 };
    const evalImpl = async (_script: string, _keys: number, _key: string | number, _rate: string | number, want: string | number) => {
      bucket.calls++;
      const granted = Math.min(Number(want), bucket.available);
      bucket.available -= granted;
      bucket.granted += granted;
      return granted > 0 ? [granted, 0] : [0, 50];
    };
    return { bucket, redis: { eval: evalImpl as (script: string, numKeys: number, ...args: Array<string | number>) => Promise<unknown> } };
  };
  const refill = () => new Promise((r) => setImmediate(r));

  it('takes tokens in leases: 1,000/s asks Redis for 50 at a time, and most requests are decided without it', async () => {
    const { bucket, redis } = sharedBucket(1000);
    const limiter = new SharedRateLimiter({ redis, rates: { starter: 50, business: 250, enterprise: 1000 }, fallback: { take: () => Promise.reject(new Error('not used')) }, now: () => 0 });
    let allowed = 0;
    for (let i = 0; i < 500; i++) {
      if ((await limiter.take('t', 'enterprise')).allowed) allowed++;
      await refill();
    }
    expect(allowed).toBe(500);
    // 500 requests in 50-token leases refilled at half: about 10 Redis calls, not 500.
    expect(bucket.calls).toBeLessThanOrEqual(12);
    expect(bucket.granted).toBeGreaterThanOrEqual(500);
  });

  it('two processes together never pass what the shared bucket grants', async () => {
    const { bucket, redis } = sharedBucket(120);
    const rates = { starter: 50, business: 250, enterprise: 1000 };
    const fallback = { take: () => Promise.reject(new Error('not used')) };
    const a = new SharedRateLimiter({ redis, rates, fallback, now: () => 0 });
    const b = new SharedRateLimiter({ redis, rates, fallback, now: () => 0 });
    let allowed = 0;
    for (let i = 0; i < 200; i++) {
      if ((await (i % 2 ? a : b).take('t', 'enterprise')).allowed) allowed++;
      await refill();
    }
    expect(allowed).toBeLessThanOrEqual(bucket.granted);
    expect(bucket.granted).toBe(120);
    expect(allowed).toBeGreaterThan(100);
    expect((await a.take('t', 'enterprise')).allowed || (await b.take('t', 'enterprise')).allowed).toBe(false);
  });

  it('drops a lease unspent after leaseMs and asks Redis again', async () => {
    const { bucket, redis } = sharedBucket(1000);
    let now = 0;
    const limiter = new SharedRateLimiter({ redis, rates: { starter: 50, business: 250, enterprise: 1000 }, fallback: { take: () => Promise.reject(new Error('not used')) }, now: () => now, leaseMs: 200 });
    await limiter.take('t', 'enterprise');
    expect(bucket.calls).toBe(1);
    now = 150;
    await limiter.take('t', 'enterprise');
    expect(bucket.calls).toBe(1);
    now = 400;
    await limiter.take('t', 'enterprise');
    expect(bucket.calls).toBe(2);
  });

  it.each([
    ['fails', () => Promise.reject(new Error('connection refused'))],
    ['does not answer in time', () => new Promise<never>(() => undefined)],
  ])('falls back to the per-process bucket when Redis %s', async (_what, evalImpl) => {
    const reasons: unknown[] = [];
    const limiter = new SharedRateLimiter({ redis: { eval: evalImpl }, rates, fallback: new LocalRateLimiter(rates, () => 0), timeoutMs: 20, onFallback: (e) => reasons.push(e) });
    expect((await limiter.take('t', 'starter')).allowed).toBe(true);
    expect((await limiter.take('t', 'starter')).allowed).toBe(false);
    expect(reasons).toHaveLength(2);
  });
});
