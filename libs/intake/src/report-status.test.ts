import type { Store } from '@dmarc/store';
import { migratedStoreWithTenants } from './__test-support__/migrated-store';
import { findReportStatus } from './report-status';

describe('findReportStatus', () => {
  let store: Store;
  let acme: string;
  let globex: string;
  let reportId: string;

  beforeAll(async () => {
    let tenants: Record<'acme' | 'globex', string>;
    ({ store, tenants } = await migratedStoreWithTenants('acme', 'globex'));
    ({ acme, globex } = tenants);
    reportId = (
      await store.query<{ id: string }>(
        `INSERT INTO raw_reports (tenant_id, sha256, size_bytes, content_type, filename, payload, received_at)
         VALUES ($1, $2, 3, 'application/xml', 'r.xml', '\\x3c3e'::bytea, '2030-01-01T00:00:00Z') RETURNING id`,
        [acme, 'a'.repeat(64)],
      )
    ).rows[0].id;
  }, 60_000);
  afterAll(() => store.close());

  it("tells the owner its report's status, without a reason while it has none", async () => {
    const view = await findReportStatus(store, acme, reportId);
    expect(view).toEqual({
      id: reportId,
      status: 'received',
      receivedAt: '2030-01-01T00:00:00.000Z',
      updatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      filename: 'r.xml',
      sizeBytes: 3,
      sha256: 'a'.repeat(64),
    });
  });

  it('says parsed while the report is being enriched, and gives the reason of a failure', async () => {
    await store.query(`UPDATE raw_reports SET status = 'enriched' WHERE id = $1`, [reportId]);
    expect(await findReportStatus(store, acme, reportId)).toMatchObject({ status: 'parsed' });
    await store.query(`UPDATE raw_reports SET status = 'failed', reason = 'truncated XML at line 3' WHERE id = $1`, [reportId]);
    expect(await findReportStatus(store, acme, reportId)).toMatchObject({ status: 'failed', reason: 'truncated XML at line 3' });
  });

  it("finds nothing for another tenant's id, an unknown id or a malformed one", async () => {
    expect(await findReportStatus(store, globex, reportId)).toBeUndefined();
    expect(await findReportStatus(store, acme, '00000000-0000-4000-8000-000000000000')).toBeUndefined();
    expect(await findReportStatus(store, acme, "x' OR 1=1 --")).toBeUndefined();
  });
});
