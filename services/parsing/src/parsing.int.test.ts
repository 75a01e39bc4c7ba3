import { createKafkaBus, type Bus, type Delivered } from '@dmarc/bus';
import { loadContracts, type DeadLetterV1, type ReportParsedV1 } from '@dmarc/contracts';
import { PgStore, runMigrations } from '@dmarc/store';
import { spawnService, stopService, waitFor, waitReady, type SpawnedService } from '@dmarc/testing';

const record = (i: number) =>
  `<record><row><source_ip>198.51.100.${i}</source_ip><count>${i}</count><policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row><identifiers><header_from>parse-int.example</header_from></identifiers><auth_results><dkim><domain>parse-int.example</domain><result>pass</result></dkim></auth_results></record>`;
const report = (id: string, n: number) =>
  `<?xml version="1.0"?><feedback><report_metadata><org_name>int</org_name><email>a@b.c</email><report_id>${id}</report_id><date_range><begin>1700000000</begin><end>1700086399</end></date_range></report_metadata><policy_published><domain>parse-int.example</domain><p>none</p></policy_published>${Array.from({ length: n }, (_, i) => record(i + 1)).join('')}</feedback>`;

describe('ingestion → parsing over real Kafka and PostgreSQL', () => {
  let store: PgStore;
  let bus: Bus;
  let tenantId: string;
  const services: SpawnedService[] = [];

  beforeAll(async () => {
    await runMigrations(process.env.DATABASE_URL!, { info: () => undefined });
    store = new PgStore({ url: process.env.DATABASE_URL! });
    tenantId = (await store.query<{ id: string }>(`INSERT INTO tenants (name) VALUES ('parsing-int') RETURNING id`)).rows[0].id;
    bus = await createKafkaBus({ brokers: process.env.KAFKA_BROKERS!.split(','), clientId: 'parsing-int', contracts: loadContracts() });
    services.push(await spawnService('ingestion'), await spawnService('parsing', { CHUNK_RECORDS: '2' }));
    await Promise.all(services.map((s) => waitReady(s)));
  });
  afterAll(async () => {
    for (const s of services) expect(await stopService(s)).toBe(0);
    await bus?.close();
    await store?.close();
  });

  it('parses a report into chunks, refuses a broken one to the DLQ with its reason, and keeps serving', async () => {
    const chunks: ReportParsedV1[] = [];
    const dead: DeadLetterV1[] = [];
    const subs = [
      await bus.consume({
        groupId: `parsing-int-${Date.now()}`,
        topics: ['dmarc.reports.parsed'],
        fromBeginning: false,
        handler: async (m) => {
          if (m.tenantId === tenantId) chunks.push((m as Delivered<'dmarc.reports.parsed'>).value);
        },
      }),
      await bus.consume({
        groupId: `parsing-int-dlq-${Date.now()}`,
        topics: ['dmarc.reports.received.dlq'],
        fromBeginning: false,
        handler: async (m) => void dead.push(m.value as DeadLetterV1),
      }),
    ];
    const id = `int-${Date.now()}`;
    const send = (payload: string, filename: string) =>
      bus.publish('dmarc.reports.inbound', [{ key: tenantId, tenantId, value: { tenantId, payload: Buffer.from(payload), filename, submittedAt: Date.now() } }]);
    await send('<feedback><report_metadata><org_name>broken', 'broken.xml');
    await send(report(id, 5), 'good.xml');
    // Small enough for one chunk: parsed by the batch path (the two above are left to the per-report one).
    await send(report(`${id}-small`, 2), 'small.xml');

    await waitFor('3 chunks', () => (chunks.filter((c) => c.metadata.externalReportId === id).length >= 3 ? true : undefined));
    const mine = chunks.filter((c) => c.metadata.externalReportId === id).sort((a, b) => a.chunkIndex - b.chunkIndex);
    expect(mine.map((c) => [c.chunkIndex, c.last, c.records.length])).toEqual([[0, false, 2], [1, false, 2], [2, true, 1]]);
    expect(mine[2].recordCount).toBe(5);
    expect(mine.flatMap((c) => c.records).reduce((s, r) => s + r.count, 0)).toBe(15);

    const small = await waitFor('small report', () => chunks.find((c) => c.metadata.externalReportId === `${id}-small`));
    expect([small.chunkIndex, small.last, small.recordCount, small.duplicateOf]).toEqual([0, true, 2, null]);
    // One info line per batch: the small report went through the batch path, the other two were left to the per-report one.
    const batches = await waitFor('batch log lines', () => {
      const lines = services[1].stdout.filter((l) => l.includes('"batch parsed"')).map((l) => JSON.parse(l) as { parsed: number; left: number });
      return lines.reduce((n, l) => n + l.parsed, 0) >= 1 && lines.reduce((n, l) => n + l.left, 0) >= 2 ? lines : undefined;
    });
    expect(batches.length).toBeGreaterThan(0);
    expect(services[1].stdout.some((l) => l.includes('"report parsed"'))).toBe(false);

    const letter = await waitFor('dead letter', () => dead.find((d) => d.payload !== null && d.errorCode.startsWith('REPORT_')));
    expect(letter.originalTopic).toBe('dmarc.reports.received');
    expect(letter.errorCode).toMatch(/^REPORT_/);
    const statuses = await store.query<{ filename: string; status: string; reason: string | null }>(
      'SELECT filename, status, reason FROM raw_reports WHERE tenant_id = $1 ORDER BY filename',
      [tenantId],
    );
    await waitFor('statuses', async () => {
      const rows = (await store.query<{ status: string }>('SELECT status FROM raw_reports WHERE tenant_id = $1', [tenantId])).rows;
      return rows.length === 3 && rows.every((r) => r.status !== 'received') ? true : undefined;
    });
    const final = (await store.query<{ filename: string; status: string; reason: string | null }>('SELECT filename, status, reason FROM raw_reports WHERE tenant_id = $1 ORDER BY filename', [tenantId])).rows;
    expect(statuses.rowCount).toBe(3);
    expect(final[0]).toMatchObject({ filename: 'broken.xml', status: 'failed' });
    expect(final[0].reason).toMatch(/^REPORT_\w+: /);
    expect(final[1]).toMatchObject({ filename: 'good.xml', status: expect.stringMatching(/parsed|aggregated/) });
    expect(final[2]).toMatchObject({ filename: 'small.xml', status: expect.stringMatching(/parsed|aggregated/) });
    for (const s of subs) await s.close();
  });
});
