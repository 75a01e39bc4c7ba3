import { RetryAbortedError, describeError } from './errors';

export interface BackoffOptions {
  /** What is being attempted, for the log line ("kafka", "postgres"). */
  what: string;
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Give up after this many attempts (the last error is thrown); unbounded when absent. */
  maxAttempts?: number;
  /** Stops retrying when aborted (SIGTERM during start-up). */
  signal?: AbortSignal;
  log?: { warn(obj: object, msg: string): void };
  /** Injected for tests; real timers otherwise. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export function backoffDelay(attempt: number, initialDelayMs: number, maxDelayMs: number): number {
  // Full jitter keeps replicas that lost the same broker from reconnecting in lock-step.
  const ceiling = Math.min(maxDelayMs, initialDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new RetryAbortedError('sleep'));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new RetryAbortedError('sleep'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs `fn` until it succeeds, waiting with exponential backoff between attempts and logging one
 * line per failed attempt (no stack trace): a service started before Kafka is reachable says so
 * plainly and keeps trying.
 */
export async function retryWithBackoff<T>(fn: (attempt: number) => Promise<T>, options: BackoffOptions): Promise<T> {
  const initial = options.initialDelayMs ?? 250;
  const max = options.maxDelayMs ?? 10_000;
  const wait = options.sleep ?? sleep;
  for (let attempt = 1; ; attempt++) {
    if (options.signal?.aborted) throw new RetryAbortedError(options.what);
    try {
      return await fn(attempt);
    } catch (err) {
      if (options.maxAttempts !== undefined && attempt >= options.maxAttempts) throw err;
      const delay = backoffDelay(attempt, initial, max);
      options.log?.warn(
        { what: options.what, attempt, retryInMs: delay, reason: describeError(err) },
        `${options.what} unavailable (attempt ${attempt}): ${describeError(err)}; retrying in ${delay} ms`,
      );
      await wait(delay, options.signal);
    }
  }
}
