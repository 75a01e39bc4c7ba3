export interface BackoffOptions {
  /** Delay before the second try. */
  initialMs: number;
  /** Upper bound of any delay. */
  maxMs: number;
  /** Growth per try. */
  factor: number;
}

/**
 * Delay before try `n + 1` after `n` failures (n ≥ 1): exponential, capped, with "equal jitter"
 * (half fixed, half random) so replicas that failed together do not retry together.
 */
export function backoffDelay(failures: number, options: BackoffOptions, random: () => number = Math.random): number {
  const exponential = Math.min(options.maxMs, options.initialMs * options.factor ** Math.max(0, failures - 1));
  return Math.round(exponential / 2 + (random() * exponential) / 2);
}

/** Waits `ms`; resolves `false` at once if `signal` aborts (the caller is shutting down), else `true`. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
