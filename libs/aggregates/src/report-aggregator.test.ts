import { createInProcessBus, type Bus, type Delivered } from '@dmarc/bus';
import { loadContracts, type ReportParsed } from '@dmarc/contracts';
import { migrate, PgliteStore, type Store } from '@dmarc/store';
import { AGGREGATES_UPDATED_TOPIC, ANNOUNCE_EVERY_CHUNKS, PARSED_TOPIC, ReportAggregator, type ChunkOutcome } from './report-aggregator';
import { fixtureChunk, fixtureChunks, fixtureRecord } from './report-chunk-fixtures';

interface CounterRow {
  source_ip: string;
  header_from: string;
  messages: string;
  disposition_none: string;
  disposition_quarantine: string;
  disposition_reject: string;
  disposition_pass: string;
  dkim_aligned: string;
  spf_aligned: string;
  dmarc_pass: string;
}

describe('ReportAggregator (PGlite, in-process bus)', () => {
  let store: Store;
  let bus: Bus;
  const updates: Array<Delivered<typeof AGGREGATES_UPDATED_TOPIC>> = [];

  beforeAll(async () => {
    store = await PgliteStore.open();
    await migrate(store);
    bus = createInProcessBus({ contracts: loadContracts() });
    await bus.consume({ groupId: 'test-updates', topics: [AGGREGATES_UPDATED_TOPIC], handler: async (m) => void updates.push(m as Delivered<typeof AGGREGATES_UPDATED_TOPIC>) });
    // PGlite starts a whole PostgreSQL in WebAssembly: seconds on a busy 2-core machine.
  }, 60_000);
  afterAll(async () => {
    await bus.close();
    await store.close();
  });

  let n = 0;
  // Report ids are unique across tenants in the pipeline (derived from tenant and bytes); here too.
  const id = (tenantId: string, name: string) => `${name}-${tenantId.slice(0, 8)}`;
  const newTenant = async () => (await store.query<{ id: string }>('INSERT INTO tenants (name) VALUES ($1) RETURNING id', [`t${++n}`])).rows[0].id;
  const aggregator = (afterCommit?: (o: ChunkOutcome) => void) => new ReportAggregator({ db: store, publisher: bus, afterCommit, now: () => 42 });
  const counters = async (tenantId: string, domain = 'example.com') =>
    (
      await store.query<CounterRow>(
        `SELECT source_ip, header_from, messages, disposition_none, disposition_quarantine, disposition_reject, disposition_pass,
                dkim_aligned, spf_aligned, dmarc_pass
           FROM aggregate_counters WHERE tenant_id = $1 AND domain = $2 ORDER BY source_ip, header_from`,
        [tenantId, domain],
      )
    ).rows;
  const messages = async (tenantId: string) => (await counters(tenantId)).reduce((s, r) => s + Number(r.messages), 0);
  const report = async (tenantId: string, reportId: string) =>
    (await store.query('SELECT * FROM aggregate_reports WHERE tenant_id = $1 AND report_id = $2', [tenantId, reportId])).rows[0];
  const until = async (cond: () => boolean) => {
    for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  };

  it('counts a chunk into per-source counters, bookkeeps the report and announces the day', async () => {
    const t = await newTenant();
    const r1 = id(t, 'r1');
    const outcome = await aggregator().handle(
      fixtureChunk(t, r1, [
        fixtureRecord({ sourceIp: '192.0.2.1', count: 10, dkimAligned: true, spfAligned: false }),
        fixtureRecord({ sourceIp: '192.0.2.1', count: 5, disposition: 'quarantine', dkimAligned: false, spfAligned: false }),
        fixtureRecord({ sourceIp: '198.51.100.7', count: 3, disposition: 'reject', dkimAligned: false, spfAligned: true }),
      ]),
    );
    expect(outcome).toMatchObject({ applied: true, duplicate: false, reportComplete: true, records: 3, messages: 18, counterRows: 2, day: '2025-03-10' });
    expect(await counters(t)).toEqual([
      { source_ip: '192.0.2.1', header_from: 'example.com', messages: '15', disposition_none: '10', disposition_quarantine: '5', disposition_reject: '0', disposition_pass: '0', dkim_aligned: '10', spf_aligned: '0', dmarc_pass: '10' },
      { source_ip: '198.51.100.7', header_from: 'example.com', messages: '3', disposition_none: '0', disposition_quarantine: '0', disposition_reject: '3', disposition_pass: '0', dkim_aligned: '0', spf_aligned: '3', dmarc_pass: '3' },
    ]);
    expect(await report(t, r1)).toMatchObject({ org_name: 'google.com', external_report_id: `ext-${r1}`, chunks_seen: 1, chunk_count: 1, records_seen: '3', record_count: '3', messages: '18', duplicate_of: null, completed_at: expect.any(Date) });
    const policy = (await store.query('SELECT p, pct, adkim, aspf, day FROM aggregate_policies WHERE tenant_id = $1', [t])).rows;
    expect(policy).toEqual([{ p: 'reject', pct: 100, adkim: 'r', aspf: 'r', day: '2025-03-10' }]);
    const ledger = (await store.query(`SELECT message_id FROM processed_messages WHERE consumer = 'aggregation' AND message_id LIKE $1`, [`${r1}:%`])).rows;
    expect(ledger).toEqual([{ message_id: `${r1}:0` }]);
    await until(() => updates.some((u) => u.tenantId === t));
    expect(updates.find((u) => u.tenantId === t)?.value).toEqual({ tenantId: t, domain: 'example.com', days: ['2025-03-10'], reportId: r1, chunkIndex: 0, reportComplete: true, at: 42 });
  });

  it('counts a redelivered chunk once, through the bus as after a crash before the offset commit', async () => {
    const t = await newTenant();
    const agg = aggregator();
    const outcomes: ChunkOutcome[] = [];
    const sub = await bus.consume({
      groupId: `aggregation-${t}`,
      topics: [PARSED_TOPIC],
      handler: async (m) => void outcomes.push(await agg.handle(m.value as ReportParsed, { topic: m.topic, partition: m.partition, offset: m.offset })),
    });
    const r1 = id(t, 'r1');
    const c = fixtureChunk(t, r1, [fixtureRecord({ count: 4 }), fixtureRecord({ sourceIp: '203.0.113.9', count: 6, dkimAligned: false, spfAligned: false })]);
    await bus.publish(PARSED_TOPIC, [{ key: r1, tenantId: t, value: c }]);
    await bus.publish(PARSED_TOPIC, [{ key: r1, tenantId: t, value: c }]);
    await until(() => outcomes.filter((o) => o.tenantId === t).length === 2);
    await sub.close();
    expect(outcomes.map((o) => o.applied)).toEqual([true, false]);
    expect(await messages(t)).toBe(10);
    expect(await report(t, r1)).toMatchObject({ chunks_seen: 1, messages: '10' });
    const ledger = (await store.query(`SELECT topic, kafka_partition FROM processed_messages WHERE consumer = 'aggregation' AND message_id = $1`, [`${r1}:0`])).rows;
    expect(ledger).toEqual([{ topic: PARSED_TOPIC, kafka_partition: expect.any(Number) }]);
  });

  it('re-announces on a redelivery, since a crash may have come between the commit and the publish', async () => {
    const t = await newTenant();
    const c = fixtureChunk(t, id(t, 'r1'), [fixtureRecord({ count: 3 })]);
    const crash = new Error('killed after commit');
    await expect(aggregator(() => { throw crash; }).handle(c)).rejects.toBe(crash);
    expect(updates.filter((u) => u.tenantId === t)).toHaveLength(0);
    const again = await aggregator().handle(c);
    expect(again).toMatchObject({ applied: false, reportComplete: true });
    expect(await messages(t)).toBe(3);
    await until(() => updates.some((u) => u.tenantId === t));
    expect(updates.filter((u) => u.tenantId === t)).toHaveLength(1);
  });

  it('announces a report of many chunks on its first chunk, every ANNOUNCE_EVERY_CHUNKS-th and its completion only', async () => {
    const t = await newTenant();
    const total = ANNOUNCE_EVERY_CHUNKS + 2;
    const records = Array.from({ length: total }, (_, i) => fixtureRecord({ sourceIp: `192.0.2.${i % 250}`, count: 1 }));
    for (const c of fixtureChunks(t, id(t, 'big'), records, total)) await aggregator().handle(c);
    await new Promise((r) => setTimeout(r, 20));
    expect(updates.filter((u) => u.tenantId === t).map((u) => [u.value.chunkIndex, u.value.reportComplete])).toEqual([
      [0, false],
      [ANNOUNCE_EVERY_CHUNKS, false],
      [total - 1, true],
    ]);
    expect(await messages(t)).toBe(total);
  });

  it('does not count a report flagged as a duplicate of another, but records it', async () => {
    const t = await newTenant();
    const records = [fixtureRecord({ count: 8 }), fixtureRecord({ sourceIp: '203.0.113.9', count: 2 })];
    const [original, copy] = [id(t, 'original'), id(t, 'copy')];
    await aggregator().handle(fixtureChunk(t, original, records));
    const dup = await aggregator().handle(fixtureChunk(t, copy, records, { duplicateOf: original }));
    expect(dup).toMatchObject({ applied: true, duplicate: true, counterRows: 0, messages: 10 });
    expect(await messages(t)).toBe(10);
    expect(await report(t, copy)).toMatchObject({ duplicate_of: original, chunks_seen: 1, completed_at: expect.any(Date) });
    await new Promise((r) => setTimeout(r, 20));
    expect(updates.filter((u) => u.tenantId === t).map((u) => u.value.reportId)).toEqual([original]);
  });

  it('completes a report whose chunks arrive out of order, and marks its raw report aggregated', async () => {
    const t = await newTenant();
    const rawId = (
      await store.query<{ id: string }>(
        `INSERT INTO raw_reports (tenant_id, sha256, size_bytes, content_type, status) VALUES ($1, repeat('a', 64), 10, 'text/xml', 'parsed') RETURNING id`,
        [t],
      )
    ).rows[0].id;
    const records = Array.from({ length: 9 }, (_, i) => fixtureRecord({ sourceIp: `192.0.2.${i}`, count: i + 1 }));
    const [c0, c1, c2] = fixtureChunks(t, rawId, records, 3);
    const status = async () => (await store.query<{ status: string }>('SELECT status FROM raw_reports WHERE id = $1', [rawId])).rows[0].status;

    expect(await aggregator().handle(c2)).toMatchObject({ reportComplete: false });
    expect(await aggregator().handle(c0)).toMatchObject({ reportComplete: false });
    expect(await report(t, rawId)).toMatchObject({ chunks_seen: 2, chunk_count: 3, completed_at: null });
    expect(await status()).toBe('parsed');
    expect(await aggregator().handle(c0)).toMatchObject({ applied: false, reportComplete: false });
    expect(await aggregator().handle(c1)).toMatchObject({ applied: true, reportComplete: true });
    expect(await report(t, rawId)).toMatchObject({ chunks_seen: 3, chunk_count: 3, records_seen: '9', record_count: '9', messages: '45', completed_at: expect.any(Date) });
    expect(await status()).toBe('aggregated');
    expect(await messages(t)).toBe(45);
  });

  it('keeps two tenants with the same domain apart', async () => {
    const a = await newTenant();
    const b = await newTenant();
    await aggregator().handle(fixtureChunk(a, id(a, 'r1'), [fixtureRecord({ count: 100 })]));
    await aggregator().handle(fixtureChunk(b, id(b, 'r1'), [fixtureRecord({ count: 1, disposition: 'reject', dkimAligned: false, spfAligned: false })]));
    expect(await counters(a)).toEqual([expect.objectContaining({ messages: '100', dmarc_pass: '100', disposition_reject: '0' })]);
    expect(await counters(b)).toEqual([expect.objectContaining({ messages: '1', dmarc_pass: '0', disposition_reject: '1' })]);
    expect(await report(a, id(a, 'r1'))).toMatchObject({ messages: '100' });
    expect(await report(b, id(b, 'r1'))).toMatchObject({ messages: '1' });
  });

  it('refuses, rather than skips, a report id another tenant already used (ledger keys are report:chunk)', async () => {
    const a = await newTenant();
    const b = await newTenant();
    await aggregator().handle(fixtureChunk(a, 'shared-id', [fixtureRecord({ count: 2 })]));
    await expect(aggregator().handle(fixtureChunk(b, 'shared-id', [fixtureRecord({ count: 3 })]))).rejects.toMatchObject({
      code: 'AGGREGATION_REPORT_ID_COLLISION',
      retriable: false,
    });
    expect(await messages(a)).toBe(2);
    expect(await messages(b)).toBe(0);
  });

  it('keeps the policy of the report whose period ends last, whatever order reports arrive in', async () => {
    const t = await newTenant();
    const withPolicy = (id: string, end: number, p: string) => {
      const c = fixtureChunk(t, id, [fixtureRecord()]);
      return { ...c, metadata: { ...c.metadata, end, policy: { ...c.metadata.policy, p } } };
    };
    const base = fixtureChunk(t, 'x', []).metadata.end;
    await aggregator().handle(withPolicy(id(t, 'later'), base, 'quarantine'));
    await aggregator().handle(withPolicy(id(t, 'earlier'), base - 3_600_000, 'none'));
    const rows = (await store.query('SELECT p, report_id FROM aggregate_policies WHERE tenant_id = $1', [t])).rows;
    expect(rows).toEqual([{ p: 'quarantine', report_id: id(t, 'later') }]);
  });

  it('adds to counters already there, across reports of the same day', async () => {
    const t = await newTenant();
    await aggregator().handle(fixtureChunk(t, id(t, 'r1'), [fixtureRecord({ count: 2 })]));
    await aggregator().handle(fixtureChunk(t, id(t, 'r2'), [fixtureRecord({ count: 3, disposition: 'quarantine', dkimAligned: false, spfAligned: false })]));
    expect(await counters(t)).toEqual([
      expect.objectContaining({ messages: '5', disposition_none: '2', disposition_quarantine: '3', dkim_aligned: '2', dmarc_pass: '2' }),
    ]);
  });

  it('refuses a chunk of an unknown tenant without writing anything (non-retriable, for the DLQ)', async () => {
    const ghost = '00000000-0000-4000-8000-000000000000';
    await expect(aggregator().handle(fixtureChunk(ghost, 'ghost-report', [fixtureRecord()]))).rejects.toMatchObject({ retriable: false });
    // Rolled back whole: not even the ledger row, so a replay from the DLQ once the tenant exists counts it.
    expect((await store.query(`SELECT 1 FROM processed_messages WHERE message_id = 'ghost-report:0'`)).rows).toEqual([]);
    expect((await store.query('SELECT 1 FROM aggregate_reports WHERE tenant_id = $1', [ghost])).rows).toEqual([]);
  });

  it('applies a chunk of thousands of records with one counter row per source', async () => {
    const t = await newTenant();
    const records = Array.from({ length: 5000 }, (_, i) => fixtureRecord({ sourceIp: `10.0.${(i % 1000) >> 8}.${i % 1000 & 255}`, count: 1 }));
    const outcome = await aggregator().handle(fixtureChunk(t, id(t, 'big'), records));
    expect(outcome).toMatchObject({ records: 5000, messages: 5000, counterRows: 1000 });
    expect(await messages(t)).toBe(5000);
  });

  describe('write-behind', () => {
    const silent = { publish: async () => undefined, publishRaw: async () => undefined };
    const tenant = async () => (await store.query<{ id: string }>(`INSERT INTO tenants (name) VALUES ('wb') RETURNING id`)).rows[0].id;
    const total = async (t: string) =>
      (await store.query<{ ip: string; messages: string }>('SELECT source_ip AS ip, messages FROM aggregate_counters WHERE tenant_id = $1 ORDER BY 1', [t])).rows;

    it('calls made while a flush is pending share one transaction, their counters summed per key', async () => {
      const t = await tenant();
      let flushes = 0;
      const agg = new ReportAggregator({ db: store, publisher: silent, writeBehind: { lingerMs: 30, maxDelayMs: 30 }, beforeFlush: () => void flushes++ });
      const outcomes = await Promise.all(
        [1, 2, 3, 4].map((n) => agg.handleMany([{ chunk: fixtureChunk(t, `wb-${t}-${n}`, [fixtureRecord({ count: n }), fixtureRecord({ sourceIp: `198.51.100.${n}`, count: 10 })]) }])),
      );
      expect(flushes).toBe(1);
      expect(outcomes.flat().map((o) => [o.applied, o.counterRows])).toEqual([[true, 2], [true, 2], [true, 2], [true, 2]]);
      expect(await total(t)).toEqual([
        { ip: '192.0.2.1', messages: '10' },
        { ip: '198.51.100.1', messages: '10' },
        { ip: '198.51.100.2', messages: '10' },
        { ip: '198.51.100.3', messages: '10' },
        { ip: '198.51.100.4', messages: '10' },
      ]);
    });

    it('a flush holding a chunk already applied (redelivered after a crash) counts every other chunk once and that one not again', async () => {
      const t = await tenant();
      const chunk = (n: number) => fixtureChunk(t, `wb-${t}-${n}`, [fixtureRecord({ count: n })]);
      // The crash: chunk 2 committed, its offset not.
      await new ReportAggregator({ db: store, publisher: silent, writeBehind: false }).handle(chunk(2));
      const agg = new ReportAggregator({ db: store, publisher: silent, writeBehind: { lingerMs: 30, maxDelayMs: 30 } });
      const outcomes = await Promise.all([1, 2, 3].map((n) => agg.handle(chunk(n))));
      expect(outcomes.map((o) => o.applied)).toEqual([true, false, true]);
      expect(await total(t)).toEqual([{ ip: '192.0.2.1', messages: '6' }]);
      const ledger = await store.query(`SELECT message_id FROM processed_messages WHERE message_id LIKE $1 ORDER BY 1`, [`wb-${t}-%`]);
      expect(ledger.rows.map((r) => r.message_id)).toEqual([1, 2, 3].map((n) => `wb-${t}-${n}:0`));
    });

    it('a crash before the flush loses nothing that a redelivery does not bring back: nothing was written', async () => {
      const t = await tenant();
      const crash = new Error('killed before the flush');
      const doomed = new ReportAggregator({ db: store, publisher: silent, beforeFlush: () => { throw crash; } });
      await expect(doomed.handle(fixtureChunk(t, `wb-${t}-1`, [fixtureRecord({ count: 7 })]))).rejects.toBe(crash);
      expect(await total(t)).toEqual([]);
      await new ReportAggregator({ db: store, publisher: silent }).handle(fixtureChunk(t, `wb-${t}-1`, [fixtureRecord({ count: 7 })]));
      expect(await total(t)).toEqual([{ ip: '192.0.2.1', messages: '7' }]);
    });
  });

  describe('work within the flush (withinFlush)', () => {
    const silent = { publish: async () => undefined, publishRaw: async () => undefined };
    const tenant = async () => (await store.query<{ id: string }>(`INSERT INTO tenants (name) VALUES ('wf') RETURNING id`)).rows[0].id;
    const total = async (t: string) => (await store.query<{ messages: string }>('SELECT sum(messages)::text AS messages FROM aggregate_counters WHERE tenant_id = $1', [t])).rows[0].messages;

    it('sees the flush’s counters, gets only the chunks it applied, and runs its follow-up once the flush committed', async () => {
      const t = await tenant();
      const chunk = (n: number) => fixtureChunk(t, `wf-${t}-${n}`, [fixtureRecord({ count: n })]);
      await new ReportAggregator({ db: store, publisher: silent, writeBehind: false }).handle(chunk(2));
      const seen: Array<{ ids: string[]; counted: string }> = [];
      const committed: string[][] = [];
      const agg = new ReportAggregator({
        db: store,
        publisher: silent,
        writeBehind: { lingerMs: 30, maxDelayMs: 30 },
        withinFlush: async (tx, applied) => {
          const ids = applied.map((a) => a.counts.reportId).sort();
          const { rows } = await tx.query<{ messages: string }>('SELECT sum(messages)::text AS messages FROM aggregate_counters WHERE tenant_id = $1', [t]);
          seen.push({ ids, counted: rows[0].messages });
          return () => void committed.push(ids);
        },
      });
      const outcomes = await Promise.all([1, 2, 3].map((n) => agg.handle(chunk(n))));
      expect(outcomes.map((o) => o.applied)).toEqual([true, false, true]);
      expect(seen).toEqual([{ ids: [`wf-${t}-1`, `wf-${t}-3`], counted: '6' }]);
      expect(committed).toEqual([[`wf-${t}-1`, `wf-${t}-3`]]);
    });

    it('rolls the counters back with it when it fails; when the merged attempt fails the exact path runs the whole flush again', async () => {
      const t = await tenant();
      let calls = 0;
      const agg = new ReportAggregator({
        db: store,
        publisher: silent,
        writeBehind: { lingerMs: 30, maxDelayMs: 30 },
        withinFlush: async () => {
          if (++calls === 1) throw new Error('the first attempt fails');
        },
      });
      const outcomes = await Promise.all([1, 2].map((n) => agg.handle(fixtureChunk(t, `wf-${t}-${n}`, [fixtureRecord({ count: n })]))));
      expect(calls).toBe(2);
      expect(outcomes.map((o) => o.applied)).toEqual([true, true]);
      expect(await total(t)).toBe('3');

      const failing = new ReportAggregator({
        db: store,
        publisher: silent,
        writeBehind: false,
        withinFlush: async () => {
          throw new Error('always fails');
        },
      });
      await expect(failing.handle(fixtureChunk(t, `wf-${t}-9`, [fixtureRecord({ count: 100 })]))).rejects.toThrow('always fails');
      expect(await total(t)).toBe('3');
      expect((await store.query(`SELECT 1 FROM processed_messages WHERE message_id = $1`, [`wf-${t}-9:0`])).rowCount).toBe(0);
    });

    it('needs a store with transactions', () => {
      const queryOnly = { query: store.query.bind(store), exec: store.exec.bind(store) };
      expect(() => new ReportAggregator({ db: queryOnly, publisher: silent, withinFlush: async () => undefined })).toThrow('withinFlush needs a Store');
    });
  });
});
