import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import Fastify, { type FastifyInstance } from 'fastify';
import { createInProcessBus, type Bus, type Delivered, type Publisher } from '@dmarc/bus';
import { loadContracts } from '@dmarc/contracts';
import { ReportIntake, sha256Hex } from '@dmarc/intake';
import { installErrorHandler } from '@dmarc/service-runtime';
import { migrate, PgliteStore, type Store } from '@dmarc/store';
import { issueApiKey } from '@dmarc/tenant-auth';
import { ingestionRoutes } from './ingestion-routes';

// fastify.inject (light-my-request) requires cookie@2, which ships only as ESM: jest's CommonJS runtime
// cannot load it on Node 20. inject needs it only to send request cookies, which these tests never do.
jest.mock('cookie', () => ({
  stringifySetCookie: () => {
    throw new Error('request cookies are not supported in these tests');
  },
}));

const MAX = 4096;
const HEAD = 256;

describe('ingestion HTTP API (PGlite, in-process bus)', () => {
  let store: Store;
  let bus: Bus;
  let app: FastifyInstance;
  let intake: ReportIntake | undefined;
  const tenants = { acme: { id: '', auth: '' }, globex: { id: '', auth: '' } };
  const received: Array<Delivered<'dmarc.reports.received'>> = [];
  let seq = 0;
  let onOutcome: (() => void) | undefined;

  const xml = (tag = `${Date.now()}-${++seq}`) => Buffer.from(`<?xml version="1.0"?><feedback><report_id>${tag}</report_id></feedback>`);
  const post = (payload: Buffer | Readable | undefined, headers: Record<string, string> = {}, auth = tenants.acme.auth) =>
    app.inject({ method: 'POST', url: '/v1/reports', payload, headers: { authorization: auth, 'content-type': 'application/xml', ...headers } });
  const get = (url: string, auth = tenants.acme.auth) => app.inject({ method: 'GET', url, headers: { authorization: auth } });
  const until = async (cond: () => boolean) => {
    for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  };
  const onTopic = async (id: string) => {
    await until(() => received.some((m) => m.value.reportId === id));
    return received.filter((m) => m.value.reportId === id);
  };
  const form = async (parts: Array<{ field: string; filename?: string; type?: string; content: Buffer | string }>) => {
    const fd = new FormData();
    for (const p of parts) {
      if (p.filename === undefined) fd.append(p.field, String(p.content));
      else fd.append(p.field, new Blob([p.content], { type: p.type ?? 'application/octet-stream' }), p.filename);
    }
    const request = new Request('http://localhost/', { method: 'POST', body: fd });
    return { payload: Buffer.from(await request.arrayBuffer()), headers: { 'content-type': request.headers.get('content-type')! } };
  };

  beforeAll(async () => {
    store = await PgliteStore.open();
    await migrate(store);
    for (const name of ['acme', 'globex'] as const) {
      tenants[name].id = (await store.query<{ id: string }>('INSERT INTO tenants (name) VALUES ($1) RETURNING id', [name])).rows[0].id;
      tenants[name].auth = `Bearer ${(await issueApiKey(store, tenants[name].id)).key}`;
    }
    bus = createInProcessBus({ contracts: loadContracts() });
    await bus.consume({ groupId: 'test', topics: ['dmarc.reports.received'], handler: async (m) => void received.push(m as Delivered<'dmarc.reports.received'>) });
    intake = new ReportIntake({ store, publisher: bus, maxBytes: MAX, inlineMaxBytes: 1024, refusedHeadBytes: HEAD });
    app = Fastify();
    installErrorHandler(app);
    await ingestionRoutes(app, { db: store, intake: () => intake, maxBytes: MAX, refusedHeadBytes: HEAD, maxFiles: 3, maxStatsDays: 30, lingerMs: 50, onOutcome: () => onOutcome?.() });
    await app.ready();
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await bus?.close();
    await store?.close();
  });

  describe('POST /v1/reports', () => {
    it('answers 202 with the id, keeps the bytes and publishes the report once; the same bytes again are a 200 duplicate', async () => {
      const payload = xml();
      const first = await post(payload, { 'content-disposition': 'attachment; filename="google.com!example.com!1!2.xml"' });
      expect(first.statusCode).toBe(202);
      const body = first.json();
      expect(body).toEqual({ id: expect.any(String), status: 'received', duplicate: false });
      expect(first.headers.location).toBe(`/v1/reports/${body.id}`);
      const [message] = await onTopic(body.id);
      expect(message.value).toMatchObject({ tenantId: tenants.acme.id, sha256: sha256Hex(payload), contentType: 'application/xml', filename: 'google.com!example.com!1!2.xml' });

      const again = await post(payload, { 'content-type': 'application/octet-stream' });
      expect(again.statusCode).toBe(200);
      expect(again.json()).toEqual({ id: body.id, status: 'received', duplicate: true });
      await new Promise((r) => setTimeout(r, 20));
      expect(await onTopic(body.id)).toHaveLength(1);
    });

    const gz = gzipSync(xml('gz'));
    const zip = Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), Buffer.alloc(40, 1)]);
    const eml = Buffer.from('From: noreply-dmarc-support@google.com\r\nSubject: Report domain: example.com\r\nMIME-Version: 1.0\r\n\r\nbody');
    const tls = Buffer.from('{"organization-name":"Google Inc.","report-id":"x"}');
    it.each([
      ['application/xml', () => xml(), 'application/xml'],
      ['text/xml; charset=utf-8', () => xml(), 'application/xml'],
      ['application/gzip', () => gz, 'application/gzip'],
      ['application/zip', () => zip, 'application/zip'],
      ['message/rfc822', () => eml, 'message/rfc822'],
      ['application/json', () => tls, 'application/json'],
      ['application/octet-stream', () => gzipSync(xml()), 'application/gzip'],
      // The bytes decide: a "gzip" that is plain XML is what real senders do, and is taken as XML.
      ['application/gzip', () => xml(), 'application/xml'],
    ])('takes %s, recording what the bytes are', async (type, bytes, detected) => {
      const res = await post(bytes(), { 'content-type': type });
      expect([200, 202]).toContain(res.statusCode);
      const [message] = await onTopic(res.json().id);
      expect(message.value.contentType).toBe(detected);
    });

    it('takes a body sent without any Content-Type, by its bytes', async () => {
      const res = await app.inject({ method: 'POST', url: '/v1/reports?filename=r.xml', payload: xml(), headers: { authorization: tenants.acme.auth } });
      expect(res.statusCode).toBe(202);
      expect((await onTopic(res.json().id))[0].value).toMatchObject({ contentType: 'application/xml', filename: 'r.xml' });
    });

    it('answers 401 without a valid API key, before reading the body', async () => {
      const missing = await post(xml(), {}, '');
      expect(missing.statusCode).toBe(401);
      expect(missing.json()).toMatchObject({ error: 'UNAUTHORIZED' });
      expect((await post(xml(), {}, 'Bearer not-a-key')).statusCode).toBe(401);
      expect((await get('/v1/ingestion/stats', 'Bearer not-a-key')).statusCode).toBe(401);
    });

    it('refuses unknown bytes with 415 naming what it saw, and keeps them with the reason', async () => {
      const garbage = Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3 not a report', 'latin1');
      const res = await post(garbage, { 'content-type': 'application/octet-stream' });
      expect(res.statusCode).toBe(415);
      const body = res.json();
      expect(body).toEqual({ error: 'UNSUPPORTED_MEDIA_TYPE', message: expect.any(String), field: 'body', id: expect.any(String) });
      expect(body.message).toMatch(/declared "application\/octet-stream", starts with bytes 25 50 44 46 2d 31 2e 37 \("%PDF-1\.7"\)/);
      const status = await get(`/v1/reports/${body.id}`);
      expect(status.json()).toMatchObject({ id: body.id, status: 'failed', reason: body.message, sizeBytes: garbage.length, sha256: sha256Hex(garbage) });
      const kept = (await store.query<{ payload: Buffer }>('SELECT payload FROM raw_reports WHERE id = $1', [body.id])).rows[0];
      expect(kept.payload.equals(garbage)).toBe(true);
    });

    it('refuses an empty body with 400 naming the field, and keeps the refusal', async () => {
      const res = await post(Buffer.alloc(0));
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ error: 'EMPTY_REPORT', field: 'body', message: 'report is empty (0 bytes)' });
      expect((await get(`/v1/reports/${res.json().id}`)).json()).toMatchObject({ status: 'failed', sizeBytes: 0 });
      const noBody = await app.inject({ method: 'POST', url: '/v1/reports', headers: { authorization: tenants.acme.auth } });
      expect(noBody.statusCode).toBe(400);
      expect(noBody.json()).toMatchObject({ error: 'EMPTY_REPORT', field: 'body' });
    });

    it('refuses a body over the limit with 413, reading no further, and keeps its head and the size seen', async () => {
      const big = Buffer.concat([xml('big'), Buffer.alloc(MAX, 0x20)]);
      const res = await post(big);
      expect(res.statusCode).toBe(413);
      const body = res.json();
      expect(body).toMatchObject({ error: 'PAYLOAD_TOO_LARGE', field: 'body', id: expect.any(String) });
      expect(body.message).toMatch(/over the limit of 4096 bytes/);
      const row = (await store.query<{ payload: Buffer; size_bytes: number; status: string }>('SELECT payload, size_bytes, status FROM raw_reports WHERE id = $1', [body.id])).rows[0];
      expect(row.status).toBe('failed');
      expect(row.payload.equals(big.subarray(0, HEAD))).toBe(true);
      expect(row.size_bytes).toBeGreaterThan(MAX);

      // Streamed without a length: answered once past the limit, long before the end of the body.
      let pulled = 0;
      let drained = false;
      const chunks = Readable.from(
        (function* () {
          for (; pulled < 1000; pulled++) yield Buffer.alloc(1024, pulled === 0 ? 0x3c : 0x61);
          drained = true;
        })(),
      );
      let pulledWhenAnswered = 0;
      onOutcome = () => (pulledWhenAnswered = pulled);
      const streamed = await post(chunks).finally(() => (onOutcome = undefined));
      expect(streamed.statusCode).toBe(413);
      // 5 chunks cross the limit; the rest pulled by then sits in stream buffers (16 KiB high-water marks).
      expect(pulledWhenAnswered).toBeGreaterThan(4);
      expect(pulledWhenAnswered).toBeLessThan(60);
      // After the answer the rest is drained and dropped, not left to stall the connection.
      await until(() => drained);
      expect(drained).toBe(true);
    });

    it('answers 503 while not connected to Kafka, and when the broker fails mid-way (retry is safe)', async () => {
      const saved = intake;
      intake = undefined;
      try {
        const starting = await post(xml());
        expect(starting.statusCode).toBe(503);
        expect(starting.headers['retry-after']).toBe('5');
        const failing: Publisher = {
          publish: async () => Promise.reject(Object.assign(new Error('broker gone'), { retriable: true })),
          publishRaw: async () => undefined,
        } as unknown as Publisher;
        intake = new ReportIntake({ store, publisher: failing, maxBytes: MAX, inlineMaxBytes: 1024 });
        const payload = xml();
        const down = await post(payload);
        expect(down.statusCode).toBe(503);
        expect(down.json()).toMatchObject({ error: 'SERVICE_UNAVAILABLE' });
        intake = saved;
        const retried = await post(payload);
        expect(retried.statusCode).toBe(202);
        expect(await onTopic(retried.json().id)).toHaveLength(1);
      } finally {
        intake = saved;
      }
    });
  });

  describe('POST /v1/reports as multipart/form-data', () => {
    it('takes every file part as its own report', async () => {
      const a = xml();
      const b = gzipSync(xml());
      const { payload, headers } = await form([
        { field: 'note', content: 'ignored text field' },
        { field: 'file', filename: 'a.xml', type: 'text/xml', content: a },
        { field: 'file', filename: '../../etc/b.xml.gz', type: 'application/gzip', content: b },
      ]);
      const res = await post(payload, headers);
      expect(res.statusCode).toBe(202);
      const { reports } = res.json();
      expect(reports).toEqual([
        { field: 'file', filename: 'a.xml', id: expect.any(String), status: 'received', duplicate: false },
        { field: 'file', filename: 'b.xml.gz', id: expect.any(String), status: 'received', duplicate: false },
      ]);
      expect((await onTopic(reports[0].id))[0].value.raw).toEqual(a);
      expect((await onTopic(reports[1].id))[0].value).toMatchObject({ raw: b, contentType: 'application/gzip', filename: 'b.xml.gz' });

      const again = await post(payload, headers);
      expect(again.statusCode).toBe(200);
      expect(again.json().reports.map((r: { duplicate: boolean }) => r.duplicate)).toEqual([true, true]);
    });

    it('answers with the first refusal and every part, keeping the accepted ones', async () => {
      const good = xml();
      const { payload, headers } = await form([
        { field: 'file', filename: 'good.xml', content: good },
        { field: 'file', filename: 'bad.bin', content: Buffer.from([0x00, 0x01, 0x02, 0x03]) },
        { field: 'file', filename: 'empty.xml', content: Buffer.alloc(0) },
      ]);
      const res = await post(payload, headers);
      expect(res.statusCode).toBe(415);
      const body = res.json();
      expect(body).toMatchObject({ error: 'UNSUPPORTED_MEDIA_TYPE', field: 'file', id: expect.any(String) });
      expect(body.reports).toEqual([
        { field: 'file', filename: 'good.xml', id: expect.any(String), status: 'received', duplicate: false },
        { field: 'file', filename: 'bad.bin', id: body.id, error: 'UNSUPPORTED_MEDIA_TYPE', message: body.message },
        { field: 'file', filename: 'empty.xml', id: expect.any(String), error: 'EMPTY_REPORT', message: 'report is empty (0 bytes)' },
      ]);
      expect(await onTopic(body.reports[0].id)).toHaveLength(1);
      expect((await get(`/v1/reports/${body.id}`)).json()).toMatchObject({ status: 'failed', filename: 'bad.bin' });
    });

    it('answers 400 naming the field when there is no file part', async () => {
      const { payload, headers } = await form([{ field: 'report', content: '<feedback/>' }]);
      const res = await post(payload, headers);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({ error: 'EMPTY_REPORT', message: expect.stringMatching(/no file part/), field: 'file', reports: [] });
    });

    it('answers 413 for a file over the limit and reads no part after it', async () => {
      const { payload, headers } = await form([
        { field: 'big', filename: 'big.xml', content: Buffer.concat([xml(), Buffer.alloc(MAX, 0x20)]) },
        { field: 'file', filename: 'after.xml', content: xml() },
      ]);
      const res = await post(payload, headers);
      expect(res.statusCode).toBe(413);
      expect(res.json()).toMatchObject({ error: 'PAYLOAD_TOO_LARGE', field: 'big', reports: [{ field: 'big', filename: 'big.xml', error: 'PAYLOAD_TOO_LARGE' }] });
      expect(res.json().reports).toHaveLength(1);
    });

    it('answers 413 past the file count limit, keeping the files taken', async () => {
      const { payload, headers } = await form([1, 2, 3, 4].map((i) => ({ field: 'file', filename: `${i}.xml`, content: xml() })));
      const res = await post(payload, headers);
      expect(res.statusCode).toBe(413);
      expect(res.json()).toMatchObject({ error: 'PAYLOAD_TOO_LARGE', field: 'file' });
      expect(res.json().reports).toHaveLength(3);
    });

    it('answers 400 for a multipart body that cannot be read', async () => {
      const res = await post(Buffer.from('--x\r\nContent-Disposition: form-data; name="file"; filename="a.xml"\r\n\r\n<feedback>'), {
        'content-type': 'multipart/form-data; boundary=x',
      });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ error: 'MALFORMED_MULTIPART', field: 'body' });
    });
  });

  describe('GET /v1/reports/{id}', () => {
    it("shows the caller's own report and answers 404 for another tenant's, never 403", async () => {
      const payload = xml();
      const { id } = (await post(payload, {}, tenants.globex.auth)).json();
      const own = await get(`/v1/reports/${id}`, tenants.globex.auth);
      expect(own.statusCode).toBe(200);
      expect(own.json()).toEqual({
        id,
        status: 'received',
        receivedAt: expect.stringMatching(/Z$/),
        updatedAt: expect.stringMatching(/Z$/),
        filename: null,
        sizeBytes: payload.length,
        sha256: sha256Hex(payload),
      });
      const other = await get(`/v1/reports/${id}`, tenants.acme.auth);
      expect(other.statusCode).toBe(404);
      expect(other.json()).toEqual({ error: 'NOT_FOUND', message: `no report ${id}`, field: 'id' });
      expect((await get('/v1/reports/00000000-0000-4000-8000-000000000000')).statusCode).toBe(404);
      expect((await get('/v1/reports/not-a-uuid')).statusCode).toBe(404);
    });

    it('follows the status the pipeline sets', async () => {
      const { id } = (await post(xml())).json();
      await store.query(`UPDATE raw_reports SET status = 'aggregated' WHERE id = $1`, [id]);
      expect((await get(`/v1/reports/${id}`)).json()).toMatchObject({ status: 'aggregated' });
    });
  });

  describe('GET /v1/ingestion/stats', () => {
    it("counts the tenant's reports, duplicates and refusals today", async () => {
      const fresh = await store.query<{ id: string }>(`INSERT INTO tenants (name) VALUES ('initech') RETURNING id`);
      const auth = `Bearer ${(await issueApiKey(store, fresh.rows[0].id)).key}`;
      const payload = xml();
      await post(payload, {}, auth);
      await post(payload, {}, auth);
      await post(payload, {}, auth);
      await post(Buffer.from('garbage'), {}, auth);
      const { id } = (await post(xml(), {}, auth)).json();
      await store.query(`UPDATE raw_reports SET status = 'parsed' WHERE id = $1`, [id]);

      const res = await get('/v1/ingestion/stats?days=3', auth);
      expect(res.statusCode).toBe(200);
      const stats = res.json();
      expect(stats.perDay).toHaveLength(3);
      expect(stats.today).toEqual({ date: new Date().toISOString().slice(0, 10), received: 3, parsed: 1, duplicate: 2, rejected: 1 });
      expect(stats.lag.oldestUnparsed).toMatchObject({ ageSeconds: expect.any(Number) });
      expect(stats.lag.receivedToAggregatedSeconds).toEqual({ count: 0, p50: null, p95: null });
      expect((await get('/v1/ingestion/stats', auth)).json().perDay).toHaveLength(7);
    });

    it('refuses a window outside 1..maxStatsDays with 400 naming the field', async () => {
      for (const days of ['0', '31', 'abc']) {
        const res = await get(`/v1/ingestion/stats?days=${days}`);
        expect(res.statusCode).toBe(400);
        expect(res.json()).toMatchObject({ error: 'VALIDATION_FAILED', field: 'days' });
      }
    });
  });
});
