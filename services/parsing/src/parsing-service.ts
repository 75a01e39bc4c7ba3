import { int } from '@dmarc/config';
import { type ReportReceivedV1, TOPICS } from '@dmarc/contracts';
import { consumerPacing, consumerPacingConfig, PlatformClients } from '@dmarc/platform-clients';
import { FORENSIC_TOPIC, PARSED_TOPIC, ParsingStage, TLS_TOPIC, type ParsingResult } from '@dmarc/report-parsing';
import { defineService } from '@dmarc/service-runtime';

const RECEIVED_TOPIC = TOPICS.received;

/** Parsing: received reports in, normalised aggregate chunks, failure and TLS reports out. Logic in @dmarc/report-parsing. */
export const parsingService = defineService({
  name: 'parsing',
  config: {
    CHUNK_RECORDS: int({ min: 1, max: 100_000, default: 4000, description: 'records per chunk on dmarc.reports.parsed (a chunk is also cut at 320,000 characters of strings, under the broker message limit)' }),
    MAX_DECOMPRESSED_BYTES: int({ min: 1024, default: 1024 * 1024 * 1024, description: 'decompression limit per report (bombs are refused past it)' }),
    PARTITIONS_CONCURRENTLY: int({ min: 1, max: 64, default: 3, description: 'partitions parsed in parallel' }),
    ...consumerPacingConfig('received reports', 'one statement per step, one publish per topic'),
  },
  create(config) {
    const clients = new PlatformClients(config, 'parsing');
    return {
      name: 'parsing',
      setup: (ctx) => clients.attach(ctx),
      async run(ctx) {
        const bus = await clients.connect(ctx, [RECEIVED_TOPIC, PARSED_TOPIC, FORENSIC_TOPIC, TLS_TOPIC]);
        const stage = new ParsingStage({
          store: clients.store,
          publisher: bus,
          chunkRecords: config.CHUNK_RECORDS,
          parse: { maxDecompressedBytes: config.MAX_DECOMPRESSED_BYTES },
        });
        const parsedRecords = ctx.telemetry.meter.createCounter('dmarc_parsed_records_total', { description: 'aggregate records parsed' });
        const parsedReports = ctx.telemetry.meter.createCounter('dmarc_parsed_reports_total', { description: 'reports parsed, by outcome' });
        // Per report at debug only: a log line is a synchronous write, and the batch path logs one line per batch.
        const parsed = (value: ReportReceivedV1, result: ParsingResult) => {
          parsedRecords.add(result.records);
          parsedReports.add(1, { outcome: result.duplicates > 0 ? 'duplicate' : 'parsed' });
          ctx.logger.debug({ reportId: value.reportId, tenantId: value.tenantId, ...result }, 'report parsed');
        };
        await bus.consume({
          groupId: 'parsing',
          topics: [RECEIVED_TOPIC],
          partitionsConsumedConcurrently: config.PARTITIONS_CONCURRENTLY,
          // Batches by default (one statement and one publish per batch); what a batch leaves goes to `handler`.
          // The fast path: what it leaves (bad, by reference, too big) goes to `handler` below, one by one.
          ...consumerPacing(config, async (messages) => {
            const values = messages.map((m) => m.value as ReportReceivedV1);
            const results = await stage.handleMany(values.map((received, i) => ({ received, trace: messages[i].trace })));
            const left = messages.filter((_, i) => results[i] === null);
            let records = 0;
            results.forEach((result, i) => {
              if (!result) return;
              parsed(values[i], result);
              records += result.records;
            });
            ctx.logger.info({ messages: messages.length, parsed: messages.length - left.length, left: left.length, records }, 'batch parsed');
            return left;
          }),
          handler: async (message) => {
            const value = message.value as ReportReceivedV1;
            try {
              parsed(value, await stage.handle(value));
            } catch (err) {
              parsedReports.add(1, { outcome: 'failed' });
              throw err;
            }
          },
        });
      },
    };
  },
});
