import type { Bus } from '@dmarc/bus';
import { intakeFixture } from './__test-support__/intake-fixture';
import { migratedStoreWithTenants } from './__test-support__/migrated-store';
import { IntakeError, ReportIntake, reportIdOf, sha256Hex } from './index';

describe('ReportIntake', () => {
  let tenantId: string;
  const fixture = intakeFixture(async () => {
    const { store, tenants } = await migratedStoreWithTenants('acme');
    tenantId = tenants.acme;
    return store;
  });
  const { received } = fixture;

  const intake = (publisher = fixture.bus as Bus['producer'] extends () => infer P ? P : never) =>
    new ReportIntake({ store: fixture.store, publisher, maxBytes: 1000, inlineMaxBytes: 100, refusedHeadBytes: 64 });
  const until = async (cond: () => boolean) => {
    for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  };

  it('keeps the raw bytes, publishes once, and answers a resubmission as a duplicate', async () => {
    const payload = Buffer.from('<feedback>small</feedback>');
    const first = await intake().accept({ tenantId, payload, filename: 'a.xml', contentType: 'text/xml', source: 'test' });
    expect(first).toMatchObject({ duplicate: false, sizeBytes: payload.length, reportId: reportIdOf(tenantId, first.sha256) });
    const again = await intake().accept({ tenantId, payload, source: 'test' });
    expect(again).toEqual({ ...first, duplicate: true });
    await until(() => received.length >= 1);
    expect(received).toHaveLength(1);
    expect(received[0].value).toMatchObject({ reportId: first.reportId, tenantId, raw: payload, filename: 'a.xml' });
    expect(received[0].tenantId).toBe(tenantId);
    const row = (await fixture.store.query<{ payload: Buffer; status: string }>('SELECT payload, status FROM raw_reports WHERE id = $1', [first.reportId])).rows[0];
    expect(row.payload.equals(payload)).toBe(true);
  });

  it('sends large reports by reference and refuses empty, oversized and unknown-tenant ones with the field', async () => {
    const big = Buffer.from(`<feedback>${'x'.repeat(500)}</feedback>`);
    const r = await intake().accept({ tenantId, payload: big, source: 'test' });
    await until(() => received.some((m) => m.value.reportId === r.reportId));
    expect(received.find((m) => m.value.reportId === r.reportId)?.value.raw).toEqual({ uri: `pg://raw_reports/${r.reportId}` });
    await expect(intake().accept({ tenantId, payload: Buffer.alloc(0), source: 't' })).rejects.toMatchObject({ code: 'INTAKE_EMPTY', field: 'payload' });
    await expect(intake().accept({ tenantId, payload: Buffer.alloc(1001), source: 't' })).rejects.toMatchObject({ code: 'INTAKE_TOO_LARGE' });
    await expect(intake().accept({ tenantId: 'nope', payload: big, source: 't' })).rejects.toMatchObject({ code: 'INTAKE_TENANT_UNKNOWN' });
    await expect(
      intake().accept({ tenantId: '00000000-0000-4000-8000-000000000000', payload: big, source: 't' }),
    ).rejects.toMatchObject({ code: 'INTAKE_TENANT_UNKNOWN', field: 'tenantId' });
  });

  it('publishes again after a crash between storing and publishing, instead of calling it a duplicate', async () => {
    const payload = Buffer.from('<feedback>crash</feedback>');
    const failing = { publish: async () => Promise.reject(new Error('broker gone')), publishRaw: async () => undefined };
    await expect(intake(failing).accept({ tenantId, payload, source: 'test' })).rejects.toThrow('broker gone');
    const retry = await intake().accept({ tenantId, payload, source: 'test' });
    expect(retry.duplicate).toBe(false);
    await until(() => received.some((m) => m.value.reportId === retry.reportId));
    expect((await intake().accept({ tenantId, payload, source: 'test' })).duplicate).toBe(true);
  });

  it('records what the bytes are, not what the sender claimed, on the topic and in the row', async () => {
    const payload = Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0]), Buffer.from('not really gzip but starts like it')]);
    const r = await intake().accept({ tenantId, payload, filename: 'r.xml', contentType: 'text/xml', source: 'test' });
    expect(r.contentType).toBe('application/gzip');
    await until(() => received.some((m) => m.value.reportId === r.reportId));
    expect(received.find((m) => m.value.reportId === r.reportId)?.value.contentType).toBe('application/gzip');
    const row = (await fixture.store.query<{ content_type: string }>('SELECT content_type FROM raw_reports WHERE id = $1', [r.reportId])).rows[0];
    expect(row.content_type).toBe('application/gzip');
  });

  it('keeps refused reports as failed rows with their reason, and publishes none of them', async () => {
    const before = received.length;
    const garbage = Buffer.from('%PDF-1.4 definitely not a report');
    const refused = await intake().accept({ tenantId, payload: garbage, filename: 'x.pdf', contentType: 'application/pdf', source: 'test' }).catch((e: IntakeError) => e);
    expect(refused).toBeInstanceOf(IntakeError);
    expect(refused).toMatchObject({ code: 'INTAKE_UNSUPPORTED', field: 'payload', reportId: reportIdOf(tenantId, sha256Hex(garbage)) });
    expect((refused as IntakeError).message).toMatch(/declared "application\/pdf", starts with bytes 25 50 44 46/);
    const again = await intake().accept({ tenantId, payload: garbage, source: 'test' }).catch((e: IntakeError) => e);
    expect(again).toMatchObject({ code: 'INTAKE_UNSUPPORTED', reportId: (refused as IntakeError).reportId });

    const big = Buffer.from(`<feedback>${'y'.repeat(2000)}</feedback>`);
    const tooLarge = await intake().accept({ tenantId, payload: big, source: 'test' }).catch((e: IntakeError) => e);
    expect(tooLarge).toMatchObject({ code: 'INTAKE_TOO_LARGE' });
    const blank = await intake().accept({ tenantId, payload: Buffer.from(' \r\n '), source: 'test' }).catch((e: IntakeError) => e);
    expect(blank).toMatchObject({ code: 'INTAKE_EMPTY', message: expect.stringContaining('only whitespace') });

    const rows = await fixture.store.query<{ id: string; status: string; reason: string; payload: Buffer; size_bytes: number }>(
      'SELECT id, status, reason, payload, size_bytes FROM raw_reports WHERE id = ANY($1::uuid[])',
      [[(refused as IntakeError).reportId, (tooLarge as IntakeError).reportId, (blank as IntakeError).reportId]],
    );
    expect(rows.rows).toHaveLength(3);
    const byId = new Map(rows.rows.map((r) => [r.id, r]));
    expect(byId.get((refused as IntakeError).reportId!)).toMatchObject({ status: 'failed', reason: (refused as IntakeError).message, payload: garbage });
    // Only the head of an oversize report is kept, with the size it had.
    expect(byId.get((tooLarge as IntakeError).reportId!)).toMatchObject({ status: 'failed', size_bytes: big.length, payload: big.subarray(0, 64) });
    expect(byId.get((blank as IntakeError).reportId!)).toMatchObject({ status: 'failed', reason: (blank as IntakeError).message });
    await new Promise((r) => setTimeout(r, 20));
    expect(received.length).toBe(before);
  });

  it('keeps the head of a report refused before it was read whole', async () => {
    const head = Buffer.from('<feedback>' + 'z'.repeat(200));
    const err = await intake().refuseOversize({ tenantId, head, bytesRead: 1500, sha256: sha256Hex(head), declaredBytes: 10_000_000_000, source: 'http', filename: 'huge.xml' });
    expect(err).toMatchObject({ code: 'INTAKE_TOO_LARGE', field: 'payload', reportId: reportIdOf(tenantId, sha256Hex(head)) });
    expect(err.message).toBe('report is over the limit of 1000 bytes (announced as 10000000000 bytes); reading stopped after 1500 bytes');
    const row = (await fixture.store.query<{ status: string; payload: Buffer; size_bytes: number; filename: string }>('SELECT status, payload, size_bytes, filename FROM raw_reports WHERE id = $1', [err.reportId])).rows[0];
    expect(row).toMatchObject({ status: 'failed', size_bytes: 1500, filename: 'huge.xml', payload: head.subarray(0, 64) });
    await expect(intake().refuseOversize({ tenantId: '00000000-0000-4000-8000-000000000000', head, bytesRead: 1, sha256: sha256Hex(head), source: 'http' })).resolves.toMatchObject({
      code: 'INTAKE_TENANT_UNKNOWN',
    });
  });

  it('counts each duplicate submission on its UTC day', async () => {
    const payload = Buffer.from('<feedback>counted</feedback>');
    const at = Date.UTC(2030, 0, 2, 23, 59);
    const clocked = new ReportIntake({ store: fixture.store, publisher: fixture.bus, maxBytes: 1000, inlineMaxBytes: 100, now: () => at });
    await clocked.accept({ tenantId, payload, source: 'test' });
    await clocked.accept({ tenantId, payload, source: 'test' });
    await clocked.accept({ tenantId, payload, source: 'test' });
    const { rows } = await fixture.store.query<{ day: string; duplicates: string }>('SELECT day, duplicates FROM ingestion_daily_counts WHERE tenant_id = $1', [tenantId]);
    expect(rows).toContainEqual({ day: '2030-01-02', duplicates: '2' });
  });

  it('gives the same bytes from another tenant their own id', () => {
    expect(reportIdOf('a', 'x')).not.toBe(reportIdOf('b', 'x'));
    expect(reportIdOf('a', 'x')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
