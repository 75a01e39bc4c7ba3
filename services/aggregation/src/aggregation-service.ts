import { AGGREGATES_UPDATED_TOPIC, AGGREGATION_CONSUMER, PARSED_TOPIC, pruneLedger, ReportAggregator, type ChunkCounts, type ChunkOutcome } from '@dmarc/aggregates';
import { bool, int, oneOf, string } from '@dmarc/config';
import type { DeliveredMessage } from '@dmarc/bus';
import { type ReportParsed, TOPICS } from '@dmarc/contracts';
import { consumerPacing, consumerPacingConfig, PlatformClients } from '@dmarc/platform-clients';
import { defineService } from '@dmarc/service-runtime';
import { ThreatDetector, type StoredAlert } from '@dmarc/threat-detection';
import { registerDomainRoutes } from './domain-routes';

// Enriched chunks carry every field of the parsed ones under the same names (schemas/dmarc.reports.enriched),
// so the aggregator reads either; the ledger id (reportId:chunkIndex) is the same on both, so switching the
// source never counts a chunk twice.
const SOURCE_TOPICS = [PARSED_TOPIC, TOPICS.enriched] as const;
type SourceTopic = (typeof SOURCE_TOPICS)[number];

/**
 * Aggregation: parsed report chunks in, per tenant/domain/day/source counters in PostgreSQL (exactly
 * once per chunk), dmarc.aggregates.updated out; and the read API over those counters. Logic in
 * @dmarc/aggregates; this is wiring.
 */
