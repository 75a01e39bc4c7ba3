// Every error of a DNS update, with a stable `code` and `retriable` (CONVENTIONS §4). The autopilot worker
// decides by `retriable` alone: a timeout, a dropped connection or SERVFAIL may well pass, a server that
// refuses the key or the zone will refuse it again until a person changes something.

export type DnsUpdateErrorCode =
  /** No answer within the timeout. */
  | 'DNS_UPDATE_TIMEOUT'
  /** Connection refused, reset or closed: the server is down or unreachable. */
  | 'DNS_UPDATE_NETWORK'
  /** SERVFAIL: the server could not apply the update now. */
  | 'DNS_UPDATE_SERVER_FAILURE'
  /** An answer that cannot be read, or whose TSIG signature is missing or wrong: not trusted, tried again. */
  | 'DNS_UPDATE_BAD_RESPONSE'
  /** The update was accepted but reading the record back did not show it. */
  | 'DNS_UPDATE_NOT_VERIFIED'
  /** REFUSED: the server does not allow this key (or anyone) to update the zone. */
  | 'DNS_UPDATE_REFUSED'
  /** NOTAUTH, or a TSIG error (BADSIG, BADKEY, BADTIME): the key, its secret or the clock is wrong, or the server is not authoritative. */
  | 'DNS_UPDATE_NOT_AUTHORIZED'
  /** Any other RCODE (FORMERR, NOTIMP, NOTZONE, YXDOMAIN...): the server will answer the same again. */
  | 'DNS_UPDATE_REJECTED'
  /** The autopilot settings cannot be used (a server address the platform may not reach, a bad secret). */
  | 'DNS_UPDATE_INVALID_SETTINGS';

const RETRIABLE: Record<DnsUpdateErrorCode, boolean> = {
  DNS_UPDATE_TIMEOUT: true,
  DNS_UPDATE_NETWORK: true,
  DNS_UPDATE_SERVER_FAILURE: true,
  DNS_UPDATE_BAD_RESPONSE: true,
  DNS_UPDATE_NOT_VERIFIED: true,
  DNS_UPDATE_REFUSED: false,
  DNS_UPDATE_NOT_AUTHORIZED: false,
  DNS_UPDATE_REJECTED: false,
  DNS_UPDATE_INVALID_SETTINGS: false,
};

export class DnsUpdateError extends Error {
  readonly retriable: boolean;
  /** The RCODE (or TSIG error) name the server answered, when it answered one. */
  readonly rcode: string | undefined;
  /** `host:port` of the server, when the error came from one. */
  readonly server: string | undefined;

  constructor(
    readonly code: DnsUpdateErrorCode,
    message: string,
    options: { cause?: unknown; rcode?: string; server?: string } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DnsUpdateError';
    this.retriable = RETRIABLE[code];
    this.rcode = options.rcode;
    this.server = options.server;
  }
}
