import type { Queryable } from '@dmarc/store';
import { commitChange, type Actor, type AdminContext } from './admin-context';
import { recordConfigChange } from './config-changes';
import type { DmarcPolicyView } from './domain-policy';
import { ConflictError, NotFoundError } from './errors';

export interface DomainView {
  name: string;
  createdAt: string;
  /** The policy the tenant set for it, or null. */
  policy: DmarcPolicyView | null;
  approvedSources: number;
}

interface DomainRow {
  id: string;
  name: string;
  created_at: Date;
  p: string | null;
  sp: string | null;
  pct: number | null;
  adkim: string | null;
  aspf: string | null;
  version: string | null;
  updated_at: Date | null;
  sources: string;
}

const DOMAIN_SELECT = `SELECT d.id, d.name, d.created_at, p.p, p.sp, p.pct, p.adkim, p.aspf, p.version, p.updated_at,
  (SELECT count(*) FROM approved_sources s WHERE s.domain_id = d.id) AS sources
  FROM domains d LEFT JOIN domain_policies p ON p.domain_id = d.id`;

function domainView(r: DomainRow): DomainView {
  return {
    name: r.name,
    createdAt: r.created_at.toISOString(),
    policy:
      r.p === null
        ? null
        : { domain: r.name, p: r.p, sp: r.sp, pct: r.pct, adkim: r.adkim, aspf: r.aspf, version: Number(r.version), updatedAt: (r.updated_at as Date).toISOString() } as DmarcPolicyView,
    approvedSources: Number(r.sources),
  };
}

/**
 * The id of a tenant's domain, or NotFoundError: a domain of another tenant is "not found" too. With
 * `lock`, the row is locked to the end of the transaction, so the changes of one domain commit one after
 * the other and their outbox ids follow that order.
 */
export async function domainId(db: Queryable, tenantId: string, name: string, lock = false): Promise<string> {
  const { rows } = await db.query<{ id: string }>(`SELECT id FROM domains WHERE tenant_id = $1 AND name = $2${lock ? ' FOR UPDATE' : ''}`, [tenantId, name]);
  if (rows.length === 0) throw new NotFoundError(`domain ${name}`);
  return rows[0].id;
}

export async function listDomains(db: Queryable, tenantId: string): Promise<DomainView[]> {
  const { rows } = await db.query<DomainRow>(`${DOMAIN_SELECT} WHERE d.tenant_id = $1 ORDER BY d.name`, [tenantId]);
  return rows.map(domainView);
}

export async function getDomain(db: Queryable, tenantId: string, name: string): Promise<DomainView> {
  const { rows } = await db.query<DomainRow>(`${DOMAIN_SELECT} WHERE d.tenant_id = $1 AND d.name = $2`, [tenantId, name]);
  if (rows.length === 0) throw new NotFoundError(`domain ${name}`);
  return domainView(rows[0]);
}

/** Registers a domain (already checked by parseDomainName). 409 when the tenant has it. */
export function addDomain(ctx: AdminContext, actor: Actor, name: string): Promise<DomainView> {
  return commitChange(ctx, async (tx) => {
    const inserted = await tx.query('INSERT INTO domains (tenant_id, name) VALUES ($1, $2) ON CONFLICT (tenant_id, name) DO NOTHING RETURNING id', [actor.tenantId, name]);
    if (inserted.rowCount === 0) throw new ConflictError(`domain ${name} is already registered`, 'name');
    const view = await getDomain(tx, actor.tenantId, name);
    await recordConfigChange(tx, { ...change(actor, name), action: 'domain.add', kind: 'domain_added', before: null, after: view });
    return view;
  });
}

/** Removes a domain with its policy and approved sources (the aggregates stay: they are the reports' history). */
export function removeDomain(ctx: AdminContext, actor: Actor, name: string): Promise<void> {
  return commitChange(ctx, async (tx) => {
    await domainId(tx, actor.tenantId, name, true);
    const before = await getDomain(tx, actor.tenantId, name);
    await tx.query('DELETE FROM domains WHERE tenant_id = $1 AND name = $2', [actor.tenantId, name]);
    await recordConfigChange(tx, { ...change(actor, name), action: 'domain.remove', kind: 'domain_removed', before, after: null });
  });
}

const change = (actor: Actor, domain: string) => ({ tenantId: actor.tenantId, actor: actor.name, entity: `domain:${domain}`, domain });
