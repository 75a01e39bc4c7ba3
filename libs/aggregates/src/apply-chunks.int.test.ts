import { createHash } from 'node:crypto';
import type { MessageTrace, OutgoingMessage, Publisher } from '@dmarc/bus';
import type { AggregateRecord, AggregatesUpdatedInput, ReportParsed } from '@dmarc/contracts';
import { PgStore, runMigrations } from '@dmarc/store';
import { countChunk } from './chunk-counts';
import { applyChunks, applyChunksMerged, type ChunkToApply } from './chunk-writer';
import type { Queryable } from '@dmarc/store';
import { AGGREGATES_UPDATED_TOPIC, ANNOUNCE_EVERY_CHUNKS, ReportAggregator, type ChunkOutcome } from './report-aggregator';
import { FIXTURE_BEGIN, fixtureChunk, fixtureChunks, fixtureRawReport, fixtureRecord } from './report-chunk-fixtures';

// The batch path against the real PostgreSQL the services use: its results must be those of applying the
// same chunks one by one, whatever the batches, redeliveries and concurrency.
const DAY = 86_400_000;

// Numbers in [0, 1) that a seed fixes, so a failing case can be run again.
const seeded = (seed: number) => {
  let n = 0;
  return () => createHash('sha256').update(`${seed}:${n++}`).digest().readUInt32BE(0) / 2 ** 32;
};

