// The one interface the autopilot writes DNS through (CONVENTIONS §2): RFC 2136 dynamic update today
// (BIND, Knot, PowerDNS), a hosted provider's API later, chosen per domain from its settings.

export interface DnsProvider {
  /** Where updates go, for logs, errors and alert evidence: `rfc2136 192.0.2.53:53 zone example.com`. */
  readonly description: string;
  /**
   * Replaces every TXT record at `name` with one record holding `text`, in one atomic change. Resolves when
   * the server has accepted it; throws DnsUpdateError (its `retriable` says whether to try again).
   */
  replaceTxt(name: string, text: string, ttl: number): Promise<void>;
  /**
   * The TXT records at `name` as the authoritative server holds them now, each record's strings joined;
   * [] when there are none. Never from a cache: this is what verification reads. Throws DnsUpdateError.
   */
  readTxt(name: string): Promise<string[]>;
}
