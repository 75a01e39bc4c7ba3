import type { Queryable } from '@dmarc/store';

/** One row of the audit trail; `before` and `after` are stored as JSON (null stays null). */
export interface AuditRow {
  tenantId: string;
  actor: string;
  action: string;
  entity: string;
  before: unknown;
  after: unknown;
}

const json = (value: unknown): string | null => (value === undefined || value === null ? null : JSON.stringify(value));

/** Appends one row to the audit trail: call it inside the transaction of the change it records. */
export async function appendAudit(tx: Queryable, row: AuditRow): Promise<void> {
  await tx.query('INSERT INTO audit_log (tenant_id, actor, action, entity, before, after) VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb)', [
    row.tenantId,
    row.actor,
    row.action,
    row.entity,
    json(row.before),
    json(row.after),
  ]);
}

export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  action: string;
  entity: string;
  before: unknown;
  after: unknown;
}

/**
 * A tenant's audit trail, newest first, `limit` entries older than the entry `before` (an id from a previous
 * page), so a client pages through it without offsets shifting under new entries.
 */
export async function listAudit(db: Queryable, tenantId: string, page: { limit: number; before?: number }): Promise<AuditEntry[]> {
  const { rows } = await db.query<{ id: string; at: Date; actor: string; action: string; entity: string; before: unknown; after: unknown }>(
    `SELECT id, at, actor, action, entity, before, after FROM audit_log
      WHERE tenant_id = $1 AND ($2::bigint IS NULL OR id < $2::bigint) ORDER BY id DESC LIMIT $3::integer`,
    [tenantId, page.before ?? null, page.limit],
  );
  return rows.map((r) => ({ id: Number(r.id), at: r.at.toISOString(), actor: r.actor, action: r.action, entity: r.entity, before: r.before, after: r.after }));
}
