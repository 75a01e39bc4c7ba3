import type { DeliveredMessage } from '@dmarc/bus';
import { bool, int, string } from '@dmarc/config';
import { type ReportParsed, TOPICS } from '@dmarc/contracts';
import { connectRedisCache } from '@dmarc/cache';
import { connectRedisTier, DnsCache, forgetAnnouncedKeys } from '@dmarc/dns-cache';
import { type ChunkEnrichment, Enricher, dkimSelectorsSeen, dnsLookupOverCache, enrichChunk, enrichChunks } from '@dmarc/dns-enrichment';
import { baseDomain, checkDomainDns } from '@dmarc/dns-records';
import { DnsWatcher, SelectorRecorder } from '@dmarc/dns-watch';
import { DnsClient, reverseName, upstreamServer } from '@dmarc/dns-wire';
import { consumerPacing, consumerPacingConfig, PlatformClients } from '@dmarc/platform-clients';
import { defineService } from '@dmarc/service-runtime';
import { autopilotConfig, startAutopilot } from './dns-autopilot';
import { registerDnsRoutes } from './dns-routes';

const PARSED_TOPIC = TOPICS.parsed;
const ENRICHED_TOPIC = TOPICS.enriched;
const DNS_CHANGES_TOPIC = TOPICS.dnsChanges;

/**
 * DNS: parsed report chunks in, the same chunks with PTR names, base domains and the domain's DMARC and SPF
 * records out (dmarc.reports.enriched), every lookup through the two-tier DNS cache shared by the replicas;
 * and the lookup and dns-check API. Logic in @dmarc/dns-enrichment, @dmarc/dns-cache, @dmarc/dns-records.
 */
