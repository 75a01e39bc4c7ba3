import type { Store } from '@dmarc/store';
import { migratedStoreWithTenants } from './__test-support__/migrated-store';
import { readIngestionStats } from './ingestion-stats';

describe('readIngestionStats', () => {
  let store: Store;
  let acme: string;
  let globex: string;
  const now = new Date('2030-03-10T12:00:00Z');
  let n = 0;

  const report = async (tenantId: string, receivedAt: string, status = 'received', aggregatedAfterSeconds?: number) => {
    const sha = (n++).toString(16).padStart(64, '0');
    const { rows } = await store.query<{ id: string }>(
      `INSERT INTO raw_reports (tenant_id, sha256, size_bytes, content_type, status, received_at) VALUES ($1, $2, 1, 'application/xml', $3, $4) RETURNING id`,
      [tenantId, sha, status, receivedAt],
    );
    // updated_at is set by a trigger to now(); for an aggregated report it stands for when aggregation finished.
    if (aggregatedAfterSeconds !== undefined) {
      await store.exec(`ALTER TABLE raw_reports DISABLE TRIGGER raw_reports_set_updated_at`);
      await store.query(`UPDATE raw_reports SET updated_at = received_at + make_interval(secs => $2) WHERE id = $1`, [rows[0].id, aggregatedAfterSeconds]);
      await store.exec(`ALTER TABLE raw_reports ENABLE TRIGGER raw_reports_set_updated_at`);
    }
    return rows[0].id;
  };

  beforeAll(async () => {
    let tenants: Record<'acme' | 'globex', string>;
    ({ store, tenants } = await migratedStoreWithTenants('acme', 'globex'));
    ({ acme, globex } = tenants);
  }, 60_000);
  afterAll(() => store.close());

  it('is all zeros, one entry per day, for a tenant with nothing yet', async () => {
    const stats = await readIngestionStats(store, acme, { days: 3, now });
    expect(stats.perDay.map((d) => d.date)).toEqual(['2030-03-08', '2030-03-09', '2030-03-10']);
    expect(stats.today).toEqual({ date: '2030-03-10', received: 0, parsed: 0, duplicate: 0, rejected: 0 });
    expect(stats.lag).toEqual({ oldestUnparsed: null, oldestUnaggregated: null, receivedToAggregatedSeconds: { count: 0, p50: null, p95: null } });
  });

  it("counts the tenant's reports per UTC day of receipt, its duplicates, and the processing lag", async () => {
    const oldest = await report(acme, '2030-03-09T23:59:59Z', 'received');
    await report(acme, '2030-03-10T00:00:00Z', 'parsed');
    await report(acme, '2030-03-10T01:00:00Z', 'enriched');
    await report(acme, '2030-03-10T02:00:00Z', 'failed');
    for (let i = 1; i <= 20; i++) await report(acme, '2030-03-10T03:00:00Z', 'aggregated', i);
    await report(acme, '2030-03-01T00:00:00Z', 'received'); // outside the window: only the lag sees it
    await report(globex, '2030-03-10T04:00:00Z', 'received'); // another tenant: never counted
    await store.query(`INSERT INTO ingestion_daily_counts (tenant_id, day, duplicates) VALUES ($1, '2030-03-10', 4), ($1, '2030-03-09', 1), ($2, '2030-03-10', 9)`, [acme, globex]);

    const stats = await readIngestionStats(store, acme, { days: 2, now });
    expect(stats.perDay).toEqual([
      { date: '2030-03-09', received: 1, parsed: 0, duplicate: 1, rejected: 0 },
      { date: '2030-03-10', received: 23, parsed: 22, duplicate: 4, rejected: 1 },
    ]);
    expect(stats.today).toBe(stats.perDay[1]);
    const earliest = (await store.query<{ id: string }>(`SELECT id FROM raw_reports WHERE tenant_id = $1 AND received_at = '2030-03-01T00:00:00Z'`, [acme])).rows[0].id;
    expect(stats.lag.oldestUnparsed).toEqual({ id: earliest, receivedAt: '2030-03-01T00:00:00.000Z', ageSeconds: 9.5 * 86400 });
    expect(stats.lag.oldestUnaggregated?.id).toBe(earliest);
    expect(stats.lag.receivedToAggregatedSeconds).toEqual({ count: 20, p50: 10.5, p95: 19.05 });

    await store.query(`UPDATE raw_reports SET status = 'aggregated' WHERE id = $1`, [earliest]);
    await store.query(`UPDATE raw_reports SET status = 'parsed' WHERE id = $1`, [oldest]);
    const later = await readIngestionStats(store, acme, { days: 2, now });
    expect(later.lag.oldestUnparsed).toBeNull();
    expect(later.lag.oldestUnaggregated?.id).toBe(oldest);
  });
});
