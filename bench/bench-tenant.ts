import type { PgStore } from '@dmarc/store';

/** Removes a bench run's tenant and everything it left, its aggregation ledger rows included. */
export async function removeBenchTenant(store: PgStore, tenantId: string): Promise<void> {
  // Ledger rows are keyed by report id, not tenant: removed by the ids this run used.
  await store.query(
    `DELETE FROM processed_messages p USING aggregate_reports r
      WHERE r.tenant_id = $1 AND p.consumer = 'aggregation' AND p.message_id LIKE r.report_id || ':%'`,
    [tenantId],
  );
  await store.query('DELETE FROM tenants WHERE id = $1', [tenantId]);
}
