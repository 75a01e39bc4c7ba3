import { gzipSync } from 'node:zlib';
import { createInProcessBus, type Bus } from '@dmarc/bus';
import { loadContracts, type ReportParsedV1, type ReportReceivedV1, type TlsReportParsedV1 } from '@dmarc/contracts';
import { migrate, PgliteStore, type Store } from '@dmarc/store';
import { ParsingStage } from './index';

const xml = (id: string, n: number) =>
  `<?xml version="1.0"?><feedback><report_metadata><org_name>Org</org_name><email>a@b.c</email><report_id>${id}</report_id>` +
  `<date_range><begin>1700000000</begin><end>1700086399</end></date_range></report_metadata>` +
  `<policy_published><domain>Example.COM</domain><p>reject</p><pct>100</pct></policy_published>` +
  Array.from({ length: n }, (_, i) =>
    `<record><row><source_ip>192.0.2.${i + 1}</source_ip><count>${i + 1}</count><policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>fail</spf></policy_evaluated></row>` +
    `<identifiers><header_from>example.com</header_from></identifiers><auth_results><spf><domain>example.com</domain><result>fail</result></spf></auth_results></record>`,
  ).join('') +
  `</feedback>`;

const TLS = JSON.stringify({
  'organization-name': 'Company-X',
  'date-range': { 'start-datetime': '2016-04-01T00:00:00Z', 'end-datetime': '2016-04-01T23:59:59Z' },
  'contact-info': 'sts-reporting@company-x.example',
  'report-id': '5065427c-23d3-47ca-b6e0-946ea0e8c4be',
  policies: [
    {
      policy: { 'policy-type': 'sts', 'policy-string': ['version: STSv1'], 'policy-domain': 'company-y.example', 'mx-host': ['*.mail.company-y.example'] },
      summary: { 'total-successful-session-count': 5326, 'total-failure-session-count': 303 },
      'failure-details': [],
    },
  ],
});

describe('ParsingStage', () => {
  let store: Store;
  let bus: Bus;
  let tenantId: string;
  const parsed: ReportParsedV1[] = [];
  const tls: TlsReportParsedV1[] = [];
  let n = 0;

  beforeAll(async () => {
    store = await PgliteStore.open();
    await migrate(store);
    tenantId = (await store.query<{ id: string }>(`INSERT INTO tenants (name) VALUES ('t') RETURNING id`)).rows[0].id;
    bus = createInProcessBus({ contracts: loadContracts() });
    await bus.consume({ groupId: 'p', topics: ['dmarc.reports.parsed'], handler: async (m) => void parsed.push(m.value as ReportParsedV1) });
    await bus.consume({ groupId: 't', topics: ['dmarc.reports.tls.parsed'], handler: async (m) => void tls.push(m.value as TlsReportParsedV1) });
  });
  afterAll(async () => {
    await bus.close();
    await store.close();
  });

  async function received(payload: Buffer, filename: string): Promise<ReportReceivedV1> {
    const reportId = `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`;
    await store.query(
      `INSERT INTO raw_reports (id, tenant_id, sha256, size_bytes, content_type, payload) VALUES ($1, $2, $3, $4, 'application/octet-stream', $5)`,
      [reportId, tenantId, n.toString(16).padStart(64, '0'), payload.length, payload],
    );
    return { reportId, tenantId, sha256: 'x', sizeBytes: payload.length, contentType: 'application/octet-stream', filename, raw: payload, receivedAt: 0 };
  }
  const settle = () => new Promise((r) => setTimeout(r, 30));
  const stage = (chunkRecords = 2) => new ParsingStage({ store, publisher: bus, chunkRecords, now: () => 42 });
  const status = async (id: string) => (await store.query<{ status: string; reason: string | null }>('SELECT status, reason FROM raw_reports WHERE id = $1', [id])).rows[0];

  it('publishes a report as fixed chunks, the last one marked with the record count, the same again on redelivery', async () => {
    const msg = await received(Buffer.from(xml('r-1', 5)), 'r.xml');
    expect(await stage().handle(msg)).toEqual({ documents: 1, records: 5, chunks: 3, duplicates: 0 });
    await stage().handle(msg);
    await settle();
    const mine = parsed.filter((p) => p.reportId === msg.reportId);
    expect(mine.map((c) => [c.chunkIndex, c.last, c.records.length, c.recordCount])).toEqual([
      [0, false, 2, null], [1, false, 2, null], [2, true, 1, 5],
      [0, false, 2, null], [1, false, 2, null], [2, true, 1, 5],
    ]);
    expect(mine[0].metadata).toMatchObject({ orgName: 'Org', externalReportId: 'r-1', begin: 1700000000000, policy: { domain: 'example.com', p: 'reject', pct: 100 } });
    expect(mine[0].records[0]).toMatchObject({ sourceIp: '192.0.2.1', count: 1, dkimAligned: true, spfAligned: false, headerFrom: 'example.com' });
    expect(mine.every((c) => c.duplicateOf === null)).toBe(true);
    expect(await status(msg.reportId)).toEqual({ status: 'parsed', reason: null });
  });

  it('flags the same report arriving through other bytes as a duplicate of the first', async () => {
    const first = await received(Buffer.from(xml('r-2', 1)), 'a.xml');
    const again = await received(gzipSync(xml('r-2', 1)), 'a.xml.gz');
    await stage().handle(first);
    expect((await stage().handle(again)).duplicates).toBe(1);
    await settle();
    expect(parsed.find((p) => p.reportId === again.reportId)?.duplicateOf).toBe(first.reportId);
    expect(parsed.find((p) => p.reportId === first.reportId)?.duplicateOf).toBeNull();
  });

  it('marks an unreadable report failed with its reason and throws a non-retriable error', async () => {
    const msg = await received(Buffer.from('<feedback><report_metadata><org_name>x'), 'bad.xml');
    await expect(stage().handle(msg)).rejects.toMatchObject({ retriable: false });
    const s = await status(msg.reportId);
    expect(s.status).toBe('failed');
    expect(s.reason).toMatch(/^REPORT_/);
  });

  it('publishes SMTP TLS reports whole to their own topic', async () => {
    const msg = await received(gzipSync(TLS), 'tls.json.gz');
    await stage().handle(msg);
    await settle();
    expect(tls.find((t) => t.reportId === msg.reportId)).toMatchObject({
      organizationName: 'Company-X',
      policies: [{ policyType: 'sts', policyDomain: 'company-y.example', successfulSessions: 5326, failedSessions: 303 }],
    });
  });
});
