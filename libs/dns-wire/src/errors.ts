// Every error the DNS client throws, with a stable `code` and `retriable` (CONVENTIONS §4). Callers
// decide by `retriable` alone: a timeout or a broken answer may well succeed later, a bad name never will.

export type UpstreamErrorCode =
  /** No server answered within the timeout, over every attempt. */
  | 'DNS_TIMEOUT'
  /** A socket error: unreachable network, connection refused, reset. */
  | 'DNS_NETWORK'
  /** A server answered something that could not be read, or an rcode this client does not know. */
  | 'DNS_BAD_RESPONSE'
  /** The question itself is invalid (name too long, empty label...): never sent. */
  | 'DNS_BAD_QUERY'
  /** The caller's AbortSignal fired. */
  | 'DNS_ABORTED';

const RETRIABLE: Record<UpstreamErrorCode, boolean> = {
  DNS_TIMEOUT: true,
  DNS_NETWORK: true,
  DNS_BAD_RESPONSE: true,
  DNS_BAD_QUERY: false,
  DNS_ABORTED: false,
};

export class UpstreamError extends Error {
  readonly retriable: boolean;
  /** The server (`host:port`) of the last attempt, when there was one. */
  readonly server: string | undefined;

  constructor(
    readonly code: UpstreamErrorCode,
    message: string,
    options?: { cause?: unknown; server?: string },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'UpstreamError';
    this.retriable = RETRIABLE[code];
    this.server = options?.server;
  }
}

/** A `DNS_UPSTREAM`-style list that cannot be read; the message names the entry at fault. */
export class UpstreamConfigError extends Error {
  readonly code = 'DNS_BAD_UPSTREAM_CONFIG';
  readonly retriable = false;

  constructor(
    readonly entry: string,
    reason: string,
  ) {
    super(`DNS upstream "${entry}": ${reason}`);
    this.name = 'UpstreamConfigError';
  }
}

/** One line for a cause, never its stack. */
export function describeCause(cause: unknown): string {
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return code && !cause.message.includes(code) ? `${code} ${cause.message}` : cause.message;
  }
  return String(cause);
}
