// The Redis client of the shared rate limiter, built from a URL so the API service does not import the driver.
// tenant-admin is type:data-access, which may use ioredis (CONVENTIONS §1; eslint.config.mjs exempts it).
import Redis from 'ioredis';
import type { RedisScripting } from './rate-limit';

export interface RateLimitRedis {
  readonly scripting: RedisScripting;
  /** Resolves true once connected, false after timeoutMs; until then every request takes the fallback. */
  ready(timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Fails fast like the cache's client: no offline queue, a short command timeout, so while Redis is away each
 * request is decided by the per-process fallback at once, and ioredis reconnects in the background.
 */
export function connectRateLimitRedis(url: string, commandTimeoutMs = 250): RateLimitRedis {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    commandTimeout: commandTimeoutMs,
    maxRetriesPerRequest: 0,
    enableAutoPipelining: true,
    retryStrategy: (attempt) => Math.min(50 * attempt, 1000),
  });
  // Errors surface on the commands; an unhandled 'error' event would kill the process.
  redis.on('error', () => undefined);
  return {
    scripting: { eval: (script, numKeys, ...args) => redis.eval(script, numKeys, ...args) },
    async ready(timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (redis.status !== 'ready' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      return redis.status === 'ready';
    },
    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
