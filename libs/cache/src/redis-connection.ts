// The Redis side of the cache built from a URL, so services get a cache without importing ioredis (only
// data-access libraries may). The client fails fast instead of queueing: while Redis is away a command errors
// at once (no offline queue) or after commandTimeoutMs (a hung server), the cache skips L2 for a moment and
// serves from L1 and the source, and ioredis reconnects in the background by itself.
import Redis from 'ioredis';
import { RedisBroadcast } from './redis-broadcast';
import { RedisCacheL2 } from './redis-l2';

export interface RedisCacheConnectionOptions {
  /** A command with no reply after this long fails (default 250 ms). */
  commandTimeoutMs?: number;
  /** Pub/sub channel of the invalidation broadcast (one per deployment). */
  channel?: string;
}

export interface RedisCacheConnection {
  readonly l2: RedisCacheL2;
  readonly broadcast: RedisBroadcast;
  /** Resolves when the client is ready and the broadcast subscribed (true), or after timeoutMs (false). */
  ready(timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
}

export function connectRedisCache(url: string, options: RedisCacheConnectionOptions = {}): RedisCacheConnection {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    commandTimeout: options.commandTimeoutMs ?? 250,
    maxRetriesPerRequest: 0,
    enableAutoPipelining: true,
    // Reconnect quickly at first, then once a second: recovery after an outage is automatic.
    retryStrategy: (attempt) => Math.min(50 * attempt, 1000),
  });
  // Errors surface on the commands (and as the cache's degraded flag); an unhandled 'error' would kill the process.
  redis.on('error', () => undefined);
  const broadcast = new RedisBroadcast(redis, options.channel);
  let closing: Promise<void> | undefined;
  // Once, however many owners call it (the cache's closeDrivers closes both the L2 and the broadcast).
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      await broadcast.close();
      await redis.quit().catch(() => redis.disconnect());
    })());
  const l2 = new RedisCacheL2(redis, close);
  return {
    l2,
    broadcast,
    async ready(timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (redis.status !== 'ready' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      return redis.status === 'ready' && (await broadcast.ready(Math.max(0, deadline - Date.now())));
    },
    close,
  };
}
