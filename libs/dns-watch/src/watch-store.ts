import type { Queryable } from '@dmarc/store';
import type { DnsChangeKind, Observation, WatchState } from './change-decision';
import type { DnsChangeMessage } from './change-message';
import type { WatchedRecordType } from './record-value';

/** A tenant's domain the watcher follows. */
export interface MonitoredDomain {
  tenantId: string;
  domain: string;
}

/** One record of one tenant's domain to look at, with its stored state (undefined: never looked at). */
export interface WatchTarget extends MonitoredDomain {
  recordType: WatchedRecordType;
  /** The name queried. */
  name: string;
  selector: string | null;
  state: WatchState | undefined;
}

/** A change as stored in dns_changes, until it is published. */
export interface StoredChange extends DnsChangeMessage {
  id: string;
}

// The domains a tenant configured, and those its reports were about. aggregate_reports has a row per report,
// so its distinct (tenant, domain) pairs are read by skipping along its (tenant_id, domain, day) index, one
// probe per pair, instead of reading every report each round.
const MONITORED = `
reported AS (
  (SELECT tenant_id, domain FROM aggregate_reports ORDER BY tenant_id, domain LIMIT 1)
  UNION ALL
  SELECT n.tenant_id, n.domain FROM reported r
   CROSS JOIN LATERAL (
     SELECT a.tenant_id, a.domain FROM aggregate_reports a
      WHERE (a.tenant_id, a.domain) > (r.tenant_id, r.domain)
      ORDER BY a.tenant_id, a.domain LIMIT 1) n
),
monitored AS (
  SELECT tenant_id, name AS domain FROM domains
  UNION
  SELECT tenant_id, domain FROM reported
)`;

/** Every monitored domain of every tenant: the `domains` table and the domains of its aggregate reports. */
export async function monitoredDomains(db: Queryable): Promise<MonitoredDomain[]> {
  const { rows } = await db.query<{ tenant_id: string; domain: string }>(`WITH RECURSIVE ${MONITORED} SELECT tenant_id, domain FROM monitored ORDER BY tenant_id, domain`);
  return rows.map((r) => ({ tenantId: r.tenant_id, domain: r.domain }));
}

interface TargetRow {
  tenant_id: string;
  domain: string;
  record_type: WatchedRecordType;
  name: string;
  selector: string | null;
  value: string | null;
  checked_at: Date | null;
  changed_at: Date | null;
  next_check_at: Date | null;
  failing_since: Date | null;
  revision: string | null;
}

const DUE_SQL = `
WITH RECURSIVE ${MONITORED},
targets AS (
  SELECT tenant_id, domain, 'DMARC'::text AS record_type, '_dmarc.' || domain AS name, NULL::text AS selector FROM monitored
  UNION ALL
  SELECT tenant_id, domain, 'SPF', domain, NULL FROM monitored
  UNION ALL
  SELECT m.tenant_id, m.domain, 'DKIM', k.selector || '._domainkey.' || m.domain, k.selector
    FROM monitored m JOIN dkim_selectors k ON k.tenant_id = m.tenant_id AND k.domain = m.domain
   WHERE k.last_seen_at >= to_timestamp($2::double precision / 1000)
)
SELECT t.tenant_id, t.domain, t.record_type, t.name, t.selector, s.value, s.checked_at, s.changed_at,
       s.next_check_at, s.failing_since, s.revision
  FROM targets t
  LEFT JOIN dns_watch_state s
    ON s.tenant_id = t.tenant_id AND s.domain = t.domain AND s.record_type = t.record_type AND s.name = t.name
 WHERE s.next_check_at IS NULL OR s.next_check_at <= to_timestamp($1::double precision / 1000)
 ORDER BY t.name, t.tenant_id, t.record_type`;

const ms = (d: Date | null): number | null => (d === null ? null : d.getTime());

/**
 * The records due at `now`: of every monitored domain, its DMARC and SPF records and the DKIM records of the
 * selectors seen since `selectorsSince`, that were never looked at or whose next check has come.
 */
export async function dueTargets(db: Queryable, now: number, selectorsSince: number): Promise<WatchTarget[]> {
  const { rows } = await db.query<TargetRow>(DUE_SQL, [now, selectorsSince]);
  return rows.map((r) => ({
    tenantId: r.tenant_id,
    domain: r.domain,
    recordType: r.record_type,
    name: r.name,
    selector: r.selector,
    state:
      r.revision === null
        ? undefined
        : {
            value: r.value,
            checkedAt: ms(r.checked_at),
            changedAt: ms(r.changed_at),
            nextCheckAt: ms(r.next_check_at) as number,
            failingSince: ms(r.failing_since),
            revision: Number(r.revision),
          },
  }));
}

