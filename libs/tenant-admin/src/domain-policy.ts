import type { Queryable } from '@dmarc/store';
import { commitChange, type Actor, type AdminContext } from './admin-context';
import { recordConfigChange } from './config-changes';
import { domainId } from './domains';
import { NotFoundError } from './errors';

export const POLICY_VALUES = ['none', 'quarantine', 'reject'] as const;
export const ALIGNMENT_MODES = ['r', 's'] as const;
export type PolicyValue = (typeof POLICY_VALUES)[number];
export type AlignmentMode = (typeof ALIGNMENT_MODES)[number];

/** The DMARC policy a tenant wants for a domain (RFC 7489 p, sp, pct, adkim, aspf). */
export interface DmarcPolicyInput {
  p: PolicyValue;
  /** Subdomain policy; null: the same as p. */
  sp?: PolicyValue | null;
  /** Percentage of failing mail the policy applies to, 0-100. Default 100. */
  pct?: number;
  /** DKIM / SPF alignment, relaxed or strict. Default r. */
  adkim?: AlignmentMode;
  aspf?: AlignmentMode;
}

export interface DmarcPolicyView {
  domain: string;
  p: PolicyValue;
  sp: PolicyValue | null;
  pct: number;
  adkim: AlignmentMode;
  aspf: AlignmentMode;
  /** Counts the writes of this domain's policy, from 1. */
  version: number;
  updatedAt: string;
}

interface PolicyRow {
  p: PolicyValue;
  sp: PolicyValue | null;
  pct: number;
  adkim: AlignmentMode;
  aspf: AlignmentMode;
  version: string;
  updated_at: Date;
}

const view = (domain: string, r: PolicyRow): DmarcPolicyView => ({
  domain,
  p: r.p,
  sp: r.sp,
  pct: r.pct,
  adkim: r.adkim,
  aspf: r.aspf,
  version: Number(r.version),
  updatedAt: r.updated_at.toISOString(),
});

async function policyRow(db: Queryable, id: string): Promise<PolicyRow | undefined> {
  const { rows } = await db.query<PolicyRow>('SELECT p, sp, pct, adkim, aspf, version, updated_at FROM domain_policies WHERE domain_id = $1', [id]);
  return rows[0];
}

/** The policy set for a tenant's domain; NotFoundError when the domain is not the tenant's or has none. */
export async function getPolicy(db: Queryable, tenantId: string, domain: string): Promise<DmarcPolicyView> {
  const row = await policyRow(db, await domainId(db, tenantId, domain));
  if (!row) throw new NotFoundError(`policy of ${domain}`);
  return view(domain, row);
}

/**
 * Sets a domain's policy (values checked by the route schema), defaults filled in: sp null, pct 100,
 * adkim and aspf r. The same policy again changes nothing (no audit row, no event, same version).
 */
export function putPolicy(ctx: AdminContext, actor: Actor, domain: string, input: DmarcPolicyInput): Promise<DmarcPolicyView> {
  const wanted = { p: input.p, sp: input.sp ?? null, pct: input.pct ?? 100, adkim: input.adkim ?? 'r', aspf: input.aspf ?? 'r' };
  return commitChange(ctx, async (tx) => {
    // Locks the domain: two writers of one domain commit in turn, so versions and outbox order agree.
    const id = await domainId(tx, actor.tenantId, domain, true);
    const current = await policyRow(tx, id);
    const same = current && current.p === wanted.p && current.sp === wanted.sp && current.pct === wanted.pct && current.adkim === wanted.adkim && current.aspf === wanted.aspf;
    if (current && same) return view(domain, current);
    const { rows } = await tx.query<PolicyRow>(
      `INSERT INTO domain_policies (domain_id, tenant_id, p, sp, pct, adkim, aspf, version) VALUES ($1, $2, $3, $4, $5, $6, $7, 1)
       ON CONFLICT (domain_id) DO UPDATE SET p = excluded.p, sp = excluded.sp, pct = excluded.pct, adkim = excluded.adkim,
         aspf = excluded.aspf, version = domain_policies.version + 1, updated_at = now()
       RETURNING p, sp, pct, adkim, aspf, version, updated_at`,
      [id, actor.tenantId, wanted.p, wanted.sp, wanted.pct, wanted.adkim, wanted.aspf],
    );
    const after = view(domain, rows[0]);
    await recordConfigChange(tx, {
      tenantId: actor.tenantId,
      actor: actor.name,
      action: 'policy.update',
      entity: `policy:${domain}`,
      kind: 'policy_changed',
      domain,
      version: after.version,
      before: current ? view(domain, current) : null,
      after,
    });
    return after;
  });
}
