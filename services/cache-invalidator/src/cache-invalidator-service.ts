import { CacheInvalidator, discoverOverDnsCache, AGGREGATES_UPDATED_TOPIC, CONFIG_CHANGES_TOPIC, DNS_CHANGES_TOPIC, type ChangeEvent } from '@dmarc/cache-invalidation';
import { connectRedisCache, PolicyTable, TieredCache } from '@dmarc/cache';
import { bool, int, string } from '@dmarc/config';
import { connectRedisTier, DnsCache } from '@dmarc/dns-cache';
import { DnsClient, upstreamServer } from '@dmarc/dns-wire';
import { PlatformClients } from '@dmarc/platform-clients';
import { defineService } from '@dmarc/service-runtime';
import { apiKeyHashOf } from '@dmarc/tenant-admin';

const TOPICS_IN = [CONFIG_CHANGES_TOPIC, DNS_CHANGES_TOPIC, AGGREGATES_UPDATED_TOPIC] as const;
type TopicIn = (typeof TOPICS_IN)[number];

/**
 * Cache invalidator: dmarc.config.changes, dmarc.dns.changes and dmarc.aggregates.updated in, the policy per data
 * type applied to Redis and, through the invalidation broadcast, to every process's in-memory tier; new domains
 * looked up in DNS. Logic in @dmarc/cache-invalidation; this is wiring.
 */
export const cacheInvalidatorService = defineService({
  name: 'cache-invalidator',
  config: {
    CONSUMER_GROUP: string({ default: 'cache-invalidator', description: 'Kafka consumer group of the change topics; replicas share one' }),
    CONSUME_FROM_BEGINNING: bool({
      default: false,
      description: 'where a group without offsets starts: new changes only (false; entries older than the service expire by their TTL) or the oldest (true)',
    }),
    PARTITIONS_CONCURRENTLY: int({ min: 1, max: 64, default: 3, description: 'partitions of the change topics handled in parallel' }),
    // Messages of one key (tenant and domain) still one after another: per domain, changes apply in order.
    MESSAGE_CONCURRENCY: int({ min: 1, max: 256, default: 8, description: 'changes of one partition in hand at once (those of one domain in order)' }),
    AGGREGATE_REFRESH_MS: int({
      min: 0,
      max: 600_000,
      default: 5000,
      description: "dmarc.aggregates.updated drops a domain's dashboard and trend entries at most once per this window (the first at once, the rest at the window's end): how stale a dashboard may be during an ingestion spike; 0 drops on every update",
    }),
    DNS_DISCOVERY: bool({ default: true, description: "look a new domain's DMARC and SPF records up when it is added (warms the shared DNS tier)" }),
  },
  create(config) {
    const clients = new PlatformClients(config, 'cache-invalidator');
    const redis = connectRedisCache(config.REDIS_URL);
    const policies = new PolicyTable();
    const cache = new TieredCache({ l2: redis.l2, broadcast: redis.broadcast });
    const dnsTier = config.DNS_DISCOVERY ? connectRedisTier(config.REDIS_URL) : undefined;
    let dns: DnsCache | undefined;
    return {
      name: 'cache-invalidator',
      setup(ctx) {
        clients.attach(ctx);
        ctx.readiness.add('redis', async () => {
          if (!(await redis.ready(200))) throw new Error('redis: not connected or the broadcast not subscribed');
        });
        if (dnsTier) {
          dns = new DnsCache({
            upstream: new DnsClient({ servers: config.DNS_UPSTREAM?.map(({ host, port }) => upstreamServer(host, port)) }),
            l2: dnsTier.l2,
            logger: ctx.logger,
            meter: ctx.telemetry.meter,
          });
        }
        // Reverse order on shutdown: the bus (added by attach) stops first, then the caches, then Redis.
        ctx.onShutdown(() => redis.close());
        ctx.onShutdown(() => dnsTier?.close());
        ctx.onShutdown(() => dns?.close());
        ctx.onShutdown(() => cache.close());
      },
      async run(ctx) {
        const bus = await clients.connect(ctx, TOPICS_IN);
        const dnsCache = dns;
        const invalidator = new CacheInvalidator({
          cache,
          policies,
          deleteL2Keys: (keys) => redis.l2.delete(keys),
          announceDnsDrops: (keys) => redis.broadcast.publish({ origin: 'cache-invalidator', keys }),
          keyHashOf: (id) => apiKeyHashOf(clients.store, id),
          discover: dnsCache ? discoverOverDnsCache((name, type) => dnsCache.resolve(name, type)) : undefined,
          logger: ctx.logger,
          aggregateRefreshMs: config.AGGREGATE_REFRESH_MS,
        });
        // Registered last, so it runs first on shutdown (hooks run in reverse): the folded drops land while Redis is
        // still there; an aggregate update arriving after it drops at once.
        ctx.onShutdown(() => invalidator.flush());
        const changes = ctx.telemetry.meter.createCounter('dmarc_cache_invalidations_total', { description: 'changes applied to the caches, by topic and outcome' });
        await bus.consume<TopicIn>({
          groupId: config.CONSUMER_GROUP,
          topics: [...TOPICS_IN],
          fromBeginning: config.CONSUME_FROM_BEGINNING,
          partitionsConsumedConcurrently: config.PARTITIONS_CONCURRENTLY,
          messageConcurrency: config.MESSAGE_CONCURRENCY,
          handler: async (message) => {
            const outcome = await invalidator.apply({ topic: message.topic, value: message.value } as ChangeEvent);
            changes.add(1, { topic: message.topic, outcome: outcome.applied ? 'applied' : 'stale' });
            ctx.logger.debug(
              { topic: message.topic, key: message.key, applied: outcome.applied, groups: outcome.plan.groups.length, dnsKeys: outcome.plan.dnsKeys },
              'change applied to the caches',
            );
          },
        });
      },
    };
  },
});