describe('applyChunks / ReportAggregator.handleMany (real PostgreSQL)', () => {
  let store: PgStore;

  beforeAll(async () => {
    await runMigrations(process.env.DATABASE_URL!, { info: () => undefined });
    store = new PgStore({ url: process.env.DATABASE_URL!, poolSize: 4 });
  });
  afterAll(async () => {
    await store?.close();
  });

  const newTenant = async () => (await store.query<{ id: string }>(`INSERT INTO tenants (name) VALUES ('aggregates-batch-int') RETURNING id`)).rows[0].id;
  const rawReport = (tenantId: string) => fixtureRawReport(store, tenantId);
  const counted = (chunks: ReportParsed[]): ChunkToApply[] => chunks.map((c) => ({ counts: countChunk(c) }));
  const inOrder = async (chunks: ReportParsed[]) => {
    for (const item of counted(chunks)) await applyChunks(store, [item]);
  };

  /** Everything aggregation wrote for a tenant, report ids replaced by `name` so two tenants compare. */
  const snapshot = async (tenantId: string, name: (reportId: string | null) => string | null) => {
    const counters = await store.query(
      `SELECT domain, day, source_ip, header_from, messages, disposition_none, disposition_quarantine, disposition_reject,
              disposition_pass, dkim_aligned, spf_aligned, dmarc_pass
         FROM aggregate_counters WHERE tenant_id = $1 ORDER BY domain, day, source_ip, header_from`,
      [tenantId],
    );
    const policies = await store.query<{ report_id: string }>(
      `SELECT domain, day, p, sp, np, pct, adkim, aspf, fo, testing, observed_at, report_id
         FROM aggregate_policies WHERE tenant_id = $1 ORDER BY domain, day`,
      [tenantId],
    );
    const reports = await store.query<{ report_id: string; duplicate_of: string | null; complete: boolean }>(
      `SELECT report_id, domain, day, org_name, external_report_id, begin_at, end_at, duplicate_of, chunks_seen, chunk_count,
              records_seen, record_count, messages, completed_at IS NOT NULL AS complete
         FROM aggregate_reports WHERE tenant_id = $1`,
      [tenantId],
    );
    const raw = await store.query<{ id: string; status: string }>('SELECT id, status FROM raw_reports WHERE tenant_id = $1', [tenantId]);
    const byName = <T extends { name: string | null }>(rows: T[]) => rows.sort((a, b) => (a.name! < b.name! ? -1 : 1));
    return {
      counters: counters.rows,
      policies: policies.rows.map(({ report_id, ...rest }) => ({ ...rest, name: name(report_id) })),
      reports: byName(
        reports.rows.map(({ report_id, duplicate_of, ...rest }) => ({ ...rest, name: name(report_id), duplicateOf: name(duplicate_of) })),
      ),
      raw: byName(raw.rows.map(({ id, status }) => ({ name: name(id), status }))),
    };
  };

  /**
   * A day's traffic with everything that makes bookkeeping hard: reports of 1-5 chunks over three
   * domains and days, sources shared across reports, policies that differ by report and period end,
   * duplicates, raw reports to mark aggregated. Report ids are the tenant's own (ledger keys are global).
   */
  const traffic = async (tenantId: string, seed: number) => {
    const r = seeded(seed);
    const names = new Map<string, string>();
    const idOf = new Map<string, string>();
    const chunks: ReportParsed[] = [];
    for (let i = 0; i < 40; i++) {
      const logical = `report-${i}`;
      const id = i % 3 === 0 ? await rawReport(tenantId) : `${logical}-${tenantId}`;
      names.set(id, logical);
      idOf.set(logical, id);
      const domain = `d${Math.floor(r() * 3)}.example`;
      const begin = FIXTURE_BEGIN + Math.floor(r() * 3) * DAY;
      // Periods end at distinct times: a tie goes to the greater report id, and ids differ between the two tenants.
      const end = begin + DAY - 1000 - Math.floor(r() * 4) * 3_600_000 - i * 1000;
      const p = ['none', 'quarantine', 'reject'][Math.floor(r() * 3)];
      const records: AggregateRecord[] = Array.from({ length: 1 + Math.floor(r() * 12) }, () =>
        fixtureRecord({
          sourceIp: `192.0.2.${Math.floor(r() * 8)}`,
          headerFrom: r() < 0.7 ? domain : `news.${domain}`,
          count: 1 + Math.floor(r() * 40),
          disposition: (['none', 'quarantine', 'reject', 'pass'] as const)[Math.floor(r() * 4)],
          dkimAligned: r() < 0.6,
          spfAligned: r() < 0.5,
        }),
      );
      // One report in eight is a copy of an earlier one, arriving through other bytes.
      const duplicateOf = i > 4 && r() < 0.125 ? idOf.get(`report-${Math.floor(r() * (i - 1))}`)! : null;
      const n = Math.min(records.length, 1 + Math.floor(r() * 5));
      for (const c of fixtureChunks(tenantId, id, records, n)) {
        chunks.push({ ...c, duplicateOf, metadata: { ...c.metadata, externalReportId: logical, begin, end, policy: { ...c.metadata.policy, domain, p } } });
      }
    }
    return { chunks, name: (id: string | null) => (id === null ? null : (names.get(id) ?? id)) };
  };

  const shuffle = <T>(xs: T[], r: () => number) => {
    const out = [...xs];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  };

  /** The deliveries cut into batches of `min` to `min + 29`, each applied in turn; whether each chunk applied. */
  const inRandomBatches = async (deliveries: ReportParsed[], r: () => number, min: number, apply: (batch: ReportParsed[]) => Promise<Array<{ applied: boolean }>>) => {
    const results: boolean[] = [];
    for (let i = 0; i < deliveries.length; ) {
      const size = min + Math.floor(r() * 30);
      results.push(...(await apply(deliveries.slice(i, i + size))).map((x) => x.applied));
      i += size;
    }
    return results;
  };

  it.each([1, 2, 3, 4, 5])('writes the same rows one by one and in random batches, redeliveries included (seed %i)', async (seed) => {
    const one = await newTenant();
    const many = await newTenant();
    const a = await traffic(one, seed);
    const b = await traffic(many, seed);
    await inOrder(a.chunks);

    // The same chunks shuffled, a fifth of them delivered twice, cut into batches of 1 to 30.
    const r = seeded(seed * 7919);
    const again = b.chunks.filter(() => r() < 0.2);
    const deliveries = shuffle([...b.chunks, ...again], r);
    const results = await inRandomBatches(deliveries, r, 1, (batch) => applyChunks(store, counted(batch)));
    expect(results.filter(Boolean)).toHaveLength(b.chunks.length);

    const expected = await snapshot(one, a.name);
    expect(expected.counters.length).toBeGreaterThan(20);
    expect(expected.reports.filter((x) => x.complete)).toHaveLength(40);
    expect(expected.raw.every((x) => x.status === 'aggregated')).toBe(true);
    expect(await snapshot(many, b.name)).toEqual(expected);
  });

  it.each([6, 7])('applyChunksMerged (counters summed across chunks) writes the same rows, and falls back exactly on a redelivery (seed %i)', async (seed) => {
    const one = await newTenant();
    const many = await newTenant();
    const a = await traffic(one, seed);
    const b = await traffic(many, seed);
    await inOrder(a.chunks);

    // Which statement ran, and whether it was refused.
    const ran: string[] = [];
    const watched: Queryable = {
      query: <T,>(sql: string, params?: Parameters<Queryable['query']>[1], options?: Parameters<Queryable['query']>[2]) =>
        store.query<T>(sql, params, options).then(
          (res) => (ran.push(`${options?.name ?? 'other'} ${(res.rows[0] as { all_new?: boolean } | undefined)?.all_new === false ? 'refused' : 'ok'}`), res),
          (err: unknown) => {
            ran.push(`${options?.name ?? 'other'} refused`);
            throw err;
          },
        ),
      exec: (sql) => store.exec(sql),
    };
    const r = seeded(seed * 7919);
    const again = b.chunks.filter(() => r() < 0.1);
    const deliveries = shuffle([...b.chunks, ...again], r);
    const results = await inRandomBatches(deliveries, r, 2, (batch) => applyChunksMerged(watched, counted(batch)));
    expect(results.filter(Boolean)).toHaveLength(b.chunks.length);
    expect(await snapshot(many, b.name)).toEqual(await snapshot(one, a.name));
    // Both paths were taken: merged batches of new chunks, and refused ones redone chunk by chunk.
    expect(ran).toContain('aggregation-apply-chunks-merged ok');
    expect(ran).toContain('aggregation-apply-chunks-merged refused');
    expect(ran).toContain('aggregation-apply-chunks-batch ok');
  });

  it('applyChunksMerged: two concurrent deliveries of the same batch count it once (the race past the ledger check)', async () => {
    const t = await newTenant();
    for (let round = 0; round < 10; round++) {
      const batch = counted(Array.from({ length: 5 }, (_, i) => fixtureChunk(t, `race-${round}-${i}-${t}`, [fixtureRecord({ count: 1 })])));
      const [a, b] = await Promise.all([applyChunksMerged(store, batch), applyChunksMerged(store, batch)]);
      expect(a.map((x, i) => Number(x.applied) + Number(b[i].applied))).toEqual([1, 1, 1, 1, 1]);
    }
    const rows = await store.query<{ sum: string }>('SELECT sum(messages) FROM aggregate_counters WHERE tenant_id = $1', [t]);
    expect(rows.rows[0].sum).toBe('50');
  });

  it('applies nothing when a whole batch is delivered again', async () => {
    const t = await newTenant();
    const { chunks, name } = await traffic(t, 11);
    const batch = counted(chunks.slice(0, 25));
    const first = await applyChunks(store, batch);
    const before = await snapshot(t, name);
    const second = await applyChunks(store, batch);
    expect(second.map((x) => x.applied)).toEqual(batch.map(() => false));
    expect(second.map((x) => x.counterRows)).toEqual(batch.map(() => 0));
    // Completion is read back from the report rows, as on a single redelivery.
    expect(second.map((x) => x.reportComplete)).toEqual(first.map((x) => x.reportComplete));
    expect(await snapshot(t, name)).toEqual(before);
  });

  it('applies only the new chunks of a batch that mixes them with applied ones, and completes the report', async () => {
    const t = await newTenant();
    const raw = await rawReport(t);
    const records = Array.from({ length: 8 }, (_, i) => fixtureRecord({ sourceIp: `198.51.100.${i % 3}`, count: i + 1 }));
    const [c0, c1, c2, c3] = fixtureChunks(t, raw, records, 4);
    await applyChunks(store, counted([c0, c2]));
    const results = await applyChunks(store, counted([c0, c1, c2, c3]));
    expect(results.map((x) => [x.applied, x.reportComplete])).toEqual([
      [false, true],
      [true, true],
      [false, true],
      [true, true],
    ]);
    expect(results.map((x) => x.counterRows)).toEqual([0, 2, 0, 2]);
    const report = (await store.query('SELECT chunks_seen, chunk_count, records_seen, messages FROM aggregate_reports WHERE report_id = $1', [raw])).rows;
    expect(report).toEqual([{ chunks_seen: 4, chunk_count: 4, records_seen: '8', messages: '36' }]);
    const total = await store.query<{ sum: string }>('SELECT sum(messages) FROM aggregate_counters WHERE tenant_id = $1', [t]);
    expect(total.rows[0].sum).toBe('36');
    expect((await store.query('SELECT status FROM raw_reports WHERE id = $1', [raw])).rows).toEqual([{ status: 'aggregated' }]);
  });

  it('completes a multi-chunk report whose chunks all come in one batch, out of order, one of them twice', async () => {
    const t = await newTenant();
    const raw = await rawReport(t);
    const records = Array.from({ length: 12 }, (_, i) => fixtureRecord({ sourceIp: `203.0.113.${i % 5}`, count: 2 }));
    const [c0, c1, c2] = fixtureChunks(t, raw, records, 3);
    const results = await applyChunks(store, counted([c2, c0, c1, c0]));
    expect(results.map((x) => [x.applied, x.reportComplete])).toEqual([
      [true, true],
      [true, true],
      [true, true],
      [false, true],
    ]);
    const report = (await store.query('SELECT chunks_seen, chunk_count, record_count, messages, completed_at IS NOT NULL AS complete FROM aggregate_reports WHERE report_id = $1', [raw])).rows;
    expect(report).toEqual([{ chunks_seen: 3, chunk_count: 3, record_count: '12', messages: '24', complete: true }]);
    expect((await store.query('SELECT status FROM raw_reports WHERE id = $1', [raw])).rows).toEqual([{ status: 'aggregated' }]);
    const total = await store.query<{ sum: string; n: string }>('SELECT sum(messages), count(*) AS n FROM aggregate_counters WHERE tenant_id = $1', [t]);
    expect(total.rows[0]).toEqual({ sum: '24', n: '5' });
  });

  it('bookkeeps a duplicate report in the same batch as its original, and counts only the original', async () => {
    const t = await newTenant();
    const records = [fixtureRecord({ count: 8 }), fixtureRecord({ sourceIp: '203.0.113.9', count: 2 })];
    const original = `original-${t}`;
    const copy = `copy-${t}`;
    const results = await applyChunks(store, counted([fixtureChunk(t, original, records), fixtureChunk(t, copy, records, { duplicateOf: original })]));
    expect(results).toEqual([
      { applied: true, reportComplete: true, counterRows: 2 },
      { applied: true, reportComplete: true, counterRows: 0 },
    ]);
    const total = await store.query<{ sum: string }>('SELECT sum(messages) FROM aggregate_counters WHERE tenant_id = $1', [t]);
    expect(total.rows[0].sum).toBe('10');
    const reports = await store.query('SELECT report_id, duplicate_of, messages FROM aggregate_reports WHERE tenant_id = $1 ORDER BY report_id', [t]);
    expect(reports.rows).toEqual([
      { report_id: copy, duplicate_of: original, messages: '10' },
      { report_id: original, duplicate_of: null, messages: '10' },
    ]);
    const policies = await store.query('SELECT report_id FROM aggregate_policies WHERE tenant_id = $1', [t]);
    expect(policies.rows).toEqual([{ report_id: original }]);
  });

  it('stores header-froms exactly whatever they hold (quotes, backslashes, braces, commas, NULL, non-ASCII)', async () => {
    const t = await newTenant();
    const odd = ['we"ird.example', 'back\\slash.example', '{braces},comma.example', 'NULL', '', ' spaced ', 'bücher.example'];
    const chunks = odd.map((headerFrom, i) => fixtureChunk(t, `odd-${i}-${t}`, [fixtureRecord({ headerFrom, count: i + 1 }), fixtureRecord({ sourceIp: '2001:DB8::1', headerFrom })]));
    await applyChunks(store, counted(chunks));
    await applyChunks(store, counted([fixtureChunk(t, `odd-single-${t}`, [fixtureRecord({ headerFrom: odd[0] })])]));
    const rows = await store.query<{ header_from: string; source_ip: string; messages: string }>(
      'SELECT header_from, source_ip, messages FROM aggregate_counters WHERE tenant_id = $1 ORDER BY header_from, source_ip',
      [t],
    );
    const expected = odd
      .map((h, i) => [h.trim().toLowerCase(), i])
      .flatMap(([h, i]) => [
        { header_from: h, source_ip: '192.0.2.1', messages: String(Number(i) + 1 + (i === 0 ? 1 : 0)) },
        { header_from: h, source_ip: '2001:db8::1', messages: '1' },
      ]);
    expect(rows.rows).toEqual(expected.sort((a, b) => (a.header_from + a.source_ip < b.header_from + b.source_ip ? -1 : 1)));
  });

  it('keeps the policy of the report whose period ends last when several of one day share a batch', async () => {
    const t = await newTenant();
    const withPolicy = (id: string, end: number, p: string) => {
      const c = fixtureChunk(t, `${id}-${t}`, [fixtureRecord()]);
      return { ...c, metadata: { ...c.metadata, end, policy: { ...c.metadata.policy, p } } };
    };
    const end = fixtureChunk(t, 'x', []).metadata.end;
    await applyChunks(store, counted([withPolicy('a', end - 7_200_000, 'none'), withPolicy('b', end, 'quarantine'), withPolicy('c', end - 3_600_000, 'reject')]));
    await applyChunks(store, counted([withPolicy('d', end - 1000, 'reject')]));
    expect((await store.query('SELECT p, report_id FROM aggregate_policies WHERE tenant_id = $1', [t])).rows).toEqual([{ p: 'quarantine', report_id: `b-${t}` }]);
  });

  it('refuses a report id another tenant used, in the ledger or earlier in the same batch', async () => {
    const a = await newTenant();
    const b = await newTenant();
    const shared = `shared-${a}`;
    await applyChunks(store, counted([fixtureChunk(a, shared, [fixtureRecord({ count: 2 })])]));
    await expect(applyChunks(store, counted([fixtureChunk(b, `own-${b}`, [fixtureRecord()]), fixtureChunk(b, shared, [fixtureRecord({ count: 3 })])]))).rejects.toMatchObject({
      code: 'AGGREGATION_REPORT_ID_COLLISION',
      retriable: false,
    });
    const sameBatch = `same-batch-${a}`;
    await expect(applyChunks(store, counted([fixtureChunk(a, sameBatch, [fixtureRecord()]), fixtureChunk(b, sameBatch, [fixtureRecord()])]))).rejects.toMatchObject({
      code: 'AGGREGATION_REPORT_ID_COLLISION',
    });
    const totals = await store.query<{ tenant_id: string; sum: string }>('SELECT tenant_id, sum(messages) FROM aggregate_counters WHERE tenant_id = ANY($1::uuid[]) GROUP BY tenant_id', [[a, b]]);
    expect(Object.fromEntries(totals.rows.map((x) => [x.tenant_id, x.sum]))).toEqual({ [a]: '3', [b]: '1' });
  });

  it('lands two concurrent batches over the same counter rows exactly, without a deadlock', async () => {
    const t = await newTenant();
    // Every report touches the same 40 counter rows, in its own order; two batches at once, ten times over.
    const reports = (side: string, round: number) =>
      Array.from({ length: 20 }, (_, i) => {
        const r = seeded(round * 100 + i + (side === 'a' ? 0 : 50));
        const records = shuffle(
          Array.from({ length: 40 }, (_, k) => fixtureRecord({ sourceIp: `10.9.${k % 20}.1`, headerFrom: k < 20 ? 'example.com' : 'mail.example.com', count: 1 })),
          r,
        );
        return fixtureChunk(t, `${side}-${round}-${i}-${t}`, records);
      });
    let conflicts = 0;
    for (let round = 0; round < 10; round++) {
      await Promise.all(
        ['a', 'b'].map(async (side) => {
          try {
            await applyChunks(store, counted(reports(side, round)));
          } catch (err) {
            // What the bus would do with a retriable error; counted, since the lock order should make it never happen.
            if ((err as { code?: string }).code !== 'STORE_TRANSACTION_CONFLICT') throw err;
            conflicts++;
            await applyChunks(store, counted(reports(side, round)));
          }
        }),
      );
    }
    const rows = await store.query<{ n: string; sum: string; min: string; max: string }>(
      'SELECT count(*) AS n, sum(messages), min(messages), max(messages) FROM aggregate_counters WHERE tenant_id = $1',
      [t],
    );
    expect(rows.rows[0]).toEqual({ n: '40', sum: String(10 * 2 * 20 * 40), min: '400', max: '400' });
    expect(conflicts).toBe(0);
  });

  it('completes reports whose chunks come in two concurrent batches (parsing spreads a report over partitions)', async () => {
    const t = await newTenant();
    const raws = await Promise.all(Array.from({ length: 10 }, () => rawReport(t)));
    const reports = raws.map((raw, i) =>
      fixtureChunks(t, raw, Array.from({ length: 60 }, (_, k) => fixtureRecord({ sourceIp: `10.8.${(k + i) % 15}.1`, count: 1 })), 6),
    );
    const side = (parity: number) => counted(reports.flatMap((chunks) => chunks.filter((c) => c.chunkIndex % 2 === parity)));
    let conflicts = 0;
    const results = await Promise.all(
      [side(0), side(1)].map(async (batch) => {
        try {
          return await applyChunks(store, batch);
        } catch (err) {
          if ((err as { code?: string }).code !== 'STORE_TRANSACTION_CONFLICT') throw err;
          conflicts++;
          return applyChunks(store, batch);
        }
      }),
    );
    expect(results.flat().every((r) => r.applied)).toBe(true);
    // Whichever committed second saw the report complete.
    expect(results.some((batch) => batch.every((r) => r.reportComplete))).toBe(true);
    const rows = await store.query<{ chunks_seen: number; complete: boolean }>(
      'SELECT chunks_seen, completed_at IS NOT NULL AS complete FROM aggregate_reports WHERE tenant_id = $1',
      [t],
    );
    expect(rows.rows).toEqual(raws.map(() => ({ chunks_seen: 6, complete: true })));
    const status = await store.query('SELECT DISTINCT status FROM raw_reports WHERE tenant_id = $1', [t]);
    expect(status.rows).toEqual([{ status: 'aggregated' }]);
    const total = await store.query<{ sum: string }>('SELECT sum(messages) FROM aggregate_counters WHERE tenant_id = $1', [t]);
    expect(total.rows[0].sum).toBe('600');
    expect(conflicts).toBe(0);
  });

  describe('handleMany', () => {
    const recorder = () => {
      const calls: Array<ReadonlyArray<OutgoingMessage<AggregatesUpdatedInput>>> = [];
      const publisher: Publisher = {
        publish: async (topic, messages) => {
          expect(topic).toBe(AGGREGATES_UPDATED_TOPIC);
          calls.push(messages as ReadonlyArray<OutgoingMessage<AggregatesUpdatedInput>>);
        },
        publishRaw: async () => undefined,
      };
      return { calls, publisher };
    };
    const onDomain = (c: ReportParsed, domain: string, day = 0): ReportParsed => ({
      ...c,
      metadata: { ...c.metadata, begin: c.metadata.begin + day * DAY, end: c.metadata.end + day * DAY, policy: { ...c.metadata.policy, domain } },
    });
    const trace = (n: number) => ({ n }) as unknown as MessageTrace;

    it('announces once per tenant and domain, with every day that changed, in one publish carrying a trace', async () => {
      const t = await newTenant();
      const { calls, publisher } = recorder();
      const committed: ChunkOutcome[] = [];
      const agg = new ReportAggregator({ db: store, publisher, afterCommit: (o) => void committed.push(o), now: () => 42 });
      const big = fixtureChunks(t, `big-${t}`, Array.from({ length: 6 }, () => fixtureRecord()), 3).map((c) => onDomain(c, 'a.example'));
      const batch = [
        onDomain(fixtureChunk(t, `r1-${t}`, [fixtureRecord()]), 'a.example', 0),
        onDomain(fixtureChunk(t, `r2-${t}`, [fixtureRecord()]), 'a.example', 2),
        big[1], // neither first, nor a 50th, nor completing: counted, not announced
        onDomain(fixtureChunk(t, `r3-${t}`, [fixtureRecord()]), 'b.example', 1),
        onDomain(fixtureChunk(t, `copy-${t}`, [fixtureRecord()], { duplicateOf: `r3-${t}` }), 'c.example'),
      ];
      const outcomes = await agg.handleMany(batch.map((chunk, i) => ({ chunk, trace: trace(i) })));
      expect(outcomes.map((o) => [o.applied, o.reportComplete, o.duplicate])).toEqual([
        [true, true, false],
        [true, true, false],
        [true, false, false],
        [true, true, false],
        [true, true, true],
      ]);
      expect(committed).toEqual(outcomes);
      expect(calls).toHaveLength(1);
      expect(calls[0]).toEqual([
        {
          key: `${t}:a.example`,
          tenantId: t,
          trace: trace(1),
          value: { tenantId: t, domain: 'a.example', days: ['2025-03-10', '2025-03-12'], reportId: `r2-${t}`, chunkIndex: 0, reportComplete: true, at: 42 },
        },
        {
          key: `${t}:b.example`,
          tenantId: t,
          trace: trace(3),
          value: { tenantId: t, domain: 'b.example', days: ['2025-03-11'], reportId: `r3-${t}`, chunkIndex: 0, reportComplete: true, at: 42 },
        },
      ]);

      // The rest of the big report: its completion is announced, chunk 1 again (a redelivery) is not counted.
      const rest = await agg.handleMany([big[0], big[1], big[2]].map((chunk) => ({ chunk })));
      expect(rest.map((o) => [o.applied, o.reportComplete])).toEqual([
        [true, true],
        [false, true],
        [true, true],
      ]);
      expect(calls[1].map((m) => [m.value.reportId, m.value.chunkIndex, m.value.reportComplete])).toEqual([[`big-${t}`, 2, true]]);
    });

    it('announces a report of many chunks only at its first, every ANNOUNCE_EVERY_CHUNKS-th and last chunk', async () => {
      const t = await newTenant();
      const { calls, publisher } = recorder();
      const agg = new ReportAggregator({ db: store, publisher });
      const total = ANNOUNCE_EVERY_CHUNKS + 5;
      const chunks = fixtureChunks(t, `many-${t}`, Array.from({ length: total }, (_, i) => fixtureRecord({ sourceIp: `192.0.2.${i % 250}` })), total);
      await agg.handleMany(chunks.slice(1, 10).map((chunk) => ({ chunk })));
      expect(calls).toHaveLength(0);
      await agg.handleMany(chunks.slice(10, total - 1).map((chunk) => ({ chunk })));
      await agg.handleMany([chunks[0], chunks[total - 1]].map((chunk) => ({ chunk })));
      expect(calls.map((c) => c.map((m) => [m.value.chunkIndex, m.value.reportComplete]))).toEqual([[[ANNOUNCE_EVERY_CHUNKS, false]], [[total - 1, true]]]);
    });

    it('publishes nothing when the process dies after the commit, and announces again on the redelivery', async () => {
      const t = await newTenant();
      const { calls, publisher } = recorder();
      const batch = [fixtureChunk(t, `k1-${t}`, [fixtureRecord({ count: 3 })]), fixtureChunk(t, `k2-${t}`, [fixtureRecord({ count: 4 })])].map((chunk) => ({ chunk }));
      const crash = new Error('killed after commit');
      await expect(new ReportAggregator({ db: store, publisher, afterCommit: () => { throw crash; } }).handleMany(batch)).rejects.toBe(crash);
      expect(calls).toHaveLength(0);
      const again = await new ReportAggregator({ db: store, publisher }).handleMany(batch);
      expect(again.map((o) => o.applied)).toEqual([false, false]);
      expect(calls).toHaveLength(1);
      const total = await store.query<{ sum: string }>('SELECT sum(messages) FROM aggregate_counters WHERE tenant_id = $1', [t]);
      expect(total.rows[0].sum).toBe('7');
    });

    it('throws before writing anything when a chunk breaks the contract, so the bus can take them one by one', async () => {
      const t = await newTenant();
      const { publisher } = recorder();
      const good = fixtureChunk(t, `good-${t}`, [fixtureRecord()]);
      const bad = fixtureChunk(t, `bad-${t}`, [fixtureRecord({ count: -1 })]);
      await expect(new ReportAggregator({ db: store, publisher }).handleMany([{ chunk: good }, { chunk: bad }])).rejects.toMatchObject({ code: 'AGGREGATION_INVALID_CHUNK' });
      expect((await store.query('SELECT 1 FROM aggregate_reports WHERE tenant_id = $1', [t])).rows).toEqual([]);
    });
  });

  describe('the tenant of counter rows (aggregate_counters has no per-row foreign key since migration 0011)', () => {
    it('writes no counter for a tenant that does not exist: the statement fails whole on aggregate_reports', async () => {
      const ghost = '00000000-0000-4000-8000-0000000000ff';
      const chunk = fixtureChunk(ghost, `ghost-${Date.now()}`, [fixtureRecord({ count: 3 })]);
      await expect(applyChunks(store, counted([chunk]))).rejects.toMatchObject({ code: 'STORE_CONSTRAINT_VIOLATION' });
      expect((await store.query('SELECT 1 FROM aggregate_counters WHERE tenant_id = $1', [ghost])).rows).toEqual([]);
      expect((await store.query(`SELECT 1 FROM processed_messages WHERE message_id = $1`, [`${chunk.reportId}:0`])).rows).toEqual([]);
    });

    it("deletes a tenant's counters with the tenant, and no other tenant's", async () => {
      const [gone, kept] = [await newTenant(), await newTenant()];
      for (const t of [gone, kept]) await applyChunks(store, counted([fixtureChunk(t, `del-${t}`, [fixtureRecord({ count: 5 })])]));
      await store.query('DELETE FROM tenants WHERE id = $1', [gone]);
      const left = await store.query<{ tenant_id: string }>('SELECT DISTINCT tenant_id FROM aggregate_counters WHERE tenant_id = ANY($1::uuid[])', [[gone, kept]]);
      expect(left.rows).toEqual([{ tenant_id: kept }]);
    });
  });
});
