import { createContextKey, ROOT_CONTEXT } from '@opentelemetry/api';
import { gzipSync } from 'node:zlib';
import { createInProcessBus, type Bus, type MessageTrace, type Publisher } from '@dmarc/bus';
import { loadContracts, type ReportParsedV1, type ReportReceivedV1, type TlsReportParsedV1 } from '@dmarc/contracts';
import { migrate, PgliteStore, type Store } from '@dmarc/store';
import { chunkKey } from './parsed-messages';
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

const tlsJson = (id: string) => TLS.replace('5065427c-23d3-47ca-b6e0-946ea0e8c4be', id);
const arf = (messageId: string) => ARF.replace('<abc@example.com>', `<${messageId}@example.com>`);

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

const ARF = [
  'From: dmarc-reports@receiver.example',
  'To: ruf@example.com',
  'Subject: DMARC failure report',
  'MIME-Version: 1.0',
  'Content-Type: multipart/report; report-type=feedback-report; boundary="arf"',
  '',
  '--arf',
  'Content-Type: text/plain',
  '',
  'This is an authentication failure report.',
  '--arf',
  'Content-Type: message/feedback-report',
  '',
  'Feedback-Type: auth-failure',
  'Version: 1',
  'Original-Mail-From: <bounce@example.com>',
  'Arrival-Date: Tue, 30 Apr 2019 02:09:00 +0000',
  'Source-IP: 192.0.2.1',
  'Auth-Failure: dmarc',
  'Reported-Domain: example.com',
  '',
  '--arf',
  'Content-Type: text/rfc822-headers',
  '',
  'From: news@example.com',
  'Subject: Hello',
  'Message-ID: <abc@example.com>',
  '',
  '--arf--',
  '',
].join('\r\n');

/** An e-mail with each report as an attachment of its own. */
const mail = (...reports: string[]) =>
  Buffer.from(
    [
      'From: reports@example.net',
      'Subject: Report',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="b"',
      '',
      ...reports.flatMap((r, i) => ['--b', `Content-Type: text/xml; name="r${i}.xml"`, `Content-Disposition: attachment; filename="r${i}.xml"`, '', r]),
      '--b--',
      '',
    ].join('\r\n'),
  );

interface Published {
  topic: string;
  key: string | null;
  reportId: string;
  chunkIndex: number;
  duplicateOf: string | null;
  raw: Buffer;
}

