import type { Queryable, Store } from '@dmarc/store';

/** Who acts: the tenant every read and write is scoped to, and the name the audit trail records. */
export interface Actor {
  tenantId: string;
  /** `api-key:{id}` through the API, `cli` from the command line. */
  name: string;
}

export interface AdminContext {
  db: Store;
  /** Called after each committed change (the API kicks the outbox relay here). */
  afterChange?: () => void;
}

/**
 * Runs a change in one transaction (the data, its audit row and its outbox row), then tells afterChange.
 * The body returns what the caller gets; a body that decided nothing changed returns without recording.
 */
export async function commitChange<T>(ctx: AdminContext, body: (tx: Queryable) => Promise<T>): Promise<T> {
  const result = await ctx.db.transaction(body);
  ctx.afterChange?.();
  return result;
}
