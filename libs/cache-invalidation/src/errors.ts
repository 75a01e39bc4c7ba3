export type CacheInvalidationErrorCode =
  /** Redis did not take the drops: the change is applied again later (the message stays uncommitted). */
  'CACHE_INVALIDATION_L2_UNAVAILABLE';

/**
 * Errors of applying a change to the caches, with a stable code and whether trying again can help. This one can:
 * every drop is idempotent, so the consumer leaves the message uncommitted, backs off and applies it again.
 */
export class CacheInvalidationError extends Error {
  readonly retriable = true;

  constructor(
    readonly code: CacheInvalidationErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CacheInvalidationError';
  }
}
