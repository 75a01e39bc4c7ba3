import type { Queryable } from '@dmarc/store';
import { bearerKey, hashApiKey, UnauthorizedError } from '@dmarc/tenant-auth';
import type { TenantTier } from './tenants';

/** Who is calling: the key's tenant and tier, and the key (the audit trail's actor). */
export interface Caller {
  tenantId: string;
  tier: TenantTier;
  apiKeyId: string;
}

// @dmarc/tenant-auth's authenticateApiKey answers the tenant only: the API also needs the key's id (the actor)
// and the tier (the rate limit). The header is read the same way (bearerKey), with the same single 401 code.

/** The caller behind a live key's hash, or UnauthorizedError for an unknown or revoked one. */
export async function callerOfKeyHash(db: Queryable, keyHash: string): Promise<Caller> {
  const { rows } = await db.query<{ tenant_id: string; tier: TenantTier; id: string }>(
    'SELECT k.tenant_id, t.tier, k.id FROM api_keys k JOIN tenants t ON t.id = k.tenant_id WHERE k.key_hash = $1 AND k.revoked_at IS NULL',
    [keyHash],
  );
  if (rows.length === 0) throw new UnauthorizedError('unknown or revoked API key');
  return { tenantId: rows[0].tenant_id, tier: rows[0].tier, apiKeyId: rows[0].id };
}

export { bearerKey, hashApiKey };
