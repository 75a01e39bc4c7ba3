import { fixtureChunk, fixtureChunks, fixtureRawReport, fixtureRecord, type DomainSummary } from '@dmarc/aggregates';
import { createKafkaBus, type Bus, type Delivered } from '@dmarc/bus';
import { loadContracts, type AggregatesUpdatedV1, type AggregateRecord, type ReportParsed } from '@dmarc/contracts';
import { PgStore, runMigrations } from '@dmarc/store';
import { issueApiKey } from '@dmarc/tenant-auth';
import { spawnService, stopService, waitFor, waitReady, type SpawnedService } from '@dmarc/testing';
import { once } from 'node:events';

// `dmarc serve aggregation` as ops run it, against the real broker and PostgreSQL. Each test run has
// its own consumer group starting at the newest chunk, so it neither replays the topic's history nor
// competes with an aggregation service someone else runs on the same broker.
const run = `${Date.now()}-${process.pid}`;
const DOMAIN = 'agg-int.example';

describe('dmarc serve aggregation (real Kafka and PostgreSQL)', () => {
  let store: PgStore;
  let bus: Bus;
  const updates: AggregatesUpdatedV1[] = [];

  beforeAll(async () => {
    await runMigrations(process.env.DATABASE_URL!, { info: () => undefined });
    store = new PgStore({ url: process.env.DATABASE_URL! });
    bus = await createKafkaBus({ brokers: process.env.KAFKA_BROKERS!.split(','), clientId: 'aggregation-int', contracts: loadContracts() });
    await bus.ensureTopics([{ topic: 'dmarc.reports.parsed' }, { topic: 'dmarc.aggregates.updated' }]);
    // Its own group from the beginning: the updates topic only ever holds aggregation's announcements.
    await bus.consume({
      groupId: `aggregation-int-updates-${run}`,
      topics: ['dmarc.aggregates.updated'],
      handler: async (m) => void updates.push((m as Delivered<'dmarc.aggregates.updated'>).value),
    });
  });
  afterAll(async () => {
    await bus?.close();
    await store?.close();
  });

  const newTenant = async (name: string) => {
    const id = (await store.query<{ id: string }>('INSERT INTO tenants (name) VALUES ($1) RETURNING id', [`${name}-${run}`])).rows[0].id;
    return { id, key: (await issueApiKey(store, id)).key };
  };
  const rawReport = (tenantId: string) => fixtureRawReport(store, tenantId);
  const publish = (key: string, chunks: ReportParsed[]) =>
    bus.publish('dmarc.reports.parsed', chunks.map((value) => ({ key, tenantId: value.tenantId, value })));
  const forDomain = (c: ReportParsed, domain: string): ReportParsed => ({ ...c, metadata: { ...c.metadata, policy: { ...c.metadata.policy, domain } } });
  const reportRow = (tenantId: string, reportId: string) =>
    store
      .query<{ chunks_seen: number; complete: boolean }>('SELECT chunks_seen, completed_at IS NOT NULL AS complete FROM aggregate_reports WHERE tenant_id = $1 AND report_id = $2', [
        tenantId,
        reportId,
      ])
      .then((r) => r.rows[0]);

  // A new group starts at the newest offset only once it has its partitions, and readiness does not
  // wait for that: publish throwaway chunks (same key, so the same partition) until one is counted.
  // Its offset is then committed, so a restart of the same group resumes there.
  const primeGroup = async (tenantId: string, key: string) => {
    let i = 0;
    await waitFor(
      'the consumer group to be assigned',
      async () => {
        const probe = forDomain(fixtureChunk(tenantId, `probe-${run}-${++i}`, [fixtureRecord()]), 'probe.example');
        await publish(key, [probe]);
        await new Promise((r) => setTimeout(r, 1500));
        const rows = await store.query(`SELECT 1 FROM aggregate_reports WHERE tenant_id = $1 AND domain = 'probe.example'`, [tenantId]);
        return rows.rowCount > 0 ? true : undefined;
      },
      90_000,
    );
  };
  const summary = async (svc: SpawnedService, key: string | undefined, query = 'from=2025-03-01&to=2025-03-31') => {
    const res = await fetch(`${svc.base}/v1/domains/${DOMAIN}/summary?${query}`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
    return { status: res.status, body: (await res.json()) as DomainSummary & { error?: string; field?: string } };
  };

  it('consumes published chunks (out of order, redelivered, duplicate, two tenants) and the summary API returns the exact totals', async () => {
    const acme = await newTenant('agg-int-acme');
    const globex = await newTenant('agg-int-globex');
    const svc = await spawnService('aggregation', { CONSUMER_GROUP: `aggregation-int-${run}`, CONSUME_FROM_BEGINNING: 'false' });
    try {
      await waitReady(svc);
      await primeGroup(acme.id, acme.id);

      // acme: a 3-chunk report of 6 records (21 messages, 15 aligned), sent 2, 0, 1 and chunk 0 again.
      const big = await rawReport(acme.id);
      const records: AggregateRecord[] = [1, 2, 3, 4, 5, 6].map((n) =>
        fixtureRecord({ sourceIp: `192.0.2.${n % 3}`, count: n, dkimAligned: n !== 6, spfAligned: n !== 6, disposition: n === 6 ? 'reject' : 'none' }),
      );
      const [c0, c1, c2] = fixtureChunks(acme.id, big, records, 3).map((c) => forDomain(c, DOMAIN));
      // acme: a one-chunk report (10 messages, quarantined, failing), and the same report again through other bytes.
      const small = await rawReport(acme.id);
      const failing = [fixtureRecord({ sourceIp: '203.0.113.9', count: 10, disposition: 'quarantine', dkimAligned: false, spfAligned: false })];
      const one = forDomain(fixtureChunk(acme.id, small, failing), DOMAIN);
      const copy = forDomain(fixtureChunk(acme.id, `copy-of-${small}`, failing, { duplicateOf: small }), DOMAIN);
      // globex: the same domain, its own traffic.
      const theirs = forDomain(fixtureChunk(globex.id, `globex-${run}`, [fixtureRecord({ sourceIp: '198.51.100.1', count: 1000 })]), DOMAIN);
      await publish(acme.id, [c2, c0, c1, c0, one, copy]);
      await publish(globex.id, [theirs]);

      await waitFor('every report aggregated', async () => {
        const done = await Promise.all([reportRow(acme.id, big), reportRow(acme.id, small), reportRow(acme.id, `copy-of-${small}`), reportRow(globex.id, `globex-${run}`)]);
        return done.every((r) => r?.complete) ? done : undefined;
      });
      expect(await reportRow(acme.id, big)).toEqual({ chunks_seen: 3, complete: true });
      const statuses = await store.query<{ id: string; status: string }>('SELECT id, status FROM raw_reports WHERE id = ANY($1::uuid[]) ORDER BY id', [[big, small]]);
      expect(statuses.rows.map((r) => r.status)).toEqual(['aggregated', 'aggregated']);

      const { status, body } = await summary(svc, acme.key);
      expect(status).toBe(200);
      expect(body.totals).toEqual({ messages: 31, dmarcPass: 15, dkimAligned: 15, spfAligned: 15, dispositions: { none: 15, quarantine: 10, reject: 6, pass: 0 } });
      expect(body.complianceRate).toBeCloseTo(15 / 31, 12);
      expect(body.days.find((d) => d.day === '2025-03-10')).toMatchObject({ messages: 31, dmarcPass: 15 });
      expect(body.days).toHaveLength(31);
      expect(body.topSources.map((s) => [s.sourceIp, s.messages])).toEqual([
        ['203.0.113.9', 10],
        ['192.0.2.0', 9],
        ['192.0.2.2', 7],
        ['192.0.2.1', 5],
      ]);
      expect(body.topSources[1].passRate).toBeCloseTo(3 / 9, 12);
      expect(body.reports).toEqual({ count: 2, complete: 2 });

      const theirSummary = await summary(svc, globex.key);
      expect(theirSummary.body.totals).toMatchObject({ messages: 1000, dmarcPass: 1000 });
      expect(theirSummary.body.topSources.map((s) => s.sourceIp)).toEqual(['198.51.100.1']);

      const sources = await fetch(`${svc.base}/v1/domains/${DOMAIN}/sources?from=2025-03-10&to=2025-03-10`, { headers: { authorization: `Bearer ${acme.key}` } });
      expect(((await sources.json()) as { total: number }).total).toBe(4);
      expect((await summary(svc, undefined)).status).toBe(401);
      expect((await summary(svc, acme.key, 'from=2025-13-01')).body).toMatchObject({ error: 'VALIDATION_FAILED', field: 'from' });

      const announced = await waitFor('updates for the domain', () => {
        const mine = updates.filter((u) => u.tenantId === acme.id && u.domain === DOMAIN);
        // One announcement per tenant and domain per batch, naming a completed report of it: `small` is the last
        // counted, so it is named however the chunks were cut into batches (and one by one too).
        return mine.some((u) => u.reportId === small && u.reportComplete) ? mine : undefined;
      });
      expect(announced.every((u) => u.days.length === 1 && u.days[0] === '2025-03-10')).toBe(true);
      expect(announced.some((u) => u.reportId === `copy-of-${small}`)).toBe(false);
      // Through the batch fast path (BATCH_MAX_MESSAGES defaults to 100), not only the per-message handler.
      expect(svc.stdout.some((line) => line.includes('"batch aggregated"'))).toBe(true);
    } finally {
      expect(await stopService(svc)).toBe(0);
    }
  });

  // A SIGKILLed member keeps its partitions until its session times out (30 s): longer than the default.
  it.each([
    ['with chunks buffered, before the write-behind flush', 'AGGREGATION_CRASH_BEFORE_FLUSH_OF_TENANT', 'nothing lost'],
    ['after the flush committed, before the offset commit', 'AGGREGATION_CRASH_AFTER_FIRST_COMMIT', 'not doubled'],
  ])('killed %s, then restarted: counts exact (%s)', async (_when, flag, _claim) => {
    const tenant = await newTenant('agg-int-kill');
    const group = `aggregation-int-kill-${flag}-${run}`;
    const env = { CONSUMER_GROUP: group, CONSUME_FROM_BEGINNING: 'false' };

    // First life: joins the group and commits an offset on the partition the report will use.
    const first = await spawnService('aggregation', env);
    await waitReady(first);
    await primeGroup(tenant.id, tenant.id);
    expect(await stopService(first)).toBe(0);

    // Second life: dies by SIGKILL at the first flush, or right after the first flush's transaction commits.
    const doomed = await spawnService('aggregation', { ...env, [flag]: flag === 'AGGREGATION_CRASH_AFTER_FIRST_COMMIT' ? 'true' : tenant.id });
    await waitReady(doomed);
    const reportId = await rawReport(tenant.id);
    const records = Array.from({ length: 40 }, (_, i) => fixtureRecord({ sourceIp: `10.1.0.${i % 7}`, count: i + 1, dkimAligned: i % 2 === 0, spfAligned: false }));
    const chunks = fixtureChunks(tenant.id, reportId, records, 4).map((c) => forDomain(c, DOMAIN));
    const exited = once(doomed.child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    await publish(tenant.id, chunks);
    const [code, signal] = await exited;
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGKILL' });
    // After the commit it died with its first flush in the database (one chunk or more) and no offset committed
    // for it; before the flush, with nothing of the report written at all.
    const before = await reportRow(tenant.id, reportId);
    if (flag === 'AGGREGATION_CRASH_BEFORE_FLUSH_OF_TENANT') expect(before).toBeUndefined();
    else expect(before.chunks_seen).toBeGreaterThanOrEqual(1);

    // Third life: Kafka redelivers from the last committed offset, including any chunk already counted.
    const restarted = await spawnService('aggregation', env);
    try {
      await waitReady(restarted);
      // The report may have been complete before the restart (a whole flush committed): wait for the redelivery too.
      const redelivered = /dmarc_aggregated_chunks_total\{[^}]*outcome="redelivered"[^}]*\} [1-9]/;
      const mustSee = flag === 'AGGREGATION_CRASH_AFTER_FIRST_COMMIT' ? redelivered : /dmarc_aggregated_chunks_total/;
      await waitFor(
        'the report complete (and the redelivery seen when it was committed before the crash)',
        async () => ((await reportRow(tenant.id, reportId))?.complete && mustSee.test(await (await fetch(`${restarted.base}/metrics`)).text()) ? true : undefined),
        100_000,
      );
      expect(await reportRow(tenant.id, reportId)).toEqual({ chunks_seen: 4, complete: true });

      const { body } = await summary(restarted, tenant.key);
      const messages = records.reduce((s, r) => s + r.count, 0);
      const aligned = records.filter((r) => r.dkimAligned).reduce((s, r) => s + r.count, 0);
      expect(body.totals).toEqual({ messages, dmarcPass: aligned, dkimAligned: aligned, spfAligned: 0, dispositions: { none: messages, quarantine: 0, reject: 0, pass: 0 } });
      const ledger = await store.query(`SELECT message_id FROM processed_messages WHERE consumer = 'aggregation' AND message_id LIKE $1 ORDER BY message_id`, [`${reportId}:%`]);
      expect(ledger.rows.map((r) => r.message_id)).toEqual([0, 1, 2, 3].map((i) => `${reportId}:${i}`));
    } finally {
      expect(await stopService(restarted)).toBe(0);
    }
  }, 240_000);
});
