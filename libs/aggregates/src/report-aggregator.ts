import type { MessageTrace, OutgoingMessage, Publisher } from '@dmarc/bus';
import { type AggregatesUpdatedInput, type ReportParsed, TOPICS } from '@dmarc/contracts';
import type { Queryable } from '@dmarc/store';
import { countChunk, type ChunkCounts } from './chunk-counts';
import { applyChunks, type ApplyResult, type ChunkSource } from './chunk-writer';

export const PARSED_TOPIC = TOPICS.parsed;
export const AGGREGATES_UPDATED_TOPIC = TOPICS.aggregatesUpdated;

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

/** A chunk to aggregate, where it was read from, and the trace its announcement continues. */
export interface ChunkDelivery {
  chunk: ReportParsed;
  source?: ChunkSource;
  trace?: MessageTrace;
}

/** How often a report still arriving is announced on dmarc.aggregates.updated, in chunks. */
export const ANNOUNCE_EVERY_CHUNKS = 50;

/**
 * Turns parsed report chunks into counters, exactly once per chunk, and announces what changed.
 * Safe under redelivery at any point: the counting is guarded by the ledger in the same transaction,
 * and the announcement is repeated on a redelivery because the crash may have come before it.
 */
export class ReportAggregator {
  private readonly now: () => number;

  constructor(private readonly options: ReportAggregatorOptions) {
    this.now = options.now ?? Date.now;
  }

  async handle(chunk: ReportParsed, source?: ChunkSource): Promise<ChunkOutcome> {
    return (await this.handleMany([{ chunk, source }]))[0];
  }

  /**
   * Several chunks in one transaction and one publish: the same outcomes as handling them one by one in
   * order, and one announcement per tenant and domain with every day that changed. A chunk that breaks
   * the contract throws before anything is written, so the caller can hand them to `handle` one by one.
   */
  async handleMany(deliveries: ReadonlyArray<ChunkDelivery>): Promise<ChunkOutcome[]> {
    const counted = deliveries.map(({ chunk, source }) => ({ counts: countChunk(chunk), source }));
    const results = await applyChunks(this.options.db, counted);
    const outcomes = counted.map(({ counts }, i) => outcomeOf(counts, results[i]));
    for (const outcome of outcomes) await this.options.afterCommit?.(outcome);
    await this.announce(counted.map(({ counts }, i) => ({ counts, outcome: outcomes[i], trace: deliveries[i].trace })));
    return outcomes;
  }

  // Announced whether or not this delivery applied it: after a crash between the commit and the publish,
  // the redelivery is the only chance left. Consumers treat it as a hint, so twice is fine.
  private async announce(handled: ReadonlyArray<{ counts: ChunkCounts; outcome: ChunkOutcome; trace?: MessageTrace }>): Promise<void> {
    const byDomain = new Map<string, { days: Set<string>; by: (typeof handled)[number] }>();
    for (const h of handled) {
      const changedCounters = h.counts.counters.length > 0 || (h.outcome.reportComplete && !h.outcome.duplicate);
      // A huge report is hundreds of chunks of one domain and day: announcing each would make every chunk wait
      // for a broker ack in turn. Its first chunk, every ANNOUNCE_EVERY_CHUNKS-th and its completion say the same.
      const worthAnnouncing = h.outcome.reportComplete || h.counts.chunkIndex % ANNOUNCE_EVERY_CHUNKS === 0;
      if (!changedCounters || !worthAnnouncing) continue;
      const key = `${h.counts.tenantId}:${h.counts.domain}`;
      const seen = byDomain.get(key);
      if (!seen) {
        byDomain.set(key, { days: new Set([h.counts.day]), by: h });
        continue;
      }
      seen.days.add(h.counts.day);
      // One message names one chunk: a completed report's rather than one still arriving.
      if (h.outcome.reportComplete || !seen.by.outcome.reportComplete) seen.by = h;
    }
    if (byDomain.size === 0) return;
    const at = this.now();
    const messages: Array<OutgoingMessage<AggregatesUpdatedInput>> = [...byDomain].map(([key, { days, by }]) => ({
      key,
      tenantId: by.counts.tenantId,
      ...(by.trace ? { trace: by.trace } : {}),
      value: {
        tenantId: by.counts.tenantId,
        domain: by.counts.domain,
        days: [...days].sort(),
        reportId: by.counts.reportId,
        chunkIndex: by.counts.chunkIndex,
        reportComplete: by.outcome.reportComplete,
        at,
      },
    }));
    await this.options.publisher.publish(AGGREGATES_UPDATED_TOPIC, messages);
  }
}

function outcomeOf(counts: ChunkCounts, result: ApplyResult): ChunkOutcome {
  return {
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
}
