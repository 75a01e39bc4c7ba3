import type { DnsRecord } from '@dmarc/dns-wire';
import type { CachedType } from './dns-name';
import type { DnsEntry } from './entry';

export type LookupSource = 'l1' | 'l2' | 'upstream';
export type LookupState = 'fresh' | 'stale' | 'negative';

/** What a lookup returns. */
export interface DnsLookup {
  /** The question, normalised (lower case, no root dot). */
  name: string;
  type: CachedType;
  /** NOERROR with answers, NXDOMAIN, or NOERROR without answers (NODATA). */
  rcode: DnsEntry['rcode'];
  /** The records of the asked type, after any CNAME chain; empty when negative. */
  answers: readonly DnsRecord[];
  /** Whole seconds of TTL left; 0 once past expiry (a stale answer). */
  ttl: number;
  /** The absolute end of the TTL (ms since the epoch), to measure how stale a stale answer is. */
  expiresAt: number;
  /** Where this caller's answer came from: this process's memory, the shared tier, or an upstream query. */
  source: LookupSource;
  /** `negative` for NXDOMAIN / NODATA (fresh or stale), `stale` for a positive answer past its TTL. */
  state: LookupState;
}
