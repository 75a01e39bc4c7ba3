import { int } from '@dmarc/config';
import { TOPICS } from '@dmarc/contracts';
import type { DeliveredMessage } from '@dmarc/bus';
import { IntakeError, ReportIntake, type AcceptedReport, type IncomingReport } from '@dmarc/intake';
import { consumerPacing, consumerPacingConfig, PlatformClients } from '@dmarc/platform-clients';
import { defineService } from '@dmarc/service-runtime';
import { ingestionRoutes } from './http/ingestion-routes';
import type { ReportOutcome } from './http/intake-replies';

export const INBOUND_TOPIC = TOPICS.inbound;
export const RECEIVED_TOPIC = TOPICS.received;

/** How much of a report over the size limit is read and kept with its refusal: enough to tell what it was. */
export const REFUSED_HEAD_BYTES = 64 * 1024;
const MAX_STATS_DAYS = 90;

/**
 * Ingestion: takes reports from upstream pipelines (the inbound topic) and over HTTP (POST
 * /v1/reports), keeps their raw bytes, deduplicates them and hands them to parsing. The logic is in
 * @dmarc/intake; this is wiring.
 */
export const ingestionService = defineService({
  name: 'ingestion',
  config: {
    MAX_REPORT_BYTES: int({ min: 1, default: 64 * 1024 * 1024, description: 'largest report accepted, in bytes' }),
    INLINE_MAX_BYTES: int({ min: 0, default: 256 * 1024, description: 'reports up to this size travel inline on the topic' }),
    MAX_FILES_PER_REQUEST: int({ min: 1, default: 20, description: 'most file parts one multipart POST /v1/reports may carry' }),
    PARTITIONS_CONCURRENTLY: int({ min: 1, max: 64, default: 3, description: 'partitions of dmarc.reports.inbound taken in parallel' }),
    ...consumerPacingConfig('inbound reports', 'one statement to keep them, one publish'),
  },
  create(config) {
    let intake: ReportIntake | undefined;
    // Set in setup, where telemetry is; the inbound consumer counts with the same instruments.
    let count: (source: string, duplicate: boolean, error?: string) => void = () => undefined;
    const clients = new PlatformClients(config, 'ingestion');
    const store = clients.store;
    return {
      name: 'ingestion',
      async setup(ctx) {
        clients.attach(ctx);

        const accepted = ctx.telemetry.meter.createCounter('dmarc_reports_accepted_total', { description: 'reports accepted by ingestion' });
        const refused = ctx.telemetry.meter.createCounter('dmarc_reports_refused_total', { description: 'reports refused by ingestion, kept with their reason' });
        count = (source, duplicate, error) =>
          error ? refused.add(1, { error, source }) : accepted.add(1, { duplicate: String(duplicate), source });
        const onOutcome = (outcome: ReportOutcome) => {
          if (outcome.kind === 'accepted') return count('http', outcome.report.duplicate);
          count('http', false, outcome.body.error);
          ctx.logger.info({ reportId: outcome.body.id, error: outcome.body.error, reason: outcome.body.message }, 'report refused');
        };
        await ingestionRoutes(ctx.http, {
          db: store,
          intake: () => intake,
          maxBytes: config.MAX_REPORT_BYTES,
          refusedHeadBytes: REFUSED_HEAD_BYTES,
          maxFiles: config.MAX_FILES_PER_REQUEST,
          maxStatsDays: MAX_STATS_DAYS,
          onOutcome,
        });
        // Stopping: uploads get 503 from here on instead of meeting a closed producer.
        ctx.onShutdown(() => void (intake = undefined));
      },
      async run(ctx) {
        const connected = await clients.connect(ctx, [INBOUND_TOPIC, RECEIVED_TOPIC]);
        const ready = new ReportIntake({
          store,
          publisher: connected,
          maxBytes: config.MAX_REPORT_BYTES,
          inlineMaxBytes: config.INLINE_MAX_BYTES,
          refusedHeadBytes: REFUSED_HEAD_BYTES,
        });
        intake = ready;
        const incoming = (message: DeliveredMessage<typeof INBOUND_TOPIC>): IncomingReport => ({
          tenantId: message.value.tenantId,
          payload: message.value.payload,
          filename: message.value.filename,
          contentType: message.value.contentType,
          source: message.value.source ?? 'inbound-topic',
        });
        // Per report at debug only: a log line is a synchronous write, and the batch path logs one line per batch.
        const accepted = (result: AcceptedReport, tenantId: string) => {
          count('inbound-topic', result.duplicate);
          ctx.logger.debug({ reportId: result.reportId, tenantId, duplicate: result.duplicate }, 'report accepted');
        };
        await connected.consume<typeof INBOUND_TOPIC>({
          groupId: 'ingestion',
          topics: [INBOUND_TOPIC],
          partitionsConsumedConcurrently: config.PARTITIONS_CONCURRENTLY,
          // Batches by default (one statement and one publish per batch); what a batch leaves goes to `handler`.
          // The fast path: what it leaves (refused, unknown tenant) goes to `handler` below, which keeps
          // the refusal and dead-letters the message.
          ...consumerPacing<typeof INBOUND_TOPIC>(config, async (messages) => {
            const results = await ready.acceptMany(messages.map((m) => ({ ...incoming(m), trace: m.trace })));
            let duplicates = 0;
            results.forEach((result, i) => {
              if (!result) return;
              accepted(result, messages[i].value.tenantId);
              if (result.duplicate) duplicates++;
            });
            const left = messages.filter((_, i) => results[i] === null);
            ctx.logger.info({ messages: messages.length, accepted: messages.length - left.length, duplicates, left: left.length }, 'batch accepted');
            return left;
          }),
          handler: async (message) => {
            try {
              accepted(await ready.accept(incoming(message)), message.value.tenantId);
            } catch (err) {
              // Refused reports are kept with their reason; rethrown (not retriable) so the bus dead-letters the message too.
              if (err instanceof IntakeError) count('inbound-topic', false, err.code);
              throw err;
            }
          },
        });
      },
    };
  },
});
