import { migrate, PgliteStore, type Store } from '@dmarc/store';

/** An in-process PostgreSQL with every migration applied and the named tenants created (ids by name). */
export async function migratedStoreWithTenants<N extends string>(...names: N[]): Promise<{ store: Store; tenants: Record<N, string> }> {
  const store = await PgliteStore.open();
  await migrate(store);
  const tenants = {} as Record<N, string>;
  for (const name of names) {
    tenants[name] = (await store.query<{ id: string }>('INSERT INTO tenants (name) VALUES ($1) RETURNING id', [name])).rows[0].id;
  }
  return { store, tenants };
}
