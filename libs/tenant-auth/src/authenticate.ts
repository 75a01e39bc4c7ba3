import type { Queryable } from '@dmarc/store';
import { hashApiKey } from './api-key';
import { UnauthorizedError } from './errors';

export interface AuthenticatedTenant {
  tenantId: string;
}

// Longer than any key we issue by far; refused before hashing or touching the database.
const MAX_KEY_LENGTH = 512;
const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/** The key of an `Authorization: Bearer <key>` header, or UnauthorizedError (401) before any database work. */
export function bearerKey(header: string | string[] | undefined): string {
  if (header === undefined || header === '') throw new UnauthorizedError('missing Authorization: Bearer <api key> header');
  if (Array.isArray(header)) throw new UnauthorizedError('more than one Authorization header');
  const key = BEARER.exec(header)?.[1];
  if (!key || key.length > MAX_KEY_LENGTH) throw new UnauthorizedError('Authorization header must be "Bearer <api key>"');
  return key;
}

/**
 * The tenant behind an `Authorization: Bearer <api key>` header: the key's SHA-256 is looked up in
 * api_keys, revoked keys excluded. Throws UnauthorizedError (401 UNAUTHORIZED) when the header is
 * missing, not a bearer token, or names no live key; database errors propagate unchanged.
 */
export async function authenticateApiKey(db: Queryable, header: string | string[] | undefined): Promise<AuthenticatedTenant> {
  const key = bearerKey(header);
  const { rows } = await db.query<{ tenant_id: string }>('SELECT tenant_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL', [
    hashApiKey(key),
  ]);
  if (rows.length === 0) throw new UnauthorizedError('unknown or revoked API key');
  return { tenantId: rows[0].tenant_id };
}
