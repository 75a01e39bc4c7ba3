// Every error the DNS cache throws, with a stable `code` and `retriable` (CONVENTIONS §4).
// Callers decide by those two fields alone, never by the message.

export type DnsCacheErrorCode = 'DNS_INVALID_NAME' | 'DNS_UNSUPPORTED_TYPE' | 'DNS_UPSTREAM_FAILED' | 'DNS_INVALID_OPTIONS';

export abstract class DnsCacheError extends Error {
  abstract readonly code: DnsCacheErrorCode;
  abstract readonly retriable: boolean;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Not a valid DNS name (empty, over 253 characters, a label over 63, a character outside the hostname set). */
export class InvalidNameError extends DnsCacheError {
  readonly code = 'DNS_INVALID_NAME';
  readonly retriable = false;

  constructor(
    readonly input: string,
    readonly reason: string,
  ) {
    super(`invalid DNS name: ${reason}`);
  }
}

/** A record type the cache does not serve. */
export class UnsupportedTypeError extends DnsCacheError {
  readonly code = 'DNS_UNSUPPORTED_TYPE';
  readonly retriable = false;

  constructor(readonly input: string) {
    super(`unsupported record type: ${JSON.stringify(input).slice(0, 40)}`);
  }
}

/**
 * The upstream failed (timeout, SERVFAIL, REFUSED, ...) and nothing stale was left to serve. `cached` is true
 * when this failure was remembered from an earlier query: the upstream was not asked again.
 */
export class UpstreamFailedError extends DnsCacheError {
  readonly code = 'DNS_UPSTREAM_FAILED';
  readonly retriable = true;

  constructor(
    readonly qname: string,
    readonly qtype: string,
    readonly reason: string,
    readonly cached: boolean,
    readonly retryAfterMs: number,
  ) {
    super(`upstream failed for ${qtype} ${qname}: ${reason}`);
  }
}

export class InvalidOptionsError extends DnsCacheError {
  readonly code = 'DNS_INVALID_OPTIONS';
  readonly retriable = false;
}
