import type { MessageTrace, OutgoingMessage, Publisher } from '@dmarc/bus';
import { type AggregatesUpdatedInput, type ReportParsed, TOPICS } from '@dmarc/contracts';
import type { Queryable, Store } from '@dmarc/store';
import { countChunk, type ChunkCounts } from './chunk-counts';
import { applyChunks, applyChunksMergedIfNew, type ApplyResult, type ChunkSource } from './chunk-writer';
import { WriteBehindBuffer, type WriteBehindOptions } from './write-behind-buffer';

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

/** A chunk a flush applied (never a redelivered one), as counted, and the trace of the message that carried it. */
export interface AppliedChunk {
  counts: ChunkCounts;
  trace?: MessageTrace;
}

/**
 * Work that commits with the counters or not at all: it runs in the flush's transaction after the counters are
 * written (its reads see them) on the chunks the flush applied, so the aggregation ledger is its exactly-once ledger
 * too. What it returns runs once the transaction committed (before the offsets are). Throwing rolls the flush back.
 */
export type WithinFlush = (tx: Queryable, applied: readonly AppliedChunk[]) => Promise<(() => void | Promise<void>) | void>;

export interface ReportAggregatorOptions {
  /** A Store (with transactions) when `withinFlush` is given. */
  db: Queryable | Store;
  /** Where dmarc.aggregates.updated goes. */
  publisher: Publisher;
  /**
   * Runs once the chunk's transaction has committed and before anything is published or the offset
   * committed: where tests inject a crash at the worst moment.
   */
  afterCommit?: (outcome: ChunkOutcome) => void | Promise<void>;
  /** Runs when a write-behind flush starts, before its transaction: where tests inject a crash with chunks only buffered. */
  beforeFlush?: (chunks: readonly ChunkCounts[]) => void | Promise<void>;
  /**
   * Counters are buffered across calls and written in batches (summed per counter key, one transaction with
   * the ledger rows of every chunk in it), each call resolving once its flush committed. Default: on, with
   * WriteBehindBuffer's defaults; false writes each call in its own statement.
   */
  writeBehind?: WriteBehindOptions | false;
  /** Work in each flush's transaction (the threat rules); without it a flush is one statement. */
  withinFlush?: WithinFlush;
  now?: () => number;
}

/** A chunk to aggregate, where it was read from, and the trace its announcement continues. */
export interface ChunkDelivery {
  chunk: ReportParsed;
  source?: ChunkSource;
  trace?: MessageTrace;
}

interface Flushed {
  results: ApplyResult[];
  committed?: (() => void | Promise<void>) | void;
}

interface Counted {
  counts: ChunkCounts;
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
  private readonly buffer: WriteBehindBuffer<Counted, ChunkOutcome> | undefined;

  constructor(private readonly options: ReportAggregatorOptions) {
    this.now = options.now ?? Date.now;
    if (options.withinFlush && !('transaction' in options.db)) throw new TypeError('ReportAggregator: withinFlush needs a Store with transactions as db');
    if (options.writeBehind !== false) {
      this.buffer = new WriteBehindBuffer<Counted, ChunkOutcome>(
        {
          flush: async (items) => {
            await this.options.beforeFlush?.(items.map((i) => i.counts));
            return this.write(items, true);
          },
          rowsOf: (item) => item.counts.counters.length,
          now: this.now,
        },
        options.writeBehind,
      );
    }
  }

  async handle(chunk: ReportParsed, source?: ChunkSource): Promise<ChunkOutcome> {
    return (await this.handleMany([{ chunk, source }]))[0];
  }

  /**
   * Several chunks in one transaction and one publish: the same outcomes as handling them one by one in
   * order, and one announcement per tenant and domain with every day that changed. With write-behind, the
   * transaction and the publish are shared with other calls' chunks, and this resolves after both. A chunk
   * that breaks the contract throws before anything is buffered or written, so the caller can hand them to
   * `handle` one by one.
   */
  async handleMany(deliveries: ReadonlyArray<ChunkDelivery>): Promise<ChunkOutcome[]> {
    const counted = deliveries.map(({ chunk, source, trace }) => ({ counts: countChunk(chunk), source, trace }));
    return this.buffer ? this.buffer.add(counted) : this.write(counted, false);
  }

  /** Writes what is buffered and waits for it: before the consumer's last offset commit on shutdown. */
  async drain(): Promise<void> {
    await this.buffer?.drain();
  }

  // `merge`: the counters summed per key across the chunks first (a write-behind flush of many small reports).
  private async write(counted: readonly Counted[], merge: boolean): Promise<ChunkOutcome[]> {
    let flushed: Flushed;
    try {
      flushed = await this.flush(counted, merge);
    } catch (err) {
      // The merged statement fails when a concurrent delivery took one of its chunks (inside a transaction, that aborts
      // it): the exact path runs the flush again, and fails again with the real cause if that was not it.
      if (!merge) throw err;
      flushed = await this.flush(counted, false);
    }
    const { results } = flushed;
    await flushed.committed?.();
    const outcomes = counted.map(({ counts }, i) => outcomeOf(counts, results[i]));
    for (const outcome of outcomes) await this.options.afterCommit?.(outcome);
    await this.announce(counted.map(({ counts, trace }, i) => ({ counts, outcome: outcomes[i], trace })));
    return outcomes;
  }

  // One attempt: the counters statement (merged when asked, exact when the ledger already holds a chunk of them), and
  // with `withinFlush` its work, in one transaction.
  private flush(counted: readonly Counted[], merge: boolean): Promise<Flushed> {
    const { withinFlush } = this.options;
    const apply = async (db: Queryable) => (merge ? await applyChunksMergedIfNew(db, counted) : undefined) ?? (await applyChunks(db, counted));
    if (!withinFlush) return apply(this.options.db).then((results) => ({ results }));
    return (this.options.db as Store).transaction(async (tx) => {
      const results = await apply(tx);
      const applied = counted.filter((_, i) => results[i].applied).map(({ counts, trace }): AppliedChunk => ({ counts, trace }));
      return { results, committed: applied.length > 0 ? await withinFlush(tx, applied) : undefined };
    });
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
