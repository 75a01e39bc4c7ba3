import type { Queryable } from '@dmarc/store';
import { commitChange, type Actor, type AdminContext } from './admin-context';
import { recordConfigChange } from './config-changes';
import { ConflictError, NotFoundError } from './errors';

/** What a user may do. A fixed vocabulary, so a typo is a 400 and not a permission nobody checks. */
export const PERMISSIONS = ['domains:read', 'domains:write', 'policy:write', 'sources:write', 'dashboard:read', 'users:write', 'api-keys:write', 'audit:read'] as const;
export type Permission = (typeof PERMISSIONS)[number];

export interface UserView {
  id: string;
  email: string;
  name: string | null;
  permissions: Permission[];
  createdAt: string;
  updatedAt: string;
}

interface UserRow {
  id: string;
  email: string;
  name: string | null;
  permissions: Permission[];
  created_at: Date;
  updated_at: Date;
}
const COLUMNS = 'id, email, name, permissions, created_at, updated_at';
const toUser = (r: UserRow): UserView => ({ id: r.id, email: r.email, name: r.name, permissions: r.permissions, createdAt: r.created_at.toISOString(), updatedAt: r.updated_at.toISOString() });
// Sorted and without repeats: one set of permissions has one spelling, so "unchanged" is an equality.
const canonical = (permissions: readonly Permission[]): Permission[] => [...new Set(permissions)].sort();

export async function listUsers(db: Queryable, tenantId: string): Promise<UserView[]> {
  const { rows } = await db.query<UserRow>(`SELECT ${COLUMNS} FROM tenant_users WHERE tenant_id = $1 ORDER BY email`, [tenantId]);
  return rows.map(toUser);
}

export async function getUser(db: Queryable, tenantId: string, id: string, lock = false): Promise<UserView> {
  const { rows } = await db.query<UserRow>(`SELECT ${COLUMNS} FROM tenant_users WHERE tenant_id = $1 AND id = $2${lock ? ' FOR UPDATE' : ''}`, [tenantId, id]);
  if (rows.length === 0) throw new NotFoundError(`user ${id}`);
  return toUser(rows[0]);
}

/** Adds a user (e-mail checked by the route schema, stored lower-case); 409 when the tenant has that e-mail. */
export function createUser(ctx: AdminContext, actor: Actor, input: { email: string; name?: string | null; permissions?: Permission[] }): Promise<UserView> {
  return commitChange(ctx, async (tx) => {
    const { rows } = await tx.query<UserRow>(
      `INSERT INTO tenant_users (tenant_id, email, name, permissions) VALUES ($1, $2, $3, $4)
       ON CONFLICT (tenant_id, email) DO NOTHING RETURNING ${COLUMNS}`,
      [actor.tenantId, input.email.toLowerCase(), input.name ?? null, canonical(input.permissions ?? [])],
    );
    if (rows.length === 0) throw new ConflictError(`a user with e-mail ${input.email.toLowerCase()} exists`, 'email');
    const user = toUser(rows[0]);
    await recordConfigChange(tx, { ...change(actor, user.id), action: 'user.create', kind: 'user_added', before: null, after: user });
    return user;
  });
}

/** Replaces a user's permissions. The same set again changes nothing. */
export function setPermissions(ctx: AdminContext, actor: Actor, userId: string, permissions: Permission[]): Promise<UserView> {
  const wanted = canonical(permissions);
  return commitChange(ctx, async (tx) => {
    const before = await getUser(tx, actor.tenantId, userId, true);
    if (before.permissions.join(',') === wanted.join(',')) return before;
    const { rows } = await tx.query<UserRow>(`UPDATE tenant_users SET permissions = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2 RETURNING ${COLUMNS}`, [
      actor.tenantId,
      userId,
      wanted,
    ]);
    const after = toUser(rows[0]);
    await recordConfigChange(tx, { ...change(actor, userId), action: 'user.permissions', kind: 'permissions_changed', before, after });
    return after;
  });
}

const change = (actor: Actor, userId: string) => ({ tenantId: actor.tenantId, actor: actor.name, entity: `user:${userId}`, domain: null, userId });
