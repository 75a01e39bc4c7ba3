import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import path from 'node:path';
import { createKafkaBus, type Bus, type Delivered } from '@dmarc/bus';
import { loadContracts } from '@dmarc/contracts';
import { sha256Hex } from '@dmarc/intake';
import { PgStore, runMigrations } from '@dmarc/store';
import { issueApiKey } from '@dmarc/tenant-auth';
import { LINGER_MS } from './http/unread-body';
import { spawnService, stopService, waitFor, waitReady, type SpawnedService } from '@dmarc/testing';

const env = { KAFKA_BROKERS: process.env.KAFKA_BROKERS!, DATABASE_URL: process.env.DATABASE_URL! };
// Real reports from real senders, next to the repository (never copied into it).
const CORPUS = path.resolve(__dirname, '../../../../shared/corpus/parsedmarc-samples/aggregate');
const CORPUS_SAMPLE = 'fastmail.com!example.com!1516060800!1516147199!102675056.xml.gz';
const LIMIT = 1024 * 1024;

const status = async (base: string, route: string) => (await fetch(`${base}${route}`)).status;

/**
 * A POST over plain node:http, writing the body as the server reads it: a server that answers 413 and
 * closes before the upload is done is seen answering, not as a failed write.
 */
function rawPost(
  base: string,
  headers: Record<string, string>,
  chunks: Iterable<Buffer>,
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string; bytesWritten: number; closed: Promise<void> }> {
  const url = new URL('/v1/reports', base);
  return new Promise((resolve, reject) => {
    let bytesWritten = 0;
    let answered = false;
    let markClosed: () => void = () => undefined;
    const closed = new Promise<void>((r) => (markClosed = r));
    const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers }, (res) => {
      // Like curl: an answer before the upload is done ends the upload.
      answered = true;
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts).toString(), bytesWritten, closed }));
    });
    // Closed without an answer: fail now rather than at the test timeout.
    req.on('close', () => {
      markClosed();
      setImmediate(() => reject(new Error(`connection closed after ${bytesWritten} bytes without a complete answer`)));
    });
    // The server closing mid-upload is the behaviour under test, not an error of the test.
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE' && err.code !== 'ECONNRESET') reject(err);
    });
    (async () => {
      for (const chunk of chunks) {
        if (req.destroyed || answered) break;
        bytesWritten += chunk.length;
        if (!req.write(chunk)) await drainedOrClosed(req);
      }
      if (!req.destroyed && !answered) req.end();
    })().catch(() => undefined);
  });
}

function drainedOrClosed(req: ReturnType<typeof httpRequest>): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      req.off('drain', done);
      req.off('close', done);
      resolve();
    };
    req.on('drain', done);
    req.on('close', done);
  });
}

