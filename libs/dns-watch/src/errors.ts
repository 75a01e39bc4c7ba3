export type DnsWatchErrorCode =
  /** An option out of range (interval, concurrency, jitter): a wiring mistake, found at construction. */
  | 'DNS_WATCH_INVALID_OPTIONS'
  /** A tenant id that is not a UUID, or a domain that is not a DNS name, given to recordSelectors. */
  | 'DNS_WATCH_INVALID_INPUT';

/** Errors of the DNS watcher, with a stable code; none is retriable: the same call fails the same way. */
export class DnsWatchError extends Error {
  readonly retriable = false;

  constructor(
    readonly code: DnsWatchErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'DnsWatchError';
  }
}
