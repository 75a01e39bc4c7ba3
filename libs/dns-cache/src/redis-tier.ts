// The Redis tier of the DNS cache built from a URL, so services hold a cache without touching the driver.
import Redis from 'ioredis';
import { RedisL2 } from './redis-l2';

export interface RedisTier {
  readonly l2: RedisL2;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export function connectRedisTier(url: string): RedisTier {
  // Few retries per command: the cache carries on with L1 and the upstream while Redis is away, so a
  // command should fail fast rather than hold a lookup through a long reconnect.
  // Auto-pipelining: the GETs a batch of lookups issues in one tick leave in one write, not one syscall each.
  const redis = new Redis(url, { maxRetriesPerRequest: 1, enableAutoPipelining: true });
  // Errors surface on the commands (and in readiness); an unhandled 'error' event would kill the process.
  redis.on('error', () => undefined);
  const l2 = new RedisL2(redis);
  return {
    l2,
    async ping() {
      await redis.ping();
    },
    async close() {
      await l2.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