describe('ParsingStage', () => {
  let store: Store;
  let bus: Bus;
  let tenantId: string;
  const parsed: ReportParsedV1[] = [];
  const tls: TlsReportParsedV1[] = [];
  const published: Published[] = [];
  let n = 0;

  beforeAll(async () => {
    store = await PgliteStore.open();
    await migrate(store);
    tenantId = (await store.query<{ id: string }>(`INSERT INTO tenants (name) VALUES ('t') RETURNING id`)).rows[0].id;
    bus = createInProcessBus({ contracts: loadContracts() });
    await bus.consume({ groupId: 'p', topics: ['dmarc.reports.parsed'], handler: async (m) => void parsed.push(m.value as ReportParsedV1) });
    await bus.consume({ groupId: 't', topics: ['dmarc.reports.tls.parsed'], handler: async (m) => void tls.push(m.value as TlsReportParsedV1) });
    await bus.consume({
      groupId: 'all',
      topics: ['dmarc.reports.parsed', 'dmarc.reports.forensic.parsed', 'dmarc.reports.tls.parsed'],
      handler: async (m) => {
        const value = m.value as { reportId: string; chunkIndex?: number; duplicateOf: string | null };
        published.push({ topic: m.topic, key: m.key, reportId: value.reportId, chunkIndex: value.chunkIndex ?? 0, duplicateOf: value.duplicateOf, raw: m.raw });
      },
    });
  }, 30_000);
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
    // Each chunk has a key of its own (so a huge report spreads over the partitions): no order across them.
    const mine = parsed.filter((p) => p.reportId === msg.reportId).sort((a, b) => a.chunkIndex - b.chunkIndex);
    expect(mine.map((c) => [c.chunkIndex, c.last, c.records.length, c.recordCount])).toEqual([
      [0, false, 2, null], [0, false, 2, null], [1, false, 2, null],
      [1, false, 2, null], [2, true, 1, 5], [2, true, 1, 5],
    ]);
    const keys = published.filter((p) => p.reportId === msg.reportId).map((p) => [p.chunkIndex, p.key]);
    expect(new Set(keys.map(([, key]) => key))).toEqual(new Set([msg.reportId, `${msg.reportId}:1`, `${msg.reportId}:2`]));
    expect(keys.every(([index, key]) => key === chunkKey(msg.reportId, Number(index)))).toBe(true);
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

  describe('handleMany (batch fast path)', () => {
    const ids = (xs: Array<{ received: ReportReceivedV1 }>) => new Set(xs.map((x) => x.received.reportId));
    const of = (items: Array<{ received: ReportReceivedV1 }>, from: number) => {
      const mine = ids(items);
      return published
        .slice(from)
        .filter((p) => mine.has(p.reportId.split('#')[0]))
        .sort((a, b) => a.reportId.localeCompare(b.reportId) || a.topic.localeCompare(b.topic) || a.chunkIndex - b.chunkIndex);
    };
    const identities = async () => Number((await store.query<{ n: string }>('SELECT count(*) AS n FROM report_identities')).rows[0].n);
    const item = async (payload: Buffer, filename: string) => ({ received: await received(payload, filename) });

    it('publishes byte for byte what handle() publishes, with the same results, for aggregate, failure and TLS reports', async () => {
      const items = [
        await item(Buffer.from(xml('m-1', 1)), 'a.xml'),
        await item(gzipSync(xml('m-2', 3)), 'b.xml.gz'),
        await item(Buffer.from(arf('m-3')), 'f.eml'),
        await item(gzipSync(tlsJson('m-4')), 't.json.gz'),
        await item(mail(xml('m-5', 2), xml('m-6', 0)), 'two.eml'),
        // The same report as the first, through other bytes: its duplicate.
        await item(gzipSync(xml('m-1', 1)), 'a-again.xml.gz'),
      ];
      const from = published.length;
      const batch = await stage(10).handleMany(items);
      await settle();
      const fromBatch = of(items, from);

      const middle = published.length;
      const one: unknown[] = [];
      for (const { received: r } of items) one.push(await stage(10).handle(r));
      await settle();
      const fromHandle = of(items, middle);

      expect(batch).toEqual(one);
      expect(batch[5]).toMatchObject({ documents: 1, duplicates: 1 });
      expect(batch[4]).toMatchObject({ documents: 2, records: 2, chunks: 2 });
      expect(fromBatch.map((p) => [p.topic, p.reportId, p.chunkIndex, p.duplicateOf])).toEqual(fromHandle.map((p) => [p.topic, p.reportId, p.chunkIndex, p.duplicateOf]));
      expect(fromBatch.map((p) => p.raw.toString('hex'))).toEqual(fromHandle.map((p) => p.raw.toString('hex')));
      expect(new Set(fromBatch.map((p) => p.topic))).toEqual(new Set(['dmarc.reports.parsed', 'dmarc.reports.forensic.parsed', 'dmarc.reports.tls.parsed']));
      expect(fromBatch.find((p) => p.reportId === items[5].received.reportId)?.duplicateOf).toBe(items[0].received.reportId);
      for (const { received: r } of items) expect(await status(r.reportId)).toEqual({ status: 'parsed', reason: null });
    });

    it('publishes once per topic, each message with the trace of its report', async () => {
      const calls: Array<{ topic: string; traces: unknown[] }> = [];
      const recording: Publisher = {
        publish: (topic, messages) => {
          calls.push({ topic, traces: messages.map((m) => m.trace) });
          return bus.publish(topic, messages);
        },
        publishRaw: (topic, messages) => bus.publishRaw(topic, messages),
      };
      const traceA: MessageTrace = ROOT_CONTEXT.setValue(createContextKey('a'), 1);
      const traceB: MessageTrace = ROOT_CONTEXT.setValue(createContextKey('b'), 2);
      const a = await received(Buffer.from(xml('tr-1', 1)), 'a.xml');
      const b = await received(gzipSync(tlsJson('tr-2')), 't.json.gz');
      const c = await received(Buffer.from(xml('tr-3', 1)), 'c.xml');
      await new ParsingStage({ store, publisher: recording, chunkRecords: 10, now: () => 42 }).handleMany([
        { received: a, trace: traceA },
        { received: b, trace: traceB },
        { received: c, trace: traceB },
      ]);
      expect(calls).toEqual([
        { topic: 'dmarc.reports.parsed', traces: [traceA, traceB] },
        { topic: 'dmarc.reports.tls.parsed', traces: [traceB] },
      ]);
    });

    it('leaves a bad report alone to handle(): nothing of it published, the others are', async () => {
      const good1 = await item(Buffer.from(xml('b-1', 1)), 'a.xml');
      const bad = await item(Buffer.from('<feedback><report_metadata><org_name>x'), 'bad.xml');
      const good2 = await item(gzipSync(tlsJson('b-3')), 't.json.gz');
      const from = published.length;
      const results = await stage(10).handleMany([good1, bad, good2]);
      await settle();
      expect(results).toEqual([{ documents: 1, records: 1, chunks: 1, duplicates: 0 }, null, { documents: 1, records: 0, chunks: 0, duplicates: 0 }]);
      expect(of([good1, good2], from)).toHaveLength(2);
      expect(of([bad], from)).toEqual([]);
      expect(await status(bad.received.reportId)).toEqual({ status: 'received', reason: null });
      await expect(stage(10).handle(bad.received)).rejects.toMatchObject({ retriable: false });
    });

    it('leaves to handle() a report of more records than one chunk, a report held by reference, and an input with no report', async () => {
      const many = await item(Buffer.from(xml('c-1', 5)), 'many.xml');
      // A few KiB of gzip inflating to 50,000 records: reading stops at the chunk size.
      const inflating = await item(gzipSync(xml('c-2', 50_000), { level: 9 }), 'big.xml.gz');
      const byRef = await item(Buffer.from(xml('c-3', 1)), 'ref.xml');
      byRef.received = { ...byRef.received, raw: { uri: `pg://raw_reports/${byRef.received.reportId}` } };
      const empty = await item(Buffer.from('From: a@b.c\r\nSubject: hi\r\nContent-Type: text/plain\r\n\r\nhello\r\n'), 'x.eml');
      const small = await item(Buffer.from(xml('c-5', 2)), 'small.xml');
      const from = published.length;
      const started = Date.now();
      const results = await stage(2).handleMany([many, inflating, byRef, empty, small]);
      await settle();
      expect(Date.now() - started).toBeLessThan(2000);
      expect(results).toEqual([null, null, null, null, { documents: 1, records: 2, chunks: 1, duplicates: 0 }]);
      expect(of([many, inflating, byRef, empty], from)).toEqual([]);
      expect(of([small], from)).toHaveLength(1);
      expect(await stage(2).handle(many.received)).toEqual({ documents: 1, records: 5, chunks: 3, duplicates: 0 });
      expect(await stage(2).handle(byRef.received)).toEqual({ documents: 1, records: 1, chunks: 1, duplicates: 0 });
    });

    it('leaves to handle() at its header an input of more than 1 MiB of text, still claiming its identity in order', async () => {
      // One record, padded past 1 MiB with comments: too long to hold, though it would fit one chunk.
      const padded = xml('l-1', 1).replace('</policy_published>', `</policy_published>${`<!--${'x'.repeat(1000)}-->`.repeat(1100)}`);
      const long = await item(gzipSync(padded), 'long.xml.gz');
      const plain = await item(Buffer.from(padded), 'long.xml');
      const small = await item(Buffer.from(xml('l-1', 1)), 'small.xml');
      const from = published.length;
      expect(await stage(10).handleMany([long, plain, small])).toEqual([null, null, { documents: 1, records: 1, chunks: 1, duplicates: 1 }]);
      await settle();
      expect(of([long, plain], from)).toEqual([]);
      expect(of([small], from).map((p) => p.duplicateOf)).toEqual([long.received.reportId]);
      expect(await stage(10).handle(long.received)).toEqual({ documents: 1, records: 1, chunks: 1, duplicates: 0 });
      expect(await stage(10).handle(plain.received)).toEqual({ documents: 1, records: 1, chunks: 1, duplicates: 1 });
    });

    it('decides duplicates within a batch and against an earlier one as handle() would, one after the other', async () => {
      const first = await item(Buffer.from(xml('d-1', 1)), 'a.xml');
      const again = await item(gzipSync(xml('d-1', 1)), 'a.xml.gz');
      // Too big for the batch, but its identity is claimed in order, as handle() would have claimed it first.
      const bigFirst = await item(Buffer.from(xml('d-2', 3)), 'big.xml');
      const smallAfter = await item(Buffer.from(xml('d-2', 1)), 'small.xml');
      const results = await stage(2).handleMany([first, again, bigFirst, smallAfter]);
      expect(results.map((r) => r?.duplicates ?? null)).toEqual([0, 1, null, 1]);
      expect((await stage(2).handle(bigFirst.received)).duplicates).toBe(0);

      const later = await item(mail(xml('d-1', 1)), 'later.eml');
      const from = published.length;
      expect(await stage(2).handleMany([later])).toEqual([{ documents: 1, records: 1, chunks: 1, duplicates: 1 }]);
      await settle();
      expect(of([later], from).map((p) => p.duplicateOf)).toEqual([first.received.reportId]);
      expect(of([again, smallAfter], 0).map((p) => p.duplicateOf)).toEqual([first.received.reportId, bigFirst.received.reportId]);
    });

    it('publishes the same again on redelivery of a batch and claims nothing new', async () => {
      const items = [
        await item(Buffer.from(xml('r-b-1', 2)), 'a.xml'),
        await item(gzipSync(xml('r-b-1', 2)), 'a.xml.gz'),
        await item(Buffer.from(arf('r-b-2')), 'f.eml'),
      ];
      const from = published.length;
      const first = await stage(10).handleMany(items);
      await settle();
      const claimed = await identities();
      const middle = published.length;
      expect(await stage(10).handleMany(items)).toEqual(first);
      await settle();
      expect(await identities()).toBe(claimed);
      const once = of(items, from).filter((p) => published.indexOf(p) < middle);
      const twice = of(items, middle);
      expect(once).toHaveLength(3);
      expect(twice.map((p) => p.raw.toString('hex'))).toEqual(once.map((p) => p.raw.toString('hex')));
    });
  });
});
