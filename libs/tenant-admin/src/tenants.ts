import type { Queryable, Store } from '@dmarc/store';
import { issueApiKey } from '@dmarc/tenant-auth';
import { InvalidInputError, NotFoundError } from './errors';

export const TENANT_TIERS = ['starter', 'business', 'enterprise'] as const;
export type TenantTier = (typeof TENANT_TIERS)[number];

export interface TenantView {
  id: string;
  name: string;
  tier: TenantTier;
  createdAt: string;
}

export function isTenantTier(value: string): value is TenantTier {
  return (TENANT_TIERS as readonly string[]).includes(value);
}

/**
 * Creates a tenant and its first API key in one transaction, with the audit row (actor `cli`): a tenant
 * never exists without a way in. The key is returned once; only its hash is stored.
 */
export async function createTenant(db: Store, input: { name: string; tier: string; actor?: string }): Promise<TenantView & { apiKey: string; apiKeyId: string }> {
  const name = input.name.trim();
  if (name === '' || name.length > 200) throw new InvalidInputError('name', 'name must be 1-200 characters');
  if (!isTenantTier(input.tier)) throw new InvalidInputError('tier', `tier must be one of ${TENANT_TIERS.join(', ')}`);
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<{ id: string; name: string; tier: TenantTier; created_at: Date }>(
      'INSERT INTO tenants (name, tier) VALUES ($1, $2) RETURNING id, name, tier, created_at',
      [name, input.tier],
    );
    const tenant: TenantView = { id: rows[0].id, name: rows[0].name, tier: rows[0].tier, createdAt: rows[0].created_at.toISOString() };
    const key = await issueApiKey(tx, tenant.id);
    await tx.query('INSERT INTO audit_log (tenant_id, actor, action, entity, before, after) VALUES ($1, $2, $3, $4, NULL, $5::jsonb)', [
      tenant.id,
      input.actor ?? 'cli',
      'tenant.create',
      `tenant:${tenant.id}`,
      JSON.stringify({ ...tenant, apiKeyId: key.id }),
    ]);
    return { ...tenant, apiKey: key.key, apiKeyId: key.id };
  });
}

export async function getTenant(db: Queryable, tenantId: string): Promise<TenantView> {
  const { rows } = await db.query<{ id: string; name: string; tier: TenantTier; created_at: Date }>('SELECT id, name, tier, created_at FROM tenants WHERE id = $1', [tenantId]);
  if (rows.length === 0) throw new NotFoundError(`tenant ${tenantId}`);
  return { id: rows[0].id, name: rows[0].name, tier: rows[0].tier, createdAt: rows[0].created_at.toISOString() };
}
