import type { Queryable } from '@dmarc/store';
import { hashApiKey, UnauthorizedError } from '@dmarc/tenant-auth';
import type { TenantTier } from './tenants';

/** Who is calling: the key's tenant and tier, and the key (the audit trail's actor). */
export interface Caller {
  tenantId: string;
  tier: TenantTier;
  apiKeyId: string;
}

// As @dmarc/tenant-auth's authenticateApiKey, which answers the tenant only: the API also needs the key's
// id (the actor) and the tier (the rate limit). Same refusals, same single 401 code.
const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;
const MAX_KEY_LENGTH = 512;

/** The key of an `Authorization: Bearer <key>` header, or UnauthorizedError (401) before any database work. */
export function bearerKey(header: string | string[] | undefined): string {
  if (header === undefined || header === '') throw new UnauthorizedError('missing Authorization: Bearer <api key> header');
  if (Array.isArray(header)) throw new UnauthorizedError('more than one Authorization header');
  const key = BEARER.exec(header)?.[1];
  if (!key || key.length > MAX_KEY_LENGTH) throw new UnauthorizedError('Authorization header must be "Bearer <api key>"');
  return key;
}

/** The caller behind a live key's hash, or UnauthorizedError for an unknown or revoked one. */
export async function callerOfKeyHash(db: Queryable, keyHash: string): Promise<Caller> {
  const { rows } = await db.query<{ tenant_id: string; tier: TenantTier; id: string }>(
    'SELECT k.tenant_id, t.tier, k.id FROM api_keys k JOIN tenants t ON t.id = k.tenant_id WHERE k.key_hash = $1 AND k.revoked_at IS NULL',
    [keyHash],
  );
  if (rows.length === 0) throw new UnauthorizedError('unknown or revoked API key');
  return { tenantId: rows[0].tenant_id, tier: rows[0].tier, apiKeyId: rows[0].id };
}

export { hashApiKey };