export const aggregationService = defineService({
  name: 'aggregation',
  config: {
    SOURCE_TOPIC: oneOf(SOURCE_TOPICS, {
      default: PARSED_TOPIC,
      description: 'topic the report chunks are read from: dmarc.reports.parsed, or dmarc.reports.enriched when the DNS service runs',
    }),
    CONSUMER_GROUP: string({ default: 'aggregation', description: 'Kafka consumer group of the source topic; replicas share one' }),
    CONSUME_FROM_BEGINNING: bool({ default: true, description: 'where a group without offsets starts: the oldest chunk (true) or new ones only (false)' }),
    // 2, not 3: a huge report's chunks fill every partition, and a third batch in hand took the process past
    // 300 MB (bench:huge, 329 MB) for no gain in time; bench:pipeline's capacity was the same (751 vs 686/s).
    PARTITIONS_CONCURRENTLY: int({ min: 1, max: 64, default: 2, description: 'partitions of dmarc.reports.parsed aggregated in parallel' }),
    ...consumerPacingConfig('chunks', 'one statement, one publish'),
    LEDGER_RETENTION_HOURS: int({
      min: 1,
      default: 8 * 24,
      description: 'how long a chunk stays in the exactly-once ledger; must exceed the source topic retention (Kafka default 7 days)',
    }),
    LEDGER_PRUNE_EVERY_MINUTES: int({ min: 1, default: 60, description: 'how often ledger rows past their retention are deleted' }),
    MAX_RANGE_DAYS: int({ min: 1, max: 3660, default: 366, description: 'longest day range one API request may ask for' }),
    // Group commit by default: a flush starts as soon as none is running, so the buffer adds no wait when idle and
    // gathers more per transaction the busier it is. The bus commits a batch's offsets only once its flush committed.
    WRITE_BEHIND_MAX_ROWS: int({ min: 1, max: 1_000_000, default: 5000, description: 'counter rows that start a write-behind flush at once; also the most one flush takes' }),
    WRITE_BEHIND_LINGER_MS: int({
      min: 0,
      max: 1000,
      default: 0,
      description: 'how long buffered chunks wait for more before a flush starts when none is running (latency added to every chunk)',
    }),
    WRITE_BEHIND_MAX_DELAY_MS: int({
      min: 0,
      max: 5000,
      default: 200,
      description: 'buffered chunks older than this start a second flush beside a slow one; at least WRITE_BEHIND_LINGER_MS',
    }),
    ALERTS_ENABLED: bool({ default: true, description: 'run the threat rules on every flush and on dmarc.dns.changes, publishing to dmarc.alerts' }),
    DNS_CHANGES_CONSUMER_GROUP: string({ optional: true, description: 'Kafka consumer group on dmarc.dns.changes (the DNS-weakened rule); default CONSUMER_GROUP-dns-changes' }),
    ALERT_RELAY_INTERVAL_MS: int({ min: 100, max: 600_000, default: 5000, description: 'how often alerts left unpublished (a crash, a broker outage) are published again' }),
    AGGREGATION_CRASH_BEFORE_FLUSH_OF_TENANT: string({
      optional: true,
      pattern: /[0-9a-f-]{36}/,
      description: 'fault injection for tests: SIGKILL this process when a write-behind flush holding a chunk of this tenant starts, its chunks only buffered',
    }),
    AGGREGATION_CRASH_AFTER_FIRST_COMMIT: bool({
      default: false,
      description: 'fault injection for tests: SIGKILL this process right after the first chunk commits, before its offset is committed',
    }),
    AGGREGATION_CRASH_AFTER_ALERT_OF_TENANT: string({
      optional: true,
      pattern: /[0-9a-f-]{36}/,
      description: 'fault injection for tests: SIGKILL this process right after alerts of this tenant commit, before they are published and the offset committed',
    }),
  },
  create(config) {
    const clients = new PlatformClients(config, 'aggregation');
    return {
      name: 'aggregation',
      setup(ctx) {
        clients.attach(ctx);
        registerDomainRoutes(ctx.http, { db: clients.store, maxDays: config.MAX_RANGE_DAYS });
      },
      async run(ctx) {
        const bus = await clients.connect(ctx, [config.SOURCE_TOPIC, AGGREGATES_UPDATED_TOPIC, ...(config.ALERTS_ENABLED ? [TOPICS.alerts, TOPICS.dnsChanges] : [])]);
        // The ledger only has to outlive any redelivery; without pruning it grows by a row per chunk for ever.
        const prune = () =>
          pruneLedger(clients.store, { consumer: AGGREGATION_CONSUMER, olderThan: new Date(Date.now() - config.LEDGER_RETENTION_HOURS * 3_600_000) }).then(
            (pruned) => pruned > 0 && ctx.logger.info({ pruned }, 'ledger rows past their retention deleted'),
            (err: unknown) => ctx.logger.warn({ error: err instanceof Error ? err.message : String(err) }, 'pruning the ledger failed; next time'),
          );
        const pruning = setInterval(() => void prune(), config.LEDGER_PRUNE_EVERY_MINUTES * 60_000);
        pruning.unref();
        ctx.onShutdown(() => clearInterval(pruning));
        void prune();
        const chunks = ctx.telemetry.meter.createCounter('dmarc_aggregated_chunks_total', { description: 'report chunks handled, by outcome' });
        const messages = ctx.telemetry.meter.createCounter('dmarc_aggregated_messages_total', { description: 'messages counted into aggregates' });
        const reports = ctx.telemetry.meter.createCounter('dmarc_aggregated_reports_total', { description: 'reports with every chunk aggregated' });
        // Threat rules in each flush's transaction, on the chunks it applied: their alerts commit with the counters (the
        // aggregation ledger is theirs too), and are published once it committed. Alerts bypass every cache.
        const raised = ctx.telemetry.meter.createCounter('dmarc_alerts_raised_total', { description: 'alerts stored (deduplicated ones not counted), by rule' });
        const detector = config.ALERTS_ENABLED
          ? new ThreatDetector({
              db: clients.store,
              publisher: bus,
              logger: ctx.logger,
              afterCommit: config.AGGREGATION_CRASH_AFTER_ALERT_OF_TENANT ? crashAfterAlerts(config.AGGREGATION_CRASH_AFTER_ALERT_OF_TENANT, ctx.logger) : undefined,
            })
          : undefined;
        const aggregator = new ReportAggregator({
          db: clients.store,
          publisher: bus,
          afterCommit: config.AGGREGATION_CRASH_AFTER_FIRST_COMMIT ? crashAfterCommit(ctx.logger) : undefined,
          beforeFlush: config.AGGREGATION_CRASH_BEFORE_FLUSH_OF_TENANT ? crashBeforeFlush(config.AGGREGATION_CRASH_BEFORE_FLUSH_OF_TENANT, ctx.logger) : undefined,
          writeBehind: { maxRows: config.WRITE_BEHIND_MAX_ROWS, lingerMs: config.WRITE_BEHIND_LINGER_MS, maxDelayMs: config.WRITE_BEHIND_MAX_DELAY_MS },
          withinFlush: detector
            ? async (tx, applied) => {
                const committed = await detector.checkInFlush(tx, applied);
                return async () => {
                  for (const alert of (await committed()).alerts) raised.add(1, { rule: alert.rule });
                };
              }
            : undefined,
        });
        // Handlers in flight wait for their flush anyway; this writes whatever is left before the process ends.
        ctx.onShutdown(() => aggregator.drain());
        if (detector) {
          ctx.onShutdown(() => detector.stopRelay());
          // Registered after the bus's close (clients.attach), so it runs before it: publishes under way finish first. One
          // started by the batch the consumer finishes while closing may find the producer gone: the relay sends it.
          ctx.onShutdown(() => detector.drain());
          detector.startRelay(config.ALERT_RELAY_INTERVAL_MS);
          await bus.consume<typeof TOPICS.dnsChanges>({
            groupId: config.DNS_CHANGES_CONSUMER_GROUP ?? `${config.CONSUMER_GROUP}-dns-changes`,
            topics: [TOPICS.dnsChanges],
            fromBeginning: config.CONSUME_FROM_BEGINNING,
            handler: async (message) => {
              const { alerts } = await detector.checkDnsChange(message.value, message.trace);
              for (const alert of alerts) raised.add(1, { rule: alert.rule });
            },
          });
        }
        const counted = (outcome: ChunkOutcome) => {
          chunks.add(1, { outcome: !outcome.applied ? 'redelivered' : outcome.duplicate ? 'duplicate' : 'counted' });
          if (outcome.applied && !outcome.duplicate) messages.add(outcome.messages);
          if (outcome.applied && outcome.reportComplete) reports.add(1, { duplicate: String(outcome.duplicate) });
        };
        const source = (message: DeliveredMessage<SourceTopic>) => ({ topic: message.topic, partition: message.partition, offset: message.offset });
        await bus.consume<SourceTopic>({
          groupId: config.CONSUMER_GROUP,
          topics: [config.SOURCE_TOPIC],
          fromBeginning: config.CONSUME_FROM_BEGINNING,
          partitionsConsumedConcurrently: config.PARTITIONS_CONCURRENTLY,
          // Batches by default (one statement and one publish per batch); what a batch leaves goes to `handler`.
          // The fast path. A chunk that breaks the contract throws before anything is written, and a report id
          // another tenant used throws after the commit: either way the whole batch goes to `handler` below,
          // which finds the applied chunks in the ledger and dead-letters the culprit.
          ...consumerPacing<SourceTopic>(config, async (batch) => {
            const outcomes = await aggregator.handleMany(batch.map((m) => ({ chunk: m.value as ReportParsed, source: source(m), trace: m.trace })));
            outcomes.forEach(counted);
            // One line per batch; per chunk only at debug (a log line is a synchronous write).
            ctx.logger.info(
              { chunks: outcomes.length, applied: outcomes.filter((o) => o.applied).length, complete: outcomes.filter((o) => o.applied && o.reportComplete).length },
              'batch aggregated',
            );
          }),
          handler: async (message) => {
            const outcome = await aggregator.handle(message.value as ReportParsed, source(message));
            counted(outcome);
            ctx.logger.debug({ ...outcome }, 'chunk aggregated');
          },
        });
      },
    };
  },
});