export const dnsService = defineService({
  name: 'dns',
  config: {
    CONSUMER_GROUP: string({ default: 'dns', description: 'Kafka consumer group of dmarc.reports.parsed; replicas share one' }),
    CONSUME_FROM_BEGINNING: bool({ default: true, description: 'where a group without offsets starts: the oldest chunk (true) or new ones only (false)' }),
    PARTITIONS_CONCURRENTLY: int({ min: 1, max: 64, default: 2, description: 'partitions of dmarc.reports.parsed enriched in parallel' }),
    ...consumerPacingConfig('chunks', 'each name asked once, one publish'),
    CONFIRM_PTR: bool({ default: false, description: 'keep a PTR name only when it resolves back to the source IP (forward-confirmed reverse DNS)' }),
    DNS_LOOKUP_CONCURRENCY: int({ min: 1, max: 10_000, default: 64, description: 'distinct names of one batch looked up at once' }),
    DNS_TIMEOUT_MS: int({ min: 1, max: 60_000, default: 2000, description: 'upstream DNS timeout per attempt' }),
    DNS_RETRIES: int({ min: 0, max: 10, default: 2, description: 'upstream DNS attempts after the first, each on the next server' }),
    DNS_MIN_TTL_SECONDS: int({ min: 0, max: 3600, default: 30, description: 'record TTLs below this are raised to it (the cache keeps an answer at least this long)' }),
    DNS_MAX_TTL_SECONDS: int({ min: 1, max: 86_400, default: 3600, description: 'record TTLs above this are lowered to it' }),
    DNS_WATCH_INTERVAL_SECONDS: int({
      min: 0,
      max: 86_400,
      default: 300,
      description: "how often monitored domains' DMARC, SPF and DKIM records are re-read for dmarc.dns.changes; 0 turns the watch off",
    }),
    DNS_L1_MAX_ENTRIES: int({ min: 1, default: 50_000, description: 'DNS answers kept in this process (L1 LRU, about 720 bytes each); Redis holds the shared tier' }),
    ...autopilotConfig,
  },
  create(config) {
    const clients = new PlatformClients(config, 'dns');
    const upstream = new DnsClient({
      servers: config.DNS_UPSTREAM?.map(({ host, port }) => upstreamServer(host, port)),
      timeoutMs: config.DNS_TIMEOUT_MS,
      retries: config.DNS_RETRIES,
    });
    const redis = connectRedisTier(config.REDIS_URL);
    let cache: DnsCache | undefined;
    let lookup: ReturnType<typeof dnsLookupOverCache>;
    const cacheOf = (): DnsCache => {
      if (!cache) throw new Error('dns cache: not set up yet');
      return cache;
    };
    return {
      name: 'dns',
      setup(ctx) {
        clients.attach(ctx);
        cache = new DnsCache({
          upstream,
          l2: redis.l2,
          logger: ctx.logger,
          meter: ctx.telemetry.meter,
          l1MaxEntries: config.DNS_L1_MAX_ENTRIES,
          minTtlSeconds: config.DNS_MIN_TTL_SECONDS,
          maxTtlSeconds: config.DNS_MAX_TTL_SECONDS,
        });
        ctx.readiness.add('redis', () => redis.ping());
        // DNS answers the cache-invalidator drops from Redis (a DMARC policy or SPF change) leave this process's
        // L1 at once too, through the cache invalidation broadcast.
        const invalidations = connectRedisCache(config.REDIS_URL);
        const unsubscribe = forgetAnnouncedKeys(cacheOf(), (onKeys) => invalidations.broadcast.subscribe({ onMessage: (m) => onKeys(m.keys ?? []) }));
        // Reverse order on shutdown: the bus (added by attach) stops first, then the cache, then Redis.
        ctx.onShutdown(() => redis.close());
        ctx.onShutdown(() => invalidations.close());
        ctx.onShutdown(() => unsubscribe());
        ctx.onShutdown(() => cache?.close());
        lookup = dnsLookupOverCache(cacheOf());
        registerDnsRoutes(ctx.http, { cache: cacheOf(), checkDomain: (domain) => checkDomainDns(domain, lookup) });
      },
      async run(ctx) {
        const bus = await clients.connect(ctx, [PARSED_TOPIC, ENRICHED_TOPIC, DNS_CHANGES_TOPIC]);
        const enricher = new Enricher({
          answers: cacheOf(),
          reverseName,
          baseDomain,
          confirmPtr: config.CONFIRM_PTR,
          concurrency: config.DNS_LOOKUP_CONCURRENCY,
        });
        const enrichedChunks = ctx.telemetry.meter.createCounter('dmarc_enriched_chunks_total', { description: 'report chunks enriched and published' });
        // dmarc.reports.enriched is dmarc.reports.parsed plus `sources` and `dns`: the chunk goes out as the bytes
        // read plus those two fields, its records neither re-encoded nor copied (checked against the schemas here).
        const enriched = clients.contracts.extension(PARSED_TOPIC, ENRICHED_TOPIC);
        const outgoing = (message: DeliveredMessage<typeof PARSED_TOPIC>, enrichment: ChunkEnrichment) => ({
          // Same key as the parsed chunk, so the partitioning (and any order) aggregation sees is unchanged.
          key: message.key ?? undefined,
          encoded: enriched.encode(message, enrichment),
          tenantId: message.tenantId,
          trace: message.trace,
        });

        // The scheduled re-check of monitored domains (@dmarc/dns-watch), through the same cache. Registered after
        // the bus and the store, so it stops (finishing the round in hand) before they close.
        if (config.DNS_WATCH_INTERVAL_SECONDS > 0) {
          const watcher = new DnsWatcher({ db: clients.store, dns: lookup, publisher: bus, logger: ctx.logger, intervalMs: config.DNS_WATCH_INTERVAL_SECONDS * 1000 });
          watcher.start();
          ctx.onShutdown(() => watcher.stop());
        }
        // Approved DMARC policy changes of opted-in domains, written to their DNS (@dmarc/dns-update).
        startAutopilot(ctx, config, { store: clients.store, cache: cacheOf(), publisher: bus });
        // The DKIM selectors reports show are what the watcher follows. Best effort: a selector missed now is
        // recorded with the next report that shows it, so a database hiccup must not hold enrichment back. Each
        // is written once an hour per tenant and domain, not once per chunk.
        const selectors = new SelectorRecorder(clients.store);
        const noteSelectors = async (chunks: readonly ReportParsed[]) => {
          const failed = (await Promise.allSettled(dkimSelectorsSeen(chunks).map((s) => selectors.record(s.tenantId, s.domain, s.selectors)))).filter(
            (r): r is PromiseRejectedResult => r.status === 'rejected',
          );
          if (failed.length > 0) ctx.logger.warn({ failed: failed.length, reason: String(failed[0].reason) }, 'dkim selectors not recorded');
        };

        await bus.consume<typeof PARSED_TOPIC>({
          groupId: config.CONSUMER_GROUP,
          topics: [PARSED_TOPIC],
          fromBeginning: config.CONSUME_FROM_BEGINNING,
          partitionsConsumedConcurrently: config.PARTITIONS_CONCURRENTLY,
          // Batches by default (one statement and one publish per batch); what a batch leaves goes to `handler`.
          // The fast path: the names of the whole batch asked once, one publish. DNS never fails a chunk (a
          // field without an answer is null), so only a publish failure leaves the batch to `handler`.
          ...consumerPacing<typeof PARSED_TOPIC>(config, async (messages) => {
            const chunks = messages.map((m) => m.value as ReportParsed);
            const [enrichments] = await Promise.all([enrichChunks(chunks, enricher), noteSelectors(chunks)]);
            await bus.publish(
              ENRICHED_TOPIC,
              messages.map((m, i) => outgoing(m, enrichments[i])),
            );
            enrichedChunks.add(messages.length);
            ctx.logger.info({ chunks: messages.length, records: chunks.reduce((n, c) => n + c.records.length, 0) }, 'batch enriched');
          }),
          handler: async (message) => {
            const chunk = message.value as ReportParsed;
            const [enrichment] = await Promise.all([enrichChunk(chunk, enricher), noteSelectors([chunk])]);
            await bus.publish(ENRICHED_TOPIC, [outgoing(message, enrichment)]);
            enrichedChunks.add(1);
            ctx.logger.debug({ reportId: chunk.reportId, chunkIndex: chunk.chunkIndex }, 'chunk enriched');
          },
        });
      },
    };
  },
});
