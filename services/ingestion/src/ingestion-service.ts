import { createKafkaBus, type Bus } from '@dmarc/bus';
import { int } from '@dmarc/config';
import { loadContracts } from '@dmarc/contracts';
import { ReportIntake } from '@dmarc/intake';
import { defineService } from '@dmarc/service-runtime';
import { PgStore } from '@dmarc/store';

export const INBOUND_TOPIC = 'dmarc.reports.inbound';
export const RECEIVED_TOPIC = 'dmarc.reports.received';

/**
 * Ingestion: takes reports from upstream pipelines (the inbound topic), keeps their raw bytes,
 * deduplicates them and hands them to parsing. The logic is in @dmarc/intake; this is wiring.
 */
export const ingestionService = defineService({
  name: 'ingestion',
  config: {
    MAX_REPORT_BYTES: int({ min: 1, default: 64 * 1024 * 1024, description: 'largest report accepted, in bytes' }),
    INLINE_MAX_BYTES: int({ min: 0, default: 256 * 1024, description: 'reports up to this size travel inline on the topic' }),
  },
  create(config) {
    let bus: Bus | undefined;
    const store = new PgStore({ url: config.DATABASE_URL, applicationName: 'dmarc-ingestion' });
    return {
      name: 'ingestion',
      setup(ctx) {
        ctx.readiness.add('postgres', () => store.ping());
        ctx.readiness.add('kafka', () => {
          if (!bus) throw new Error('not connected yet');
        });
        // Reverse order on stop: the consumer finishes the report in hand before the store closes.
        ctx.onShutdown(() => store.close());
        ctx.onShutdown(() => bus?.close());
      },
      async run(ctx) {
        const contracts = loadContracts();
        const connected = await createKafkaBus({
          brokers: [...config.KAFKA_BROKERS],
          clientId: 'dmarc-ingestion',
          contracts,
          logger: ctx.logger,
          signal: ctx.signal,
        });
        bus = connected;
        await connected.ensureTopics([{ topic: INBOUND_TOPIC }, { topic: RECEIVED_TOPIC }]);
        const intake = new ReportIntake({
          store,
          publisher: connected,
          maxBytes: config.MAX_REPORT_BYTES,
          inlineMaxBytes: config.INLINE_MAX_BYTES,
        });
        const accepted = ctx.telemetry.meter.createCounter('dmarc_reports_accepted_total', { description: 'reports accepted by ingestion' });
        await connected.consume({
          groupId: 'ingestion',
          topics: [INBOUND_TOPIC],
          handler: async (message) => {
            const { value } = message;
            const result = await intake.accept({
              tenantId: value.tenantId,
              payload: value.payload,
              filename: value.filename,
              contentType: value.contentType,
              source: value.source ?? 'inbound-topic',
            });
            accepted.add(1, { duplicate: String(result.duplicate) });
            ctx.logger.info({ reportId: result.reportId, tenantId: value.tenantId, duplicate: result.duplicate }, 'report accepted');
          },
        });
      },
    };
  },
});
