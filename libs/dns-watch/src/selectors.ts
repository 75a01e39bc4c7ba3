import type { Queryable } from '@dmarc/store';
import { isDnsName, normaliseSelector } from './dns-names';
import { DnsWatchError } from './errors';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// last_seen_at is moved on at most once an hour: every chunk of every report names its selectors, and
// rewriting the same row for each would only make dead tuples. A late report never moves it back.
const RECORD_SQL = `
INSERT INTO dkim_selectors AS k (tenant_id, domain, selector, first_seen_at, last_seen_at)
SELECT $1::uuid, $2::text, s, to_timestamp($4::double precision / 1000), to_timestamp($4::double precision / 1000)
  FROM unnest($3::text[]) AS s
 ORDER BY s
ON CONFLICT (tenant_id, domain, selector) DO UPDATE SET last_seen_at = excluded.last_seen_at
 WHERE k.last_seen_at < excluded.last_seen_at - interval '1 hour'`;

/**
 * Records the DKIM selectors a tenant's report showed for a signing domain, so the watcher follows
 * `<selector>._domainkey.<domain>`: one upsert statement. Selectors are lower-cased; those that are not DNS
 * names (reports are outside input) are left out. Resolves with the selectors recorded.
 * @throws DnsWatchError DNS_WATCH_INVALID_INPUT for a tenant id that is no UUID or a domain that is no DNS name.
 */
export async function recordSelectors(db: Queryable, tenantId: string, domain: string, selectors: readonly string[], seenAt: number = Date.now()): Promise<string[]> {
  if (!UUID.test(tenantId)) throw new DnsWatchError('DNS_WATCH_INVALID_INPUT', 'tenantId is not a UUID', 'tenantId');
  const name = domain.trim().toLowerCase().replace(/\.$/, '');
  if (!isDnsName(name)) throw new DnsWatchError('DNS_WATCH_INVALID_INPUT', 'domain is not a DNS name', 'domain');
  const valid = new Set<string>();
  for (const selector of selectors) {
    const s = normaliseSelector(selector);
    if (s !== null && isDnsName(`${s}._domainkey.${name}`)) valid.add(s);
  }
  const recorded = [...valid].sort();
  if (recorded.length > 0) await db.query(RECORD_SQL, [tenantId, name, recorded, seenAt]);
  return recorded;
}

/** How long a recorded selector is not written again: the statement's own rule for moving last_seen_at. */
const REWRITE_AFTER_MS = 3_600_000;

export interface SelectorRecorderOptions {
  /** Tenant/domain/selector triples remembered; past it the least recently recorded tenth is forgotten (and at worst written again). Default 100,000. */
  readonly maxEntries?: number;
  readonly now?: () => number;
}

/**
 * recordSelectors for a stream of reports: what this process recorded for a tenant and domain within the last
 * hour is not sent again (the statement would leave the row as it is anyway), so reports naming the same
 * selectors cost one statement per domain and hour instead of one per chunk. A statement that fails forgets
 * what it tried, so the next report showing those selectors tries again.
 */
export class SelectorRecorder {
  private readonly recorded = new Map<string, number>();
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(
    private readonly db: Queryable,
    options: SelectorRecorderOptions = {},
  ) {
    this.maxEntries = options.maxEntries ?? 100_000;
    if (!Number.isInteger(this.maxEntries) || this.maxEntries < 1) throw new RangeError(`maxEntries must be an integer >= 1, got ${this.maxEntries}`);
    this.now = options.now ?? Date.now;
  }

  /** As recordSelectors; resolves with the selectors written now (none when all were recorded within the hour). */
  async record(tenantId: string, domain: string, selectors: readonly string[]): Promise<string[]> {
    const now = this.now();
    const keys = new Map<string, string>();
    for (const selector of selectors) {
      const key = `${tenantId}\n${domain}\n${selector}`;
      const at = this.recorded.get(key);
      if (at === undefined || at <= now - REWRITE_AFTER_MS) keys.set(key, selector);
    }
    if (keys.size === 0) return [];
    for (const key of keys.keys()) this.remember(key, now);
    try {
      return await recordSelectors(this.db, tenantId, domain, [...keys.values()], now);
    } catch (error) {
      for (const key of keys.keys()) this.recorded.delete(key);
      throw error;
    }
  }

  /** Triples remembered, for tests and metrics. */
  get size(): number {
    return this.recorded.size;
  }

  private remember(key: string, at: number): void {
    this.recorded.delete(key);
    this.recorded.set(key, at);
    if (this.recorded.size <= this.maxEntries) return;
    // The oldest tenth at once, through one iterator: a Map iterator walks the deleted entries V8 keeps at the
    // front of the table, so one eviction per insertion would walk them again every time.
    let drop = Math.max(1, Math.floor(this.maxEntries / 10));
    for (const oldest of this.recorded.keys()) {
      this.recorded.delete(oldest);
      if (--drop === 0) break;
    }
  }
}
