// The durable queue of DNS writes (dns_update_jobs, migration 0017): jobs are created by the database in the
// transaction of the policy change; here they are claimed, settled and listed. Every state change of a
// claimed job names the attempt that claimed it, so a worker whose lease ran out cannot settle a job another
// worker has taken since.
import type { Queryable, Store } from '@dmarc/store';
import { appendAudit, type AuditRow } from '@dmarc/tenant-admin';
import type { ApprovedPolicy } from './dmarc-txt';
import type { TsigAlgorithm } from './tsig';

export type JobStatus = 'pending' | 'applied' | 'verified' | 'failed' | 'superseded' | 'cancelled';

export interface UpdateJobView {
  id: number;
  status: JobStatus;
  policyVersion: number | null;
  requestedBy: string;
  /** The TXT text written, once an attempt built it. */
  record: string | null;
  attempts: number;
  lastErrorCode: string | null;
  lastError: string | null;
  /** When the next attempt is due; null once the job is settled. */
  nextAttemptAt: string | null;
  createdAt: string;
  appliedAt: string | null;
  verifiedAt: string | null;
  finishedAt: string | null;
  alertedAt: string | null;
}

/** Where and how a claimed job's domain is written (with the secret: for the worker only). */
export interface ProviderSettings {
  provider: 'rfc2136';
  host: string;
  port: number;
  zone: string;
  keyName: string;
  algorithm: TsigAlgorithm;
  secret: string;
  ttl: number;
}

export interface ClaimedJob {
  id: number;
  tenantId: string;
  domainId: string;
  domain: string;
  policy: ApprovedPolicy;
  policyVersion: number | null;
  requestedBy: string;
  /** Counting this one. */
  attempts: number;
  /** Null when the domain opted out since the job was created. */
  settings: ProviderSettings | null;
}

interface JobRow {
  id: string;
  status: JobStatus;
  policy_version: string | null;
  requested_by: string;
  record: string | null;
  attempts: number;
  last_error_code: string | null;
  last_error: string | null;
  next_attempt_at: Date;
  created_at: Date;
  applied_at: Date | null;
  verified_at: Date | null;
  finished_at: Date | null;
  alerted_at: Date | null;
}

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());
const OPEN: ReadonlySet<JobStatus> = new Set(['pending', 'applied']);

const jobView = (r: JobRow): UpdateJobView => ({
  id: Number(r.id),
  status: r.status,
  policyVersion: r.policy_version === null ? null : Number(r.policy_version),
  requestedBy: r.requested_by,
  record: r.record,
  attempts: r.attempts,
  lastErrorCode: r.last_error_code,
  lastError: r.last_error,
  nextAttemptAt: OPEN.has(r.status) ? r.next_attempt_at.toISOString() : null,
  createdAt: r.created_at.toISOString(),
  appliedAt: iso(r.applied_at),
  verifiedAt: iso(r.verified_at),
  finishedAt: iso(r.finished_at),
  alertedAt: iso(r.alerted_at),
});

/** A domain's latest jobs, newest first. */
export async function listJobs(db: Queryable, domainId: string, limit: number): Promise<UpdateJobView[]> {
  const { rows } = await db.query<JobRow>(
    `SELECT id, status, policy_version, requested_by, record, attempts, last_error_code, last_error, next_attempt_at, created_at,
            applied_at, verified_at, finished_at, alerted_at
       FROM dns_update_jobs WHERE domain_id = $1 ORDER BY id DESC LIMIT $2::integer`,
    [domainId, limit],
  );
  return rows.map(jobView);
}

/**
 * Takes up to `limit` due jobs for this worker until `leaseUntil`: the oldest open job of each domain only
 * (one write per domain at a time, in order), skipping jobs another worker holds; of `tenants` only, when given.
 * Jobs overtaken by a newer change of their domain are marked superseded first, so the newest approved policy
 * is the one written.
 */
export function claimDueJobs(store: Store, now: Date, leaseUntil: Date, limit: number, tenants: readonly string[] | null = null): Promise<ClaimedJob[]> {
  return store.transaction(async (tx) => {
    await tx.query(
      `UPDATE dns_update_jobs j SET status = 'superseded', finished_at = $1, updated_at = $1, lease_until = NULL,
              last_error = 'superseded by job ' || (SELECT max(n.id) FROM dns_update_jobs n WHERE n.domain_id = j.domain_id AND n.status = 'pending')
        WHERE j.status IN ('pending', 'applied') AND (j.lease_until IS NULL OR j.lease_until <= $1)
          AND EXISTS (SELECT 1 FROM dns_update_jobs n WHERE n.domain_id = j.domain_id AND n.id > j.id AND n.status = 'pending')
          AND ($2::uuid[] IS NULL OR j.tenant_id = ANY($2::uuid[]))`,
      [now, tenants],
    );
    const { rows } = await tx.query<{ id: string; tenant_id: string; domain_id: string; domain: string; policy: ApprovedPolicy; policy_version: string | null; requested_by: string; attempts: number }>(
      `WITH due AS (
         SELECT j.id FROM dns_update_jobs j
          WHERE j.status IN ('pending', 'applied') AND j.next_attempt_at <= $1 AND (j.lease_until IS NULL OR j.lease_until <= $1)
            AND NOT EXISTS (SELECT 1 FROM dns_update_jobs o WHERE o.domain_id = j.domain_id AND o.id < j.id AND o.status IN ('pending', 'applied'))
            AND ($4::uuid[] IS NULL OR j.tenant_id = ANY($4::uuid[]))
          ORDER BY j.id LIMIT $3::integer
          FOR UPDATE SKIP LOCKED)
       UPDATE dns_update_jobs j SET attempts = j.attempts + 1, lease_until = $2, updated_at = $1
         FROM due WHERE j.id = due.id
       RETURNING j.id, j.tenant_id, j.domain_id, j.domain, j.policy, j.policy_version, j.requested_by, j.attempts`,
      [now, leaseUntil, limit, tenants],
    );
    if (rows.length === 0) return [];
    const settings = await tx.query<ProviderSettings & { domain_id: string }>(
      `SELECT domain_id, provider, server_host AS host, server_port AS port, zone, tsig_key_name AS "keyName", tsig_algorithm AS algorithm,
              tsig_secret AS secret, record_ttl AS ttl
         FROM dns_autopilot WHERE domain_id = ANY($1::uuid[])`,
      [rows.map((r) => r.domain_id)],
    );
    const byDomain = new Map(settings.rows.map(({ domain_id, ...s }) => [domain_id, s]));
    return rows
      .map((r) => ({
        id: Number(r.id),
        tenantId: r.tenant_id,
        domainId: r.domain_id,
        domain: r.domain,
        policy: r.policy,
        policyVersion: r.policy_version === null ? null : Number(r.policy_version),
        requestedBy: r.requested_by,
        attempts: r.attempts,
        settings: byDomain.get(r.domain_id) ?? null,
      }))
      .sort((a, b) => a.id - b.id);
    // Database work only, so a deadlock between two workers' claims is simply run again.
  }, { retries: 2 });
}