// The worst moment to die: the counters are committed, the offset is not, so Kafka redelivers a chunk
// the database already holds. Only the first chunk, so the restarted process (without the flag) and
// the test can check the counts afterwards.
function crashAfterCommit(logger: { warn(obj: object, msg: string): void }): (outcome: ChunkOutcome) => void {
  let crashed = false;
  return (outcome) => {
    if (crashed || !outcome.applied) return;
    crashed = true;
    logger.warn({ reportId: outcome.reportId, chunkIndex: outcome.chunkIndex }, 'fault injection: SIGKILL after commit');
    process.kill(process.pid, 'SIGKILL');
  };
}

// Alerts stored, not yet published, the chunk's offset not committed: the restarted process must neither store them
// again (the detection ledger) nor lose them (the relay publishes them). Only for the test's tenant.
function crashAfterAlerts(tenantId: string, logger: { warn(obj: object, msg: string): void }): (alerts: readonly StoredAlert[]) => void {
  return (alerts) => {
    if (!alerts.some((a) => a.tenantId === tenantId)) return;
    logger.warn({ alerts: alerts.map((a) => a.id) }, 'fault injection: SIGKILL after the alerts commit');
    process.kill(process.pid, 'SIGKILL');
  };
}

// Chunks handed to the aggregator and buffered, nothing written, no offset committed: Kafka must deliver them again.
// Only for one tenant's chunks: the test's, not whatever else the shared topic carries meanwhile.
function crashBeforeFlush(tenantId: string, logger: { warn(obj: object, msg: string): void }): (chunks: readonly ChunkCounts[]) => void {
  return (chunks) => {
    if (!chunks.some((c) => c.tenantId === tenantId)) return;
    logger.warn({ chunks: chunks.length, tenantId }, 'fault injection: SIGKILL before a write-behind flush');
    process.kill(process.pid, 'SIGKILL');
  };
}
