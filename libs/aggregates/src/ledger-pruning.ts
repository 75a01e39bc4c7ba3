import type { Queryable } from '@dmarc/store';

export interface PruneLedgerOptions {
  /** Whose ledger rows (processed_messages.consumer). */
  consumer: string;
  /**
   * Rows processed before this are deleted. It must be older than anything Kafka could still deliver: the
   * source topic's retention, or a group reset to the earliest offset would count those chunks again.
   */
  olderThan: Date;
  /** Rows per statement, so one prune never holds many locks or a long transaction. Default 10,000. */
  batchSize?: number;
  /** Statements per call at most; the next call goes on. Default 100. */
  maxBatches?: number;
}

// Oldest first, in short statements; rows another transaction holds are skipped, not waited for.
const PRUNE_SQL = `
WITH doomed AS (
  SELECT consumer, message_id FROM processed_messages
   WHERE consumer = $1 AND processed_at < $2
   ORDER BY processed_at LIMIT $3
   FOR UPDATE SKIP LOCKED
), gone AS (
  DELETE FROM processed_messages p USING doomed d
   WHERE p.consumer = d.consumer AND p.message_id = d.message_id
  RETURNING 1
)
SELECT count(*)::integer AS n FROM gone`;

/**
 * Deletes ledger rows too old to matter: the exactly-once ledger only has to outlive every possible
 * redelivery, and without pruning it grows by a row per chunk for ever. Returns how many rows went.
 */
export async function pruneLedger(db: Queryable, options: PruneLedgerOptions): Promise<number> {
  const batchSize = options.batchSize ?? 10_000;
  const maxBatches = options.maxBatches ?? 100;
  let total = 0;
  for (let i = 0; i < maxBatches; i++) {
    const { rows } = await db.query<{ n: number }>(PRUNE_SQL, [options.consumer, options.olderThan, batchSize], { name: 'aggregation-prune-ledger' });
    total += rows[0].n;
    if (rows[0].n < batchSize) break;
  }
  return total;
}
