// One cached question. The entry's life is a small state machine:
//   not resolved (no entry) → in progress (a flight, see coalescing-resolver.ts) → resolved | failed.
// A resolved entry answers positively or negatively (NXDOMAIN / NODATA); a failed one remembers, briefly,
// that the upstream failed and nothing stale was left. Every instant is absolute (ms since the epoch), so a
// copy read back from Redis counts down from the same point as the one that was written.
import type { DnsRecord, Rcode } from '@dmarc/dns-wire';

export type EntryKind = 'positive' | 'negative' | 'failed';

export interface DnsEntry {
  readonly kind: EntryKind;
  /** The upstream's rcode; for `failed`, the reason (`SERVFAIL`, `TIMEOUT`, ...). */
  readonly rcode: Rcode | 'TIMEOUT' | 'ERROR';
  /** The records of the asked type (after CNAME chasing); empty unless `positive`. */
  readonly answers: readonly DnsRecord[];
  /** When the answer arrived: the start of its TTL. */
  readonly resolvedAt: number;
  /** From here on a hit marks the name wanted (80 % of the TTL by default). */
  readonly prefetchAt: number;
  /** The end of the clamped TTL. */
  readonly expiresAt: number;
  /** Past expiry, served stale (while one refresh runs) until here; moved on by failure extensions. */
  readonly staleUntil: number;
  /** No extension goes past this: expiry plus the total stale budget (RFC 8767's max stale). */
  readonly staleLimit: number;
  /** No refresh is tried before this: set after a failed refresh so a dead upstream is not hammered. */
  readonly retryAt: number;
  /** When the current outage of this name was first seen; absent while the upstream answers. */
  readonly outageSince?: number;
  /** When this version was written: of two copies, the later one wins. */
  readonly writtenAt: number;
}

/** True when `candidate` is a later version than `known` (or there is no known one). */
export function isNewer(candidate: DnsEntry, known: DnsEntry | undefined): boolean {
  return known === undefined || candidate.writtenAt > known.writtenAt;
}

/** The TTL left, in whole seconds, 0 once expired. */
export function remainingTtl(entry: DnsEntry, now: number): number {
  return entry.expiresAt > now ? Math.ceil((entry.expiresAt - now) / 1000) : 0;
}

const VERSION = 1;

/** The form stored in L2 and carried on the landing channel. */
export function encodeEntry(entry: DnsEntry): string {
  return JSON.stringify({ v: VERSION, ...entry });
}

/** Undefined for anything that is not an entry of this version: a bad copy counts as a miss. */
export function decodeEntry(text: string | null | undefined): DnsEntry | undefined {
  if (!text) return undefined;
  try {
    const raw = JSON.parse(text) as Partial<DnsEntry> & { v?: number };
    if (raw.v !== VERSION || typeof raw.expiresAt !== 'number' || typeof raw.writtenAt !== 'number' || !Array.isArray(raw.answers)) return undefined;
    const { v: _v, ...entry } = raw;
    return entry as DnsEntry;
  } catch {
    return undefined;
  }
}
