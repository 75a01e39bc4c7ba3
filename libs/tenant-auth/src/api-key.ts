import { createHash, randomBytes } from 'node:crypto';
import type { Queryable } from '@dmarc/store';

/** api_keys.key_hash: the lower-case hex SHA-256 of the key's UTF-8 bytes. Only the hash is stored. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export interface IssuedApiKey {
  id: string;
  /** The key itself: shown to its owner once, never stored. */
  key: string;
}

/**
 * Issues a new key for a tenant and stores its hash. 256 random bits, so the unsalted SHA-256 in the
 * table cannot be reversed by guessing.
 */
export async function issueApiKey(db: Queryable, tenantId: string): Promise<IssuedApiKey> {
  const key = `dmarc_${randomBytes(32).toString('base64url')}`;
  const { rows } = await db.query<{ id: string }>('INSERT INTO api_keys (tenant_id, key_hash) VALUES ($1, $2) RETURNING id', [
    tenantId,
    hashApiKey(key),
  ]);
  return { id: rows[0].id, key };
}
