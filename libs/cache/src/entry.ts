// What L2 holds for one key: the value and the instant it expires, as JSON. The expiry travels with the value,
// so L1 copies made in any process expire at the same instant as the L2 entry, not a TTL later.

export interface CacheEntry<T = unknown> {
  readonly value: T;
  /** Milliseconds since the epoch. */
  readonly expiresAt: number;
  /**
   * When the writer stored it (ms since the epoch; 0 for an entry written without it). A group marked stale
   * (TieredCache.refreshGroup) at a later instant makes the entry served-but-refreshed.
   */
  readonly storedAt?: number;
}

/** Freshness is a pure function of the entry and the clock (CONVENTIONS §3b). */
export const isFresh = (expiresAt: number, now: number): boolean => now < expiresAt;

export function encodeEntry(value: unknown, expiresAt: number, storedAt?: number): string {
  return JSON.stringify(storedAt === undefined ? { v: value, e: expiresAt } : { v: value, e: expiresAt, s: storedAt });
}

/** The entry, or undefined for nothing / a malformed value (another writer's, an old format): a miss. */
export function decodeEntry(raw: string | null | undefined): CacheEntry | undefined {
  if (raw === null || raw === undefined) return undefined;
  try {
    const parsed = JSON.parse(raw) as { v?: unknown; e?: unknown; s?: unknown };
    if (typeof parsed !== 'object' || parsed === null || typeof parsed.e !== 'number' || !('v' in parsed)) return undefined;
    return { value: parsed.v, expiresAt: parsed.e, storedAt: typeof parsed.s === 'number' ? parsed.s : 0 };
  } catch {
    return undefined;
  }
}

/**
 * Bytes an entry costs in L1, estimated from its JSON form (UTF-16: two bytes a character) plus the key and a
 * fixed overhead for the slot and map entry. An estimate, but the same for every tenant, so quotas are fair.
 */
export const SLOT_OVERHEAD_BYTES = 160;
export const entryBytes = (key: string, json: string): number => 2 * (key.length + json.length) + SLOT_OVERHEAD_BYTES;
