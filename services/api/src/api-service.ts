import { connectRedisCache, DEFAULT_POLICIES, observeCacheStats, TieredCache } from '@dmarc/cache';
import { bool, int, oneOf } from '@dmarc/config';
import { PlatformClients } from '@dmarc/platform-clients';
import { defineService } from '@dmarc/service-runtime';
import { CONFIG_CHANGES_TOPIC, ConfigChangeRelay, connectRateLimitRedis, LocalRateLimiter, SharedRateLimiter, type TierRates } from '@dmarc/tenant-admin';
import { registerApi } from './api-routes';

const rate = (tier: string, fallback: number) => int({ min: 1, max: 1_000_000, default: fallback, description: `operations per second of a ${tier} tenant (token bucket, one second of burst)` });

/**
 * The tenant-facing HTTP API: configuration writes to PostgreSQL then dmarc.config.changes (through the
 * outbox relay), dashboard reads through the tiered cache, per-tier rate limits shared through Redis.
 * Logic in @dmarc/tenant-admin; this is wiring.
 */
export const apiService = defineService({
  name: 'api',
  config: {
    RATE_LIMIT_STARTER: rate('starter', 50),
    RATE_LIMIT_BUSINESS: rate('business', 250),
    RATE_LIMIT_ENTERPRISE: rate('enterprise', 1000),
    MAX_BODY_BYTES: int({ min: 256, max: 10 * 1024 * 1024, default: 16 * 1024, description: 'largest JSON body a write accepts (413 beyond)' }),
    MAX_RANGE_DAYS: int({ min: 1, max: 3660, default: 366, description: 'longest day range of a dashboard read' }),
    CACHE_MODE: oneOf(['tiered', 'off'] as const, {
      default: 'tiered',
      description: 'tiered: reads through L1 + Redis as the policy table says; off: every type TTL 0, every read goes to PostgreSQL (for measuring what the cache saves, and for diagnosis)',
    }),
    READINESS_NEEDS_REDIS: bool({
      default: true,
      description:
        'readiness is false while Redis is unreachable; false: Redis is no readiness condition and the API stays ready through a Redis outage, serving degraded (L1 + database, per-process rate limit)',
    }),
    OUTBOX_RELAY_INTERVAL_MS: int({ min: 50, default: 1000, description: 'how often unpublished config changes (a failed publish, a crashed process) are sent again' }),
  },
  create(config) {
    const clients = new PlatformClients(config, 'api');
    const rates: TierRates = { starter: config.RATE_LIMIT_STARTER, business: config.RATE_LIMIT_BUSINESS, enterprise: config.RATE_LIMIT_ENTERPRISE };
    let relay: ConfigChangeRelay | undefined;
    let redisReady: (() => Promise<boolean>) | undefined;
    return {
      name: 'api',
      async setup(ctx) {
        clients.attach(ctx);
        const redis = connectRedisCache(config.REDIS_URL);
        const cache = new TieredCache({ l2: redis.l2, broadcast: redis.broadcast, ...(config.CACHE_MODE === 'off' ? { policies: uncached() } : {}) });
        // Hit ratio per tier and type on /metrics.
        observeCacheStats(ctx.telemetry.meter, () => cache.stats());
        const limiterRedis = connectRateLimitRedis(config.REDIS_URL);
        let warned = 0;
        const limiter = new SharedRateLimiter({
          redis: limiterRedis.scripting,
          rates,
          fallback: new LocalRateLimiter(rates),
          // One line a minute at most while Redis is away, not one per request.
          onFallback: (err) => {
            if (Date.now() - warned < 60_000) return;
            warned = Date.now();
            ctx.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'rate limit: Redis unavailable, limiting per process');
          },
        });
        redisReady = async () => (await Promise.all([redis.ready(5000), limiterRedis.ready(5000)])).every(Boolean);
        if (config.READINESS_NEEDS_REDIS) ctx.readiness.add('redis', async () => {
          const up = (await Promise.all([redis.ready(200), limiterRedis.ready(200)])).every(Boolean);
          if (!up) throw new Error('redis: not connected (serving degraded: L1 + database, per-process rate limit)');
        });
        ctx.onShutdown(async () => {
          await cache.close();
          await redis.close();
          await limiterRedis.close();
        });
        ctx.onShutdown(() => relay?.stop());
        await registerApi(ctx.http, {
          db: clients.store,
          cache,
          limiter,
          afterChange: () => relay?.kick(),
          logger: ctx.logger,
          maxBodyBytes: config.MAX_BODY_BYTES,
          maxRangeDays: config.MAX_RANGE_DAYS,
        });
      },
      async run(ctx) {
        // Ready with Redis when it is there: until then the cache reads the database every time and the rate
        // limit is per process. Not a condition: without Redis the API serves all the same (degraded).
        if (!(await redisReady?.())) ctx.logger.warn({}, 'redis not connected after 5 s; serving without it (cache L1 + database, per-process rate limit) until it is');
        const bus = await clients.connect(ctx, [CONFIG_CHANGES_TOPIC]);
        relay = new ConfigChangeRelay({ db: clients.store, publisher: bus, logger: ctx.logger });
        relay.start(config.OUTBOX_RELAY_INTERVAL_MS);
        // Whatever an earlier life of the service committed and did not publish.
        relay.kick();
      },
    };
  },
});

/** CACHE_MODE=off: every data type with TTL 0, so nothing is read back from either tier. */
function uncached(): Record<string, { ttlMs: number }> {
  return Object.fromEntries(Object.keys(DEFAULT_POLICIES).map((type) => [type, { ttlMs: 0 }]));
}
