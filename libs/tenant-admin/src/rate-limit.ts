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
// clocks share one bucket correctly. Same arithmetic as takeToken.
const TAKE_TOKEN = `local rate = tonumber(ARGV[1])
local burst = math.max(1, rate)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'at', 'tokens')
local tokens = burst
if b[2] then tokens = math.min(burst, tonumber(b[2]) + math.max(0, now - tonumber(b[1])) * rate / 1000) end
local allowed = 0
local wait = 0
if tokens >= 1 then tokens = tokens - 1; allowed = 1 else wait = math.ceil((1 - tokens) * 1000 / rate) end
redis.call('HSET', KEYS[1], 'at', now, 'tokens', tostring(tokens))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return {allowed, wait}`;

export interface SharedRateLimiterOptions {
  redis: RedisScripting;
  rates: TierRates;
  /** Used while Redis does not answer. */
  fallback: RateLimiter;
  /** A Redis answer slower than this counts as no answer. Default 250 ms. */
  timeoutMs?: number;
  keyPrefix?: string;
  onFallback?: (err: unknown) => void;
}

/**
 * One bucket per tenant shared by every API process: one Lua script per request. When Redis fails or is
 * slow the request is decided by the per-process fallback (fail open to a local limit, never refuse all).
 */
export class SharedRateLimiter implements RateLimiter {
  constructor(private readonly o: SharedRateLimiterOptions) {}

  async take(tenantId: string, tier: TenantTier): Promise<RateDecision> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('rate limit: Redis did not answer in time')), this.o.timeoutMs ?? 250);
      });
      const reply = (await Promise.race([this.o.redis.eval(TAKE_TOKEN, 1, `${this.o.keyPrefix ?? 'dmarc:ratelimit:'}${tenantId}`, this.o.rates[tier]), timeout])) as [number, number];
      return { allowed: reply[0] === 1, retryAfterMs: reply[1] };
    } catch (err) {
      this.o.onFallback?.(err);
      return this.o.fallback.take(tenantId, tier);
    } finally {
      clearTimeout(timer);
    }
  }
}