/** `WHERE` of a claimed job still held by the attempt that claimed it. */
const HELD = `id = $1 AND attempts = $2 AND status IN ('pending', 'applied')`;

/** The server accepted the update (verification still to come). False when the job is no longer this attempt's. */
export async function markApplied(db: Queryable, job: ClaimedJob, record: string, now: Date): Promise<boolean> {
  const r = await db.query(`UPDATE dns_update_jobs SET status = 'applied', record = $3, applied_at = $4, updated_at = $4 WHERE ${HELD}`, [job.id, job.attempts, record, now]);
  return r.rowCount === 1;
}

/** Verified: the job is done, and `audit` is written with it, in one transaction. */
export function markVerified(store: Store, job: ClaimedJob, now: Date, audit: AuditRow): Promise<boolean> {
  return store.transaction(async (tx) => {
    const r = await tx.query(
      `UPDATE dns_update_jobs SET status = 'verified', verified_at = $3, finished_at = $3, updated_at = $3, lease_until = NULL, last_error_code = NULL, last_error = NULL
        WHERE ${HELD}`,
      [job.id, job.attempts, now],
    );
    if (r.rowCount !== 1) return false;
    await appendAudit(tx, audit);
    return true;
  });
}

/**
 * Settles a failed attempt: due again at `retryAt`, or (without it) failed for good, waiting for its alert.
 * `record` is the text the attempt meant to write, when it got that far.
 */
export async function markAttemptFailed(
  db: Queryable,
  job: ClaimedJob,
  failure: { code: string; message: string; record?: string; retryAt?: Date },
  now: Date,
): Promise<boolean> {
  const status = failure.retryAt ? 'pending' : 'failed';
  const r = await db.query(
    `UPDATE dns_update_jobs SET status = $3, next_attempt_at = COALESCE($4, next_attempt_at), finished_at = CASE WHEN $3 = 'failed' THEN $7::timestamptz END,
            lease_until = NULL, last_error_code = $5, last_error = $6, record = COALESCE($8, record), updated_at = $7
      WHERE ${HELD}`,
    [job.id, job.attempts, status, failure.retryAt ?? null, failure.code, failure.message, now, failure.record ?? null],
  );
  return r.rowCount === 1;
}

/** The domain opted out after the job was created: nothing is written. */
export async function markCancelled(db: Queryable, job: ClaimedJob, reason: string, now: Date): Promise<boolean> {
  const r = await db.query(`UPDATE dns_update_jobs SET status = 'cancelled', finished_at = $3, lease_until = NULL, last_error = $4, updated_at = $3 WHERE ${HELD}`, [job.id, job.attempts, now, reason]);
  return r.rowCount === 1;
}

export interface FailedJob {
  id: number;
  tenantId: string;
  domain: string;
  record: string | null;
  policyVersion: number | null;
  requestedBy: string;
  attempts: number;
  lastErrorCode: string | null;
  lastError: string | null;
}

/** Failed jobs whose alert has not gone out yet (raising is retried until it succeeds). */
export async function unalertedFailures(db: Queryable, limit: number, tenants: readonly string[] | null = null): Promise<FailedJob[]> {
  const { rows } = await db.query<{ id: string; tenant_id: string; domain: string; record: string | null; policy_version: string | null; requested_by: string; attempts: number; last_error_code: string | null; last_error: string | null }>(
    `SELECT id, tenant_id, domain, record, policy_version, requested_by, attempts, last_error_code, last_error
       FROM dns_update_jobs WHERE status = 'failed' AND alerted_at IS NULL AND ($2::uuid[] IS NULL OR tenant_id = ANY($2::uuid[]))
      ORDER BY id LIMIT $1::integer`,
    [limit, tenants],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    tenantId: r.tenant_id,
    domain: r.domain,
    record: r.record,
    policyVersion: r.policy_version === null ? null : Number(r.policy_version),
    requestedBy: r.requested_by,
    attempts: r.attempts,
    lastErrorCode: r.last_error_code,
    lastError: r.last_error,
  }));
}

export async function markAlerted(db: Queryable, jobId: number, now: Date): Promise<void> {
  await db.query('UPDATE dns_update_jobs SET alerted_at = $2, updated_at = $2 WHERE id = $1', [jobId, now]);
}
