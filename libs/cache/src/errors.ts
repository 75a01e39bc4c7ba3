// Every error the cache throws, with a stable `code` and `retriable` (CONVENTIONS §4). Callers decide by those
// two fields alone, never by the message. Redis failures never reach callers: the cache degrades instead.

export type CacheErrorCode = 'CACHE_UNKNOWN_TYPE' | 'CACHE_INVALID_KEY' | 'CACHE_INVALID_OPTIONS' | 'CACHE_CLOSED';

export abstract class CacheError extends Error {
  abstract readonly code: CacheErrorCode;
  abstract readonly retriable: boolean;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A data type with no policy in the table: a programming error, so never retried. */
export class UnknownDataTypeError extends CacheError {
  readonly code = 'CACHE_UNKNOWN_TYPE';
  readonly retriable = false;

  constructor(readonly type: string, known: readonly string[]) {
    super(`unknown cache data type ${JSON.stringify(type).slice(0, 60)} (known: ${known.join(', ')})`);
  }
}

/** A scope or id the key format cannot hold unambiguously (empty tenant id, empty id list). */
export class InvalidKeyError extends CacheError {
  readonly code = 'CACHE_INVALID_KEY';
  readonly retriable = false;

  constructor(readonly reason: string) {
    super(`invalid cache key: ${reason}`);
  }
}

export class InvalidCacheOptionsError extends CacheError {
  readonly code = 'CACHE_INVALID_OPTIONS';
  readonly retriable = false;
}

export class CacheClosedError extends CacheError {
  readonly code = 'CACHE_CLOSED';
  readonly retriable = false;

  constructor() {
    super('the cache is closed');
  }
}
