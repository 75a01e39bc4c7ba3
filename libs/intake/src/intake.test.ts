import { createInProcessBus, type Bus, type Delivered } from '@dmarc/bus';
import { loadContracts } from '@dmarc/contracts';
import { migrate, PgliteStore, type Store } from '@dmarc/store';
import { ReportIntake, reportIdOf } from './index';

describe('ReportIntake', () => {
  let store: Store;
  let bus: Bus;
  let tenantId: string;
  const received: Array<Delivered<'dmarc.reports.received'>> = [];

  beforeAll(async () => {
    store = await PgliteStore.open();
    await migrate(store);
    tenantId = (await store.query<{ id: string }>(`INSERT INTO tenants (name) VALUES ('acme') RETURNING id`)).rows[0].id;
    bus = createInProcessBus({ contracts: loadContracts() });
    await bus.consume({
      groupId: 'test',
      topics: ['dmarc.reports.received'],
      handler: async (m) => void received.push(m as Delivered<'dmarc.reports.received'>),
    });
  });
  afterAll(async () => {
    await bus.close();
    await store.close();
  });

  const intake = (publisher = bus as Bus['producer'] extends () => infer P ? P : never) =>
    new ReportIntake({ store, publisher, maxBytes: 1000, inlineMaxBytes: 100 });
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
    const row = (await store.query<{ payload: Buffer; status: string }>('SELECT payload, status FROM raw_reports WHERE id = $1', [first.reportId])).rows[0];
    expect(row.payload.equals(payload)).toBe(true);
  });

  it('sends large reports by reference and refuses empty, oversized and unknown-tenant ones with the field', async () => {
    const big = Buffer.alloc(500, 'x');
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

  it('gives the same bytes from another tenant their own id', () => {
    expect(reportIdOf('a', 'x')).not.toBe(reportIdOf('b', 'x'));
    expect(reportIdOf('a', 'x')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