const CHANGE_COLUMNS = 'id, tenant_id, domain, record_type, name, selector, change, previous, current, detected_at';

// One statement per name: every tenant's state row of the name and the changes found, so a change is
// stored exactly when its state is (the outbox rows are published afterwards). Each row is written only if
// it still has the revision the watcher read; rows another watcher wrote meanwhile are left, with their
// changes (that watcher records them). Rows in key order, so concurrent writers lock them in one order.
const WRITE_SQL = `
WITH input AS (
  SELECT * FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::double precision[],
                       $8::double precision[], $9::double precision[], $10::double precision[], $11::bigint[],
                       $12::text[], $13::text[])
    AS i(tenant_id, domain, record_type, selector, value, checked_ms, changed_ms, next_check_ms, failing_ms,
         revision, change, previous)
),
written AS (
  INSERT INTO dns_watch_state AS s (tenant_id, domain, record_type, name, selector, value, checked_at, changed_at,
                                    next_check_at, failing_since, revision)
  SELECT tenant_id, domain, record_type, $1::text, selector, value, to_timestamp(checked_ms / 1000),
         to_timestamp(changed_ms / 1000), to_timestamp(next_check_ms / 1000), to_timestamp(failing_ms / 1000), revision
    FROM input
   ORDER BY tenant_id, domain, record_type
  ON CONFLICT (tenant_id, domain, record_type, name) DO UPDATE SET
    selector = excluded.selector, value = excluded.value, checked_at = excluded.checked_at,
    changed_at = excluded.changed_at, next_check_at = excluded.next_check_at,
    failing_since = excluded.failing_since, revision = excluded.revision
   WHERE s.revision = excluded.revision - 1
  RETURNING s.tenant_id, s.domain, s.record_type
)
INSERT INTO dns_changes (tenant_id, domain, record_type, name, selector, change, previous, current, detected_at)
SELECT i.tenant_id, i.domain, i.record_type, $1::text, i.selector, i.change, i.previous, i.value, to_timestamp(i.checked_ms / 1000)
  FROM input i JOIN written w ON w.tenant_id = i.tenant_id AND w.domain = i.domain AND w.record_type = i.record_type
 WHERE i.change IS NOT NULL
 ORDER BY i.tenant_id, i.domain, i.record_type
RETURNING ${CHANGE_COLUMNS}`;

interface ChangeRow {
  id: string;
  tenant_id: string;
  domain: string;
  record_type: WatchedRecordType;
  name: string;
  selector: string | null;
  change: DnsChangeKind;
  previous: string | null;
  current: string | null;
  detected_at: Date;
}

const toChange = (r: ChangeRow): StoredChange => ({
  id: r.id,
  tenantId: r.tenant_id,
  domain: r.domain,
  recordType: r.record_type,
  name: r.name,
  selector: r.selector,
  change: r.change,
  previous: r.previous,
  current: r.current,
  detectedAt: r.detected_at.getTime(),
});

/**
 * Writes what one lookup of `name` did to each of its targets, and the changes it found, in one statement.
 * Resolves with the changes stored (not yet published).
 */
export async function writeObservations(db: Queryable, name: string, items: ReadonlyArray<{ target: WatchTarget; observation: Observation }>): Promise<StoredChange[]> {
  const column = <T>(f: (item: { target: WatchTarget; observation: Observation }) => T): T[] => items.map(f);
  const { rows } = await db.query<ChangeRow>(WRITE_SQL, [
    name,
    column((i) => i.target.tenantId),
    column((i) => i.target.domain),
    column((i) => i.target.recordType),
    column((i) => i.target.selector),
    column((i) => i.observation.state.value),
    column((i) => i.observation.state.checkedAt),
    column((i) => i.observation.state.changedAt),
    column((i) => i.observation.state.nextCheckAt),
    column((i) => i.observation.state.failingSince),
    column((i) => i.observation.state.revision),
    column((i) => (i.observation.decision.kind === 'change' ? i.observation.decision.change : null)),
    column((i) => (i.observation.decision.kind === 'change' ? i.observation.decision.previous : null)),
  ]);
  return rows.map(toChange);
}

/** Changes stored but not yet published (a crash or a failed publish), oldest first. */
export async function unpublishedChanges(db: Queryable, limit: number): Promise<StoredChange[]> {
  const { rows } = await db.query<ChangeRow>(`SELECT ${CHANGE_COLUMNS} FROM dns_changes WHERE published_at IS NULL ORDER BY id LIMIT $1::integer`, [limit]);
  return rows.map(toChange);
}

export async function markPublished(db: Queryable, ids: readonly string[], at: number): Promise<void> {
  await db.query('UPDATE dns_changes SET published_at = to_timestamp($2::double precision / 1000) WHERE id = ANY($1::bigint[])', [ids, at]);
}
