import { StoreError } from './errors';
import type { TransactionOptions } from './store';

const BEGIN: Readonly<Record<string, string>> = {
  'read committed': 'BEGIN ISOLATION LEVEL READ COMMITTED',
  'repeatable read': 'BEGIN ISOLATION LEVEL REPEATABLE READ',
  serializable: 'BEGIN ISOLATION LEVEL SERIALIZABLE',
};

export function beginStatement(options?: TransactionOptions): string {
  return options?.isolation ? (BEGIN[options.isolation] ?? 'BEGIN') : 'BEGIN';
}

/**
 * Runs one attempt per call of `attempt`, again after a transaction conflict while retries remain. The
 * short randomised pause keeps two conflicting transactions from colliding again in lockstep.
 */
export async function withConflictRetry<T>(attempt: () => Promise<T>, options?: TransactionOptions): Promise<T> {
  const retries = Math.max(0, options?.retries ?? 0);
  for (let n = 0; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      if (n >= retries || !(err instanceof StoreError) || err.code !== 'STORE_TRANSACTION_CONFLICT') throw err;
      await new Promise((resolve) => setTimeout(resolve, (5 + Math.random() * 20) * (n + 1)));
    }
  }
}
