import type { Publisher } from '@dmarc/bus';
import type { ReportParsed } from '@dmarc/contracts';
import type { Queryable } from '@dmarc/store';
import { countChunk } from './chunk-counts';
import { applyChunk, type ChunkSource } from './chunk-writer';

export const PARSED_TOPIC = 'dmarc.reports.parsed';
export const AGGREGATES_UPDATED_TOPIC = 'dmarc.aggregates.updated';

/** What handling one chunk did. */
export interface ChunkOutcome {
  tenantId: string;
  reportId: string;
  chunkIndex: number;
  domain: string;
  day: string;
  /** False on a redelivery the ledger recognised: nothing was counted again. */
  applied: boolean;
  /** The report duplicates another one: bookkept, never counted. */
  duplicate: boolean;
  reportComplete: boolean;
  records: number;
  messages: number;
  counterRows: number;
}

export interface ReportAggregatorOptions {
  db: Queryable;
  /** Where dmarc.aggregates.updated goes. */
  publisher: Publisher;
  /**
   * Runs once the chunk's transaction has committed and before anything is published or the offset
   * committed: where tests inject a crash at the worst moment.
   */
  afterCommit?: (outcome: ChunkOutcome) => void | Promise<void>;
  now?: () => number;
}

/**
 * Turns parsed report chunks into counters, exactly once per chunk, and announces what changed.
 * Safe under redelivery at any point: the counting is guarded by the ledger in the same transaction,
 * and the announcement is repeated on a redelivery because the crash may have come before it.
 */
/** How often a report still arriving is announced on dmarc.aggregates.updated, in chunks. */
export const ANNOUNCE_EVERY_CHUNKS = 50;

export class ReportAggregator {
  private readonly now: () => number;

  constructor(private readonly options: ReportAggregatorOptions) {
    this.now = options.now ?? Date.now;
  }

  async handle(chunk: ReportParsed, source?: ChunkSource): Promise<ChunkOutcome> {
    const counts = countChunk(chunk);
    const result = await applyChunk(this.options.db, counts, source);
    const outcome: ChunkOutcome = {
      tenantId: counts.tenantId,
      reportId: counts.reportId,
      chunkIndex: counts.chunkIndex,
      domain: counts.domain,
      day: counts.day,
      applied: result.applied,
      duplicate: counts.duplicateOf !== null,
      reportComplete: result.reportComplete,
      records: counts.records,
      messages: counts.messages,
      counterRows: result.counterRows,
    };
    await this.options.afterCommit?.(outcome);
    // Announced whether or not this delivery applied it: after a crash between the commit and the
    // publish, the redelivery is the only chance left. Consumers treat it as a hint, so twice is fine.
    const changedCounters = counts.counters.length > 0 || (result.reportComplete && !outcome.duplicate);
    // A huge report is hundreds of chunks of one domain and day: announcing each would make every chunk wait
    // for a broker ack in turn. Its first chunk, every ANNOUNCE_EVERY_CHUNKS-th and its completion say the same.
    const worthAnnouncing = result.reportComplete || counts.chunkIndex % ANNOUNCE_EVERY_CHUNKS === 0;
    if (changedCounters && worthAnnouncing) {
      await this.options.publisher.publish(AGGREGATES_UPDATED_TOPIC, [
        {
          key: `${counts.tenantId}:${counts.domain}`,
          tenantId: counts.tenantId,
          value: {
            tenantId: counts.tenantId,
            domain: counts.domain,
            days: [counts.day],
            reportId: counts.reportId,
            chunkIndex: counts.chunkIndex,
            reportComplete: result.reportComplete,
            at: this.now(),
          },
        },
      ]);
    }
    return outcome;
  }
}
