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
