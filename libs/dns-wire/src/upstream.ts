// The contract between the DNS cache and whatever answers its questions: a real resolver over UDP/TCP
// in production, the loopback test server in tests. The cache knows nothing else of the network.

/** Record types the platform asks for. */
export type RecordType = 'A' | 'AAAA' | 'TXT' | 'MX' | 'PTR' | 'CNAME' | 'SOA' | 'NS';

/** One answer record, its data normalised per type. */
export type DnsRecord =
  | { type: 'A' | 'AAAA'; name: string; ttl: number; address: string }
  /** TXT: the character-strings of one record, each decoded as UTF-8 (joined by the caller when it wants one string). */
  | { type: 'TXT'; name: string; ttl: number; strings: string[] }
  | { type: 'MX'; name: string; ttl: number; preference: number; exchange: string }
  | { type: 'PTR' | 'CNAME' | 'NS'; name: string; ttl: number; target: string }
  | { type: 'SOA'; name: string; ttl: number; mname: string; rname: string; serial: number; minimum: number };

/** What the upstream said. `NOERROR` with no answer of the asked type is NODATA. */
export type Rcode = 'NOERROR' | 'NXDOMAIN' | 'SERVFAIL' | 'REFUSED' | 'FORMERR' | 'NOTIMP';

export interface UpstreamAnswer {
  rcode: Rcode;
  /** The answer section as received: CNAMEs first, then the records of the asked type. */
  answers: DnsRecord[];
  /**
   * For NXDOMAIN / NODATA: the negative TTL from the authority section's SOA, min(SOA TTL, SOA minimum)
   * (RFC 2308 §5). Absent when the response carried no SOA.
   */
  negativeTtl?: number;
  /** Which server answered, `host:port`. */
  server: string;
  /** Round trip of the query that answered, in ms. */
  latencyMs: number;
}

export interface Upstream {
  /**
   * One question. Resolves with whatever rcode the server gave; rejects with UpstreamError when no server
   * answered in time (after retries) or the answer could not be read.
   */
  query(name: string, type: RecordType, signal?: AbortSignal): Promise<UpstreamAnswer>;
}
