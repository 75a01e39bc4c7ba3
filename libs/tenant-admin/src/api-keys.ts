import type { Queryable } from '@dmarc/store';
import { issueApiKey } from '@dmarc/tenant-auth';
import { commitChange, type Actor, type AdminContext } from './admin-context';
import { recordConfigChange } from './config-changes';
import { NotFoundError } from './errors';

export interface ApiKeyView {
  id: string;
  label: string | null;
  createdAt: string;
}

interface KeyRow {
  id: string;
  label: string | null;
  created_at: Date;
  key_hash: string;
}
const toKey = (r: KeyRow): ApiKeyView => ({ id: r.id, label: r.label, createdAt: r.created_at.toISOString() });

/** The tenant's live keys (never the keys themselves: only their hashes are stored). */
export async function listApiKeys(db: Queryable, tenantId: string): Promise<ApiKeyView[]> {
  const { rows } = await db.query<KeyRow>('SELECT id, label, created_at, key_hash FROM api_keys WHERE tenant_id = $1 AND revoked_at IS NULL ORDER BY created_at, id', [tenantId]);
  return rows.map(toKey);
}

/** Issues a key for the tenant; the key is in the answer once and nowhere else (not in the audit trail). */
export function createApiKey(ctx: AdminContext, actor: Actor, label: string | null): Promise<ApiKeyView & { key: string }> {
  return commitChange(ctx, async (tx) => {
    const issued = await issueApiKey(tx, actor.tenantId);
    const { rows } = await tx.query<KeyRow>('UPDATE api_keys SET label = $2 WHERE id = $1 RETURNING id, label, created_at, key_hash', [issued.id, label]);
    const view = toKey(rows[0]);
    await recordConfigChange(tx, { ...change(actor, view.id), action: 'api-key.create', kind: 'api_key_created', before: null, after: view });
    return { ...view, key: issued.key };
  });
}

/**
 * Revokes one of the tenant's live keys and resolves with its hash (the API drops its cached
 * authentication). NotFoundError for a key of another tenant, or one already revoked.
 */
export function revokeApiKey(ctx: AdminContext, actor: Actor, id: string): Promise<{ keyHash: string }> {
  return commitChange(ctx, async (tx) => {
    const { rows } = await tx.query<KeyRow>(
      'UPDATE api_keys SET revoked_at = now() WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL RETURNING id, label, created_at, key_hash',
      [actor.tenantId, id],
    );
    if (rows.length === 0) throw new NotFoundError(`API key ${id}`);
    await recordConfigChange(tx, { ...change(actor, id), action: 'api-key.revoke', kind: 'api_key_revoked', before: toKey(rows[0]), after: null });
    return { keyHash: rows[0].key_hash };
  });
}

const change = (actor: Actor, keyId: string) => ({ tenantId: actor.tenantId, actor: actor.name, entity: `api-key:${keyId}`, domain: null });

/**
 * The id of a key's cached authentication in the tiered cache ('global' scope, type 'auth'): the API caches
 * the caller of each key hash under it, and whoever revokes a key drops it.
 */
export const authCacheId = (keyHash: string): readonly string[] => ['key', keyHash];

/** The stored hash of a key by its id (revoked keys included), or undefined for an unknown id. */
export async function apiKeyHashOf(db: Queryable, id: string): Promise<string | undefined> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
  const { rows } = await db.query<{ key_hash: string }>('SELECT key_hash FROM api_keys WHERE id = $1', [id]);
  return rows[0]?.key_hash;
}
