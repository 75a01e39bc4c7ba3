import { isIP } from 'node:net';
import type { Queryable } from '@dmarc/store';
import { commitChange, type Actor, type AdminContext } from './admin-context';
import { recordConfigChange } from './config-changes';
import { parseDomainName } from './domain-name';
import { domainId } from './domains';
import { ConflictError, InvalidInputError, NotFoundError } from './errors';

export type SourceKind = 'ip' | 'cidr' | 'host';

export interface ApprovedSource {
  id: string;
  kind: SourceKind;
  /** Canonical: an IP as written lower-case, a CIDR block, or a host name lower-case without a trailing dot. */
  source: string;
  description: string | null;
  createdAt: string;
}

/**
 * A sending source as a tenant may approve it: an IPv4/IPv6 address, a CIDR block (prefix within the
 * address's length), or a host name (an SPF include or the provider's domain).
 */
export function parseSource(input: string, field = 'source'): { kind: SourceKind; source: string } {
  const text = input.trim().toLowerCase();
  const slash = text.indexOf('/');
  if (slash >= 0) {
    const address = text.slice(0, slash);
    const prefix = text.slice(slash + 1);
    const version = isIP(address);
    if (version === 0 || !/^\d{1,3}$/.test(prefix) || Number(prefix) > (version === 4 ? 32 : 128)) {
      throw new InvalidInputError(field, `${field} is not a valid CIDR block (address/prefix)`);
    }
    return { kind: 'cidr', source: `${address}/${Number(prefix)}` };
  }
  if (isIP(text) !== 0) return { kind: 'ip', source: text };
  // Underscores too: SPF includes live under names like _spf.google.com.
  return { kind: 'host', source: parseDomainName(text, field, { underscores: true }) };
}

interface SourceRow {
  id: string;
  kind: SourceKind;
  source: string;
  description: string | null;
  created_at: Date;
}
const toSource = (r: SourceRow): ApprovedSource => ({ id: r.id, kind: r.kind, source: r.source, description: r.description, createdAt: r.created_at.toISOString() });

async function sourcesOf(db: Queryable, id: string): Promise<ApprovedSource[]> {
  const { rows } = await db.query<SourceRow>('SELECT id, kind, source, description, created_at FROM approved_sources WHERE domain_id = $1 ORDER BY source', [id]);
  return rows.map(toSource);
}

export async function listSources(db: Queryable, tenantId: string, domain: string): Promise<ApprovedSource[]> {
  return sourcesOf(db, await domainId(db, tenantId, domain));
}

/** Approves a source for a domain; 409 when it is already approved. The event carries the whole list before and after. */
export async function addSource(ctx: AdminContext, actor: Actor, domain: string, input: { source: string; description?: string | null }): Promise<ApprovedSource> {
  const parsed = parseSource(input.source);
  return commitChange(ctx, async (tx) => {
    const id = await domainId(tx, actor.tenantId, domain, true);
    const before = await sourcesOf(tx, id);
    const { rows } = await tx.query<SourceRow>(
      `INSERT INTO approved_sources (tenant_id, domain_id, kind, source, description) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (domain_id, source) DO NOTHING RETURNING id, kind, source, description, created_at`,
      [actor.tenantId, id, parsed.kind, parsed.source, input.description ?? null],
    );
    if (rows.length === 0) throw new ConflictError(`${parsed.source} is already approved for ${domain}`, 'source');
    await recordChange(tx, actor, domain, 'sources.add', before, await sourcesOf(tx, id));
    return toSource(rows[0]);
  });
}

export function removeSource(ctx: AdminContext, actor: Actor, domain: string, sourceId: string): Promise<void> {
  return commitChange(ctx, async (tx) => {
    const id = await domainId(tx, actor.tenantId, domain, true);
    const before = await sourcesOf(tx, id);
    const deleted = await tx.query('DELETE FROM approved_sources WHERE id = $1 AND domain_id = $2', [sourceId, id]);
    if (deleted.rowCount === 0) throw new NotFoundError(`approved source ${sourceId}`);
    await recordChange(tx, actor, domain, 'sources.remove', before, await sourcesOf(tx, id));
  });
}

const recordChange = (tx: Queryable, actor: Actor, domain: string, action: string, before: ApprovedSource[], after: ApprovedSource[]) =>
  recordConfigChange(tx, { tenantId: actor.tenantId, actor: actor.name, action, entity: `sources:${domain}`, kind: 'sources_changed', domain, before, after });
