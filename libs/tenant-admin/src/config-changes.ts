import type { OutgoingMessage } from '@dmarc/bus';
import { TOPICS, type ConfigChange, type ConfigChangeKind } from '@dmarc/contracts';
import type { Queryable } from '@dmarc/store';
import { appendAudit } from './audit-trail';

export const CONFIG_CHANGES_TOPIC = TOPICS.configChanges;

/** One configuration change: what the audit trail records and what dmarc.config.changes announces. */
export interface ConfigChangeRecord {
  tenantId: string;
  /** Who: `api-key:{id}` for the API, `cli` for the command line. */
  actor: string;
  /** Audit action, e.g. `policy.update`. */
  action: string;
  /** What, as the audit trail names it: `domain:{name}`, `policy:{domain}`, `user:{id}`, `api-key:{id}`. */
  entity: string;
  kind: ConfigChangeKind;
  /** Null for tenant-wide changes (users, keys): their events are ordered per tenant instead. */
  domain: string | null;
  userId?: string | null;
  version?: number | null;
  before: unknown;
  after: unknown;
}

/**
 * Appends the audit row and the outbox row of a change. Call it inside the transaction that makes the
 * change: the three commit together or not at all, so the trail and the event never disagree with the
 * data, and the event is published afterwards by the relay even if this process dies first.
 */
export async function recordConfigChange(tx: Queryable, change: ConfigChangeRecord): Promise<void> {
  const before = change.before === undefined || change.before === null ? null : JSON.stringify(change.before);
  const after = change.after === undefined || change.after === null ? null : JSON.stringify(change.after);
  await appendAudit(tx, change);
  await tx.query(
    `INSERT INTO config_changes (tenant_id, domain, kind, entity, user_id, version, actor, before, after)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb)`,
    [change.tenantId, change.domain, change.kind, change.entity, change.userId ?? null, change.version ?? null, change.actor, before, after],
  );
}

export interface OutboxRow {
  id: string;
  event_id: string;
  tenant_id: string;
  domain: string | null;
  kind: ConfigChangeKind;
  entity: string;
  user_id: string | null;
  version: string | null;
  actor: string;
  before: unknown;
  after: unknown;
  at: Date;
}

const json = (value: unknown): string | null => (value === null || value === undefined ? null : JSON.stringify(value));

/** The dmarc.config.changes message of an outbox row, keyed tenantId:domain so one domain's changes keep their order. */
export function configChangeMessage(row: OutboxRow): OutgoingMessage<ConfigChange> {
  return {
    key: `${row.tenant_id}:${row.domain ?? ''}`,
    tenantId: row.tenant_id,
    value: {
      eventId: row.event_id,
      sequence: Number(row.id),
      tenantId: row.tenant_id,
      domain: row.domain,
      kind: row.kind,
      entity: row.entity,
      userId: row.user_id,
      version: row.version === null ? null : Number(row.version),
      actor: row.actor,
      before: json(row.before),
      after: json(row.after),
      at: row.at.getTime(),
    },
  };
}