describe('dmarc serve ingestion (real Kafka and PostgreSQL)', () => {
  let store: PgStore;
  let bus: Bus;
  let tenantId: string;
  let auth: string;

  beforeAll(async () => {
    await runMigrations(env.DATABASE_URL, { info: () => undefined });
    store = new PgStore({ url: env.DATABASE_URL });
    tenantId = (await store.query<{ id: string }>(`INSERT INTO tenants (name) VALUES ('ingestion-int') RETURNING id`)).rows[0].id;
    auth = `Bearer ${(await issueApiKey(store, tenantId)).key}`;
    bus = await createKafkaBus({ brokers: env.KAFKA_BROKERS.split(','), clientId: 'ingestion-int-test', contracts: loadContracts() });
    await bus.ensureTopics([{ topic: 'dmarc.reports.inbound' }, { topic: 'dmarc.reports.received' }]);
  });
  afterAll(async () => {
    await bus?.close();
    await store?.close();
  });

  /** Collects what arrives on dmarc.reports.received from now on. */
  async function watchReceived() {
    const seen: Array<Delivered<'dmarc.reports.received'>> = [];
    const sub = await bus.consume({
      groupId: `ingestion-int-${Date.now()}-${Math.random()}`,
      topics: ['dmarc.reports.received'],
      fromBeginning: false,
      handler: async (m) => void seen.push(m as Delivered<'dmarc.reports.received'>),
    });
    return { seen, close: () => sub.close() };
  }

  it('starts, becomes ready, takes a report from the inbound topic to the received topic, and stops on SIGTERM', async () => {
    const svc = await spawnService('ingestion');
    try {
      await waitReady(svc);
      const watch = await watchReceived();
      const payload = Buffer.from(`<feedback><report_metadata><report_id>${Date.now()}-${Math.random()}</report_id></report_metadata></feedback>`);
      await bus.publish('dmarc.reports.inbound', [
        { key: tenantId, tenantId, value: { tenantId, payload, filename: 'r.xml', contentType: 'text/xml', source: 'int-test', submittedAt: Date.now() } },
      ]);
      const got = await waitFor('received', () => watch.seen.find((m) => m.value.tenantId === tenantId && Buffer.isBuffer(m.value.raw) && m.value.raw.equals(payload)));
      await watch.close();
      expect(got.value).toMatchObject({ filename: 'r.xml', sizeBytes: payload.length, contentType: 'application/xml' });
      // Trace context flows even with no exporter configured: the service put its trace on what it published.
      expect(got.headers.traceparent).toMatch(/^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-0[01]$/);
      const row = await store.query<{ status: string; published: boolean; source: string }>(
        'SELECT status, published_at IS NOT NULL AS published, source FROM raw_reports WHERE id = $1',
        [got.value.reportId],
      );
      expect(row.rows[0]).toEqual({ status: 'received', published: true, source: 'int-test' });

      // A refused inbound report: kept as a failed row with its reason, and dead-lettered with the same reason.
      const letters: Array<Delivered<'dmarc.reports.inbound.dlq'>> = [];
      const dlq = await bus.consume({
        groupId: `ingestion-int-dlq-${Date.now()}`,
        topics: ['dmarc.reports.inbound.dlq'],
        fromBeginning: false,
        handler: async (m) => void letters.push(m as Delivered<'dmarc.reports.inbound.dlq'>),
      });
      const junk = Buffer.from(`GIF89a not a report ${Math.random()}`);
      await bus.publish('dmarc.reports.inbound', [
        { key: tenantId, tenantId, value: { tenantId, payload: junk, filename: 'x.gif', contentType: 'image/gif', source: 'int-test', submittedAt: Date.now() } },
      ]);
      const kept = await waitFor('the refused report kept', async () =>
        (await store.query<{ status: string; reason: string }>('SELECT status, reason FROM raw_reports WHERE tenant_id = $1 AND sha256 = $2', [tenantId, sha256Hex(junk)])).rows[0],
      );
      expect(kept).toEqual({ status: 'failed', reason: expect.stringContaining('declared "image/gif", starts with bytes 47 49 46 38') });
      const letter = await waitFor('the dead letter', () => letters.find((l) => l.value.payload !== null && l.value.reason.includes('GIF89a')));
      expect(letter.value).toMatchObject({ originalTopic: 'dmarc.reports.inbound', errorCode: 'INTAKE_UNSUPPORTED', retriable: false });
      await dlq.close();

      const metrics = await (await fetch(`${svc.base}/metrics`)).text();
      expect(metrics).toMatch(/dmarc_reports_accepted_total\{[^}]*duplicate="false"[^}]*\} [1-9]/);
    } finally {
      expect(await stopService(svc)).toBe(0);
    }
    const lines = svc.stdout.map((l) => JSON.parse(l) as { msg: string });
    expect(lines.map((l) => l.msg)).toEqual(expect.arrayContaining(['http listening', 'started', 'stopping', 'stopped']));
  });

  it('takes a burst of inbound reports as a batch: each new one published once, a copy counted as a duplicate, a refused one dead-lettered', async () => {
    const batchTenant = (await store.query<{ id: string }>(`INSERT INTO tenants (name) VALUES ('ingestion-int-batch') RETURNING id`)).rows[0].id;
    const svc = await spawnService('ingestion');
    try {
      await waitReady(svc);
      const watch = await watchReceived();
      const letters: Array<Delivered<'dmarc.reports.inbound.dlq'>> = [];
      const dlq = await bus.consume({
        groupId: `ingestion-int-batch-dlq-${Date.now()}`,
        topics: ['dmarc.reports.inbound.dlq'],
        fromBeginning: false,
        handler: async (m) => void letters.push(m as Delivered<'dmarc.reports.inbound.dlq'>),
      });
      const [a, b, c] = ['a', 'b', 'c'].map((n) => Buffer.from(`<feedback><report_id>${n}-${Date.now()}-${Math.random()}</report_id></feedback>`));
      const junk = Buffer.from(`GIF89a batch junk ${Math.random()}`);
      // One publish call, one key: one partition, so the service finds them together.
      await bus.publish(
        'dmarc.reports.inbound',
        [a, b, a, junk, c].map((payload, i) => ({
          key: batchTenant,
          tenantId: batchTenant,
          value: { tenantId: batchTenant, payload, filename: `r${i}.xml`, contentType: 'text/xml', source: 'int-test', submittedAt: Date.now() },
        })),
      );
      const sha = (p: Buffer) => sha256Hex(p);
      await waitFor('three reports received', () => (watch.seen.filter((m) => m.tenantId === batchTenant).length >= 3 ? true : undefined));
      const letter = await waitFor('the dead letter', () => letters.find((l) => l.value.payload !== null && l.value.reason.includes('GIF89a')));
      expect(letter.value).toMatchObject({ errorCode: 'INTAKE_UNSUPPORTED', retriable: false });
      // Give a second publication of anything time to show up before saying there was none.
      await new Promise((r) => setTimeout(r, 1000));
      await Promise.all([watch.close(), dlq.close()]);

      const got = watch.seen.filter((m) => m.tenantId === batchTenant);
      expect(got.map((m) => m.value.sha256).sort()).toEqual([sha(a), sha(b), sha(c)].sort());
      const rows = await store.query<{ sha256: string; status: string; published: boolean }>(
        'SELECT sha256, status, published_at IS NOT NULL AS published FROM raw_reports WHERE tenant_id = $1',
        [batchTenant],
      );
      expect(rows.rows).toHaveLength(4);
      expect(rows.rows.find((r) => r.sha256 === sha(junk))).toMatchObject({ status: 'failed', published: false });
      expect(rows.rows.filter((r) => r.sha256 !== sha(junk)).every((r) => r.status !== 'failed' && r.published)).toBe(true);
      const dups = await store.query<{ duplicates: string }>('SELECT duplicates FROM ingestion_daily_counts WHERE tenant_id = $1', [batchTenant]);
      expect(dups.rows).toEqual([{ duplicates: '1' }]);
    } finally {
      expect(await stopService(svc)).toBe(0);
    }
    // The copy was found by the batch path (lines of other batches may be there too: the group is shared).
    const batches = svc.stdout.map((l) => JSON.parse(l) as { msg: string; duplicates?: number }).filter((l) => l.msg === 'batch accepted');
    expect(batches.reduce((n, l) => n + (l.duplicates ?? 0), 0)).toBeGreaterThanOrEqual(1);
    // Per-report lines are debug: none at the default level.
    expect(svc.stdout.filter((l) => l.includes('"report accepted"'))).toEqual([]);
  });

  describe('over HTTP', () => {
    let svc: SpawnedService;
    beforeAll(async () => {
      svc = await spawnService('ingestion', { MAX_REPORT_BYTES: String(LIMIT) });
      await waitReady(svc);
    });
    afterAll(async () => {
      if (svc) expect(await stopService(svc)).toBe(0);
    });

    const haveCorpus = existsSync(path.join(CORPUS, CORPUS_SAMPLE));
    if (!haveCorpus) console.warn(`ingestion.int.test: corpus report test skipped: ${path.join(CORPUS, CORPUS_SAMPLE)} not found`);
    (haveCorpus ? it : it.skip)(`takes a real corpus report (${CORPUS_SAMPLE}) to dmarc.reports.received, once`, async () => {
      const bytes = readFileSync(path.join(CORPUS, CORPUS_SAMPLE));
      const watch = await watchReceived();
      try {
        const post = () =>
          fetch(`${svc.base}/v1/reports`, {
            method: 'POST',
            headers: { authorization: auth, 'content-type': 'application/gzip', 'content-disposition': `attachment; filename="${CORPUS_SAMPLE}"` },
            body: bytes,
          });
        const res = await post();
        expect(res.status).toBe(202);
        const { id } = (await res.json()) as { id: string };
        const got = await waitFor('the report on dmarc.reports.received', () => watch.seen.find((m) => m.value.reportId === id));
        expect(got.value).toMatchObject({ tenantId, sha256: sha256Hex(bytes), sizeBytes: bytes.length, contentType: 'application/gzip', filename: CORPUS_SAMPLE });
        expect(got.tenantId).toBe(tenantId);

        const again = await post();
        expect(again.status).toBe(200);
        expect(await again.json()).toEqual({ id, status: expect.any(String), duplicate: true });
        const view = (await (await fetch(`${svc.base}/v1/reports/${id}`, { headers: { authorization: auth } })).json()) as Record<string, unknown>;
        expect(view).toMatchObject({ id, sha256: sha256Hex(bytes), sizeBytes: bytes.length, filename: CORPUS_SAMPLE });
        // Give a duplicate publication time to show up before saying there was none.
        await new Promise((r) => setTimeout(r, 1000));
        expect(watch.seen.filter((m) => m.value.reportId === id)).toHaveLength(1);
      } finally {
        await watch.close();
      }
    });

    it('answers 413 to a body over the limit, reads no further, keeps its head, and keeps serving', async () => {
      // Streamed without a length: read up to the limit, then refused.
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      chunk.write('<feedback>');
      const streamed = await rawPost(svc.base, { authorization: auth, 'content-type': 'application/xml', 'transfer-encoding': 'chunked' }, Array(256).fill(chunk));
      expect(streamed.status).toBe(413);
      const body = JSON.parse(streamed.body) as { error: string; id: string; field: string };
      expect(body).toMatchObject({ error: 'PAYLOAD_TOO_LARGE', field: 'body' });
      const row = (await store.query<{ status: string; size: number; kept: number; reason: string }>(
        'SELECT status, size_bytes AS size, length(payload) AS kept, reason FROM raw_reports WHERE id = $1 AND tenant_id = $2',
        [body.id, tenantId],
      )).rows[0];
      expect(row).toMatchObject({ status: 'failed', kept: 64 * 1024 });
      expect(row.size).toBeGreaterThan(LIMIT);
      expect(row.size).toBeLessThan(2 * LIMIT);
      expect(row.reason).toMatch(/over the limit of 1048576 bytes/);

      // Announced as 1 GiB: refused after its head, long before the upload could finish.
      const announced = await rawPost(svc.base, { authorization: auth, 'content-type': 'application/octet-stream', 'content-length': String(1024 ** 3) }, Array(16384).fill(chunk));
      expect(announced.status).toBe(413);
      expect(JSON.parse(announced.body)).toMatchObject({ error: 'PAYLOAD_TOO_LARGE', message: expect.stringContaining('announced as 1073741824 bytes') });
      // What the client got written is what the sockets buffer (about 4 MiB here), not the gigabyte.
      expect(announced.bytesWritten).toBeLessThan(32 * LIMIT);
      // The client stopped sending on the answer; the server waits out its linger, then cuts the connection.
      const answeredAt = Date.now();
      await announced.closed;
      expect(Date.now() - answeredAt).toBeLessThan(LINGER_MS + 3000);

      expect(await status(svc.base, '/healthz')).toBe(200);
      const after = await fetch(`${svc.base}/v1/reports`, { method: 'POST', headers: { authorization: auth, 'content-type': 'text/xml' }, body: `<feedback>${Date.now()}</feedback>` });
      expect(after.status).toBe(202);
    });

    it('answers 415 to bytes that are no report, and keeps them with the reason', async () => {
      const garbage = Buffer.from(`\x89PNG\r\n\x1a\n not a report ${Date.now()}`, 'latin1');
      const res = await fetch(`${svc.base}/v1/reports`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/octet-stream' }, body: garbage });
      expect(res.status).toBe(415);
      const body = (await res.json()) as { error: string; message: string; id: string };
      expect(body).toMatchObject({ error: 'UNSUPPORTED_MEDIA_TYPE', message: expect.stringContaining('starts with bytes 89 50 4e 47') });
      const view = await fetch(`${svc.base}/v1/reports/${body.id}`, { headers: { authorization: auth } });
      expect(await view.json()).toMatchObject({ id: body.id, status: 'failed', reason: body.message, sizeBytes: garbage.length });
      const kept = (await store.query<{ payload: Buffer }>('SELECT payload FROM raw_reports WHERE id = $1', [body.id])).rows[0];
      expect(kept.payload.equals(garbage)).toBe(true);
      expect(await status(svc.base, '/healthz')).toBe(200);
    });
  });

  it('without Kafka: stays alive, not ready, logs one clear line per attempt and no stack trace', async () => {
    const svc = await spawnService('ingestion', { KAFKA_BROKERS: '127.0.0.1:1' });
    try {
      await waitFor('healthz', async () => ((await status(svc.base, '/healthz')) === 200 ? true : undefined));
      await waitFor('two attempts logged', async () => (svc.stdout.filter((l) => l.includes('unreachable') || l.includes('unavailable')).length >= 2 ? true : undefined), 30_000);
      expect(await status(svc.base, '/readyz')).toBe(503);
      // Uploads wait for Kafka too: refused with a retry hint, not taken and stranded.
      const upload = await fetch(`${svc.base}/v1/reports`, { method: 'POST', headers: { authorization: auth, 'content-type': 'text/xml' }, body: '<feedback/>' });
      expect(upload.status).toBe(503);
    } finally {
      expect(await stopService(svc)).toBe(0);
    }
    const all = [...svc.stdout, ...svc.stderr];
    expect(all.filter((l) => /^\s+at /.test(l) || l.includes('\\n    at '))).toEqual([]);
    const attempts = svc.stdout.map((l) => JSON.parse(l) as { level: string; msg: string }).filter((l) => l.level === 'warn');
    expect(attempts.length).toBeGreaterThanOrEqual(2);
    for (const a of attempts) expect(a.msg).toMatch(/127\.0\.0\.1:1|ECONNREFUSED|kafka/i);
  });

  it('refuses a wrong variable with one line naming it and exit code 78', async () => {
    const svc = await spawnService('ingestion', { PORT: 'not-a-port' });
    const [code] = (await once(svc.child, 'exit')) as [number];
    expect(code).toBe(78);
    expect(svc.stderr).toHaveLength(1);
    expect(svc.stderr[0]).toMatch(/^ingestion: configuration: PORT: .*"not-a-port"/);
  });
});
