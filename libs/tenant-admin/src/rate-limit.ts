import type { TenantTier } from './tenants';

/** Operations per second per tier; the burst is one second's worth. */
export type TierRates = Record<TenantTier, number>;
export const DEFAULT_TIER_RATES: TierRates = { starter: 50, business: 250, enterprise: 1000 };

export interface RateDecision {
  allowed: boolean;
  /** When refused: how long until one token is back, in ms. */
  retryAfterMs: number;
}

export interface RateLimiter {
  take(tenantId: string, tier: TenantTier): Promise<RateDecision>;
}

/** A token bucket's step: refill for the time elapsed, then take one token if there is one. Pure, so both drivers agree. */
export function takeToken(state: { tokens: number; at: number } | undefined, rate: number, now: number): { state: { tokens: number; at: number }; decision: RateDecision } {
  const burst = Math.max(1, rate);
  const tokens = state ? Math.min(burst, state.tokens + (Math.max(0, now - state.at) * rate) / 1000) : burst;
  if (tokens >= 1) return { state: { tokens: tokens - 1, at: now }, decision: { allowed: true, retryAfterMs: 0 } };
  return { state: { tokens, at: now }, decision: { allowed: false, retryAfterMs: Math.ceil(((1 - tokens) * 1000) / rate) } };
}

/**
 * Token buckets in this process only: the limit each API process enforces on its own while Redis is away
 * (N processes then allow up to N times the rate, which beats refusing every tenant).
 */
export class LocalRateLimiter implements RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly rates: TierRates,
    private readonly now: () => number = Date.now,
    private readonly maxTenants = 100_000,
  ) {}

  async take(tenantId: string, tier: TenantTier): Promise<RateDecision> {
    const { state, decision } = takeToken(this.#buckets.get(tenantId), this.rates[tier], this.now());
    // Bounded: forget the oldest bucket (a full bucket again, the lenient side) rather than grow for ever.
    if (!this.#buckets.has(tenantId) && this.#buckets.size >= this.maxTenants) this.#buckets.delete(this.#buckets.keys().next().value as string);
    this.#buckets.set(tenantId, state);
    return decision;
  }
}

/** What the shared limiter needs of a Redis client (ioredis' eval). */
export interface RedisScripting {
  eval(script: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>;
}

// The bucket lives in one hash per tenant; the clock is Redis' own (TIME), so API processes with skewed
// clocks share one bucket correctly. Same arithmetic as takeToken, taking up to ARGV[2] tokens at once (a
// lease): returns {granted, wait ms when none}.
const TAKE_TOKENS = `local rate = tonumber(ARGV[1])
local want = math.max(1, tonumber(ARGV[2]) or 1)
local burst = math.max(1, rate)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'at', 'tokens')
local tokens = burst
if b[2] then tokens = math.min(burst, tonumber(b[2]) + math.max(0, now - tonumber(b[1])) * rate / 1000) end
local granted = math.min(want, math.floor(tokens))
local wait = 0
if granted >= 1 then tokens = tokens - granted else granted = 0; wait = math.ceil((1 - tokens) * 1000 / rate) end
redis.call('HSET', KEYS[1], 'at', now, 'tokens', tostring(tokens))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return {granted, wait}`;

export interface SharedRateLimiterOptions {
  redis: RedisScripting;
  rates: TierRates;
  /** Used while Redis does not answer. */
  fallback: RateLimiter;
  /** A Redis answer slower than this counts as no answer. Default 250 ms. */
  timeoutMs?: number;
  keyPrefix?: string;
  onFallback?: (err: unknown) => void;
  /**
   * Tokens taken from the shared bucket per Redis call, as a share of the tier's rate (default 0.05: 50 at a
   * time for 1,000/s, 1 for a rate under 40/s). Held in the process for `leaseMs` at most (default 200 ms).
   */
  leaseShare?: number;
  leaseMs?: number;
  now?: () => number;
}

interface Lease {
  tokens: number;
  expiresAt: number;
  refill?: Promise<void>;
}

/**
 * One bucket per tenant shared by every API process, taken from in leases: a Redis call takes a small share of
 * the tier's rate at once, and the process spends it without asking again (refilling in the background when
 * half is gone), so most requests are decided without waiting on Redis. The shared bucket is only ever debited,
 * so all processes together never pass the rate; a lease unspent after `leaseMs` is dropped (at most one lease
 * per process taken early). When Redis fails or is slow the request is decided by the per-process fallback
 * (fail open to a local limit, never refuse all).
 */
export class SharedRateLimiter implements RateLimiter {
  readonly #leases = new Map<string, Lease>();
  readonly #now: () => number;
  readonly #leaseMs: number;
  readonly #leaseShare: number;

  constructor(private readonly o: SharedRateLimiterOptions) {
    this.#now = o.now ?? Date.now;
    this.#leaseMs = o.leaseMs ?? 200;
    this.#leaseShare = o.leaseShare ?? 0.05;
  }

  async take(tenantId: string, tier: TenantTier): Promise<RateDecision> {
    const now = this.#now();
    const rate = this.o.rates[tier];
    const lease = this.#leases.get(tenantId);
    if (lease && lease.tokens >= 1 && now < lease.expiresAt) {
      lease.tokens--;
      if (lease.tokens < this.#batch(rate) / 2 && !lease.refill) lease.refill = this.#refill(tenantId, tier, lease);
      return { allowed: true, retryAfterMs: 0 };
    }
    try {
      const [granted, wait] = await this.#takeShared(tenantId, rate, this.#batch(rate));
      if (granted < 1) return { allowed: false, retryAfterMs: wait };
      this.#keep(tenantId, { tokens: granted - 1, expiresAt: now + this.#leaseMs });
      return { allowed: true, retryAfterMs: 0 };
    } catch (err) {
      this.o.onFallback?.(err);
      return this.o.fallback.take(tenantId, tier);
    }
  }

  #batch(rate: number): number {
    return Math.max(1, Math.floor(rate * this.#leaseShare));
  }

  async #refill(tenantId: string, tier: TenantTier, lease: Lease): Promise<void> {
    try {
      const [granted] = await this.#takeShared(tenantId, this.o.rates[tier], this.#batch(this.o.rates[tier]));
      const now = this.#now();
      if (now < lease.expiresAt) {
        lease.tokens += granted;
        lease.expiresAt = now + this.#leaseMs;
      } else this.#keep(tenantId, { tokens: granted, expiresAt: now + this.#leaseMs });
    } catch (err) {
      // The next request with the lease spent asks Redis itself (and falls back if it still fails).
      this.o.onFallback?.(err);
    } finally {
      lease.refill = undefined;
    }
  }

  #keep(tenantId: string, lease: Lease): void {
    // Bounded like the local buckets: the oldest lease goes first (its tokens were taken; dropping them only
    // refuses early, never lets more through).
    if (!this.#leases.has(tenantId) && this.#leases.size >= 100_000) this.#leases.delete(this.#leases.keys().next().value as string);
    this.#leases.set(tenantId, lease);
  }

  async #takeShared(tenantId: string, rate: number, want: number): Promise<[number, number]> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('rate limit: Redis did not answer in time')), this.o.timeoutMs ?? 250);
      });
      const reply = (await Promise.race([this.o.redis.eval(TAKE_TOKENS, 1, `${this.o.keyPrefix ?? 'dmarc:ratelimit:'}${tenantId}`, rate, want), timeout])) as [number, number];
      return [Number(reply[0]), Number(reply[1])];
    } finally {
      clearTimeout(timer);
    }
  }
}
