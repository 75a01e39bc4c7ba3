import { randomUUID } from 'node:crypto';
import { createContextKey, ROOT_CONTEXT } from '@opentelemetry/api';
import type { MessageTrace, OutgoingMessage, Publisher } from '@dmarc/bus';
import type { TopicInput } from '@dmarc/contracts';
import type { Store } from '@dmarc/store';
import { intakeFixture } from './intake-fixture';
import { IntakeError, readIngestionStats, ReportIntake, reportIdOf, sha256Hex, type IncomingReport } from '../index';

type Sent = ReadonlyArray<OutgoingMessage<TopicInput<'dmarc.reports.received'>>>;

/**
 * The behaviour of `acceptMany`, run on each store driver: PGlite in the unit suite, PostgreSQL through
 * node-postgres (how it sends arrays and bytea) in the integration suite.
 */
export function describeAcceptMany(driver: string, openStore: () => Promise<Store>): void {
  describe(`ReportIntake.acceptMany (${driver})`, () => {
    const fixture = intakeFixture(openStore);
    const { received } = fixture;

    const newTenant = async () => (await fixture.store.query<{ id: string }>('INSERT INTO tenants (name) VALUES ($1) RETURNING id', [`batch-${randomUUID()}`])).rows[0].id;
    const xml = (text: string) => Buffer.from(`<feedback>${text} ${randomUUID()}</feedback>`);
    const traceKey = createContextKey('test-trace');
    const traceOf = (n: number): MessageTrace => ROOT_CONTEXT.setValue(traceKey, n);
    const until = async (cond: () => boolean) => {
      for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
    };

    /** An intake whose statements (by name) and publish calls are recorded; `crashOn` names a statement that fails. */
    function watchedIntake(options: { crashOn?: string; brokerDown?: boolean } = {}) {
      const statements: string[] = [];
      const publishes: Sent[] = [];
      const watchedStore: Store = {
        driver: fixture.store.driver,
        query: async (sql, params, queryOptions) => {
          statements.push(queryOptions?.name ?? sql);
          if (queryOptions?.name !== undefined && queryOptions.name === options.crashOn) throw new Error(`crash before ${queryOptions.name}`);
          return fixture.store.query(sql, params, queryOptions);
        },
        exec: (sql) => fixture.store.exec(sql),
        transaction: (fn, txOptions) => fixture.store.transaction(fn, txOptions),
        ping: () => fixture.store.ping(),
        close: async () => undefined,
      };
      const publisher: Publisher = {
        publish: async (topic, messages) => {
          if (options.brokerDown) throw new Error('broker gone');
          publishes.push(messages as unknown as Sent);
          await fixture.bus.publish(topic, messages);
        },
        publishRaw: (topic, messages) => fixture.bus.publishRaw(topic, messages),
      };
      const intake = new ReportIntake({ store: watchedStore, publisher, maxBytes: 1000, inlineMaxBytes: 100, refusedHeadBytes: 64 });
      return { intake, statements, publishes };
    }

    const report = (tenantId: string, payload: Buffer, extra: Partial<IncomingReport> = {}) => ({ tenantId, payload, source: 'test', ...extra });
    const duplicatesOf = async (tenantId: string) => (await readIngestionStats(fixture.store, tenantId, { days: 1, now: new Date() })).today;

    it('keeps a batch of new reports with one statement, one publish and one statement recording it, answering in order', async () => {
      const tenantId = await newTenant();
      const payloads = [xml('a'), xml('b'), xml('c'), xml('big'.repeat(50))];
      const { intake, statements, publishes } = watchedIntake();
      const results = await intake.acceptMany(payloads.map((payload, i) => ({ ...report(tenantId, payload, { filename: `r${i}.xml` }), trace: traceOf(i) })));

      expect(results).toEqual(
        payloads.map((p) => ({ reportId: reportIdOf(tenantId, sha256Hex(p)), sha256: sha256Hex(p), sizeBytes: p.length, duplicate: false, status: 'received', contentType: 'application/xml' })),
      );
      expect(statements).toEqual(['intake-keep-rows', 'intake-settle']);
      expect(publishes).toHaveLength(1);
      expect(publishes[0].map((m) => m.key)).toEqual(results.map((r) => r!.reportId));
      // Each report's trace goes on with its own message.
      expect(publishes[0].map((m) => m.trace?.getValue(traceKey))).toEqual([0, 1, 2, 3]);

      const { rows } = await fixture.store.query<{ id: string; payload: Buffer; published: boolean; filename: string; source: string; status: string; size_bytes: number }>(
        'SELECT id, payload, published_at IS NOT NULL AS published, filename, source, status, size_bytes FROM raw_reports WHERE tenant_id = $1 ORDER BY filename',
        [tenantId],
      );
      expect(rows).toEqual(
        payloads.map((payload, i) => ({ id: results[i]!.reportId, payload, published: true, filename: `r${i}.xml`, source: 'test', status: 'received', size_bytes: payload.length })),
      );
      await until(() => received.filter((m) => m.tenantId === tenantId).length >= 4);
      // Keys differ, so partitions may deliver them in any order.
      const got = new Map(received.filter((m) => m.tenantId === tenantId).map((m) => [m.value.reportId, m.value]));
      expect(results.map((r) => got.get(r!.reportId)?.raw)).toEqual([payloads[0], payloads[1], payloads[2], { uri: `pg://raw_reports/${results[3]!.reportId}` }]);
      expect(results.map((r) => got.get(r!.reportId)?.filename)).toEqual(['r0.xml', 'r1.xml', 'r2.xml', 'r3.xml']);
    });

    it('counts duplicates within a batch and against earlier ones exactly, and publishes each report once', async () => {
      const tenantId = await newTenant();
      const [a, b, c] = [xml('a'), xml('b'), xml('c')];
      const { intake, publishes } = watchedIntake();
      // Names that an array literal must escape, and none at all.
      const first = await intake.acceptMany([
        report(tenantId, a, { filename: 'a "quoted", with \\ back{slash} é.xml' }),
        report(tenantId, b, { filename: null }),
        report(tenantId, a, { filename: 'again.xml' }),
      ]);
      expect(first.map((r) => r?.duplicate)).toEqual([false, false, true]);
      expect(first[2]).toEqual({ ...first[0], duplicate: true });
      const second = await intake.acceptMany([report(tenantId, b), report(tenantId, c), report(tenantId, b), report(tenantId, a)]);
      expect(second.map((r) => r?.duplicate)).toEqual([true, false, true, true]);
      expect(second[0]?.reportId).toBe(first[1]?.reportId);

      expect(publishes.map((call) => call.map((m) => m.value.sha256))).toEqual([[sha256Hex(a), sha256Hex(b)], [sha256Hex(c)]]);
      const names = await fixture.store.query<{ filename: string | null }>('SELECT filename FROM raw_reports WHERE tenant_id = $1 ORDER BY filename NULLS LAST', [tenantId]);
      expect(names.rows.map((r) => r.filename)).toEqual(['a "quoted", with \\ back{slash} é.xml', null, null]);
      expect(await duplicatesOf(tenantId)).toMatchObject({ received: 3, duplicate: 4 });

      // The per-report path agrees with what the batches wrote.
      expect(await intake.accept(report(tenantId, c))).toMatchObject({ duplicate: true, reportId: second[1]?.reportId });
      expect(await duplicatesOf(tenantId)).toMatchObject({ received: 3, duplicate: 5 });
    });

    it('leaves refused reports and unknown tenants to accept(), writing nothing of theirs', async () => {
      const tenantId = await newTenant();
      const unknownTenant = randomUUID();
      const good = xml('good');
      const refused = [
        report(tenantId, Buffer.alloc(0)),
        report(tenantId, Buffer.from(' \r\n ')),
        report(tenantId, Buffer.from(`<feedback>${'x'.repeat(2000)}</feedback>`)),
        report(tenantId, Buffer.from('%PDF-1.4 not a report'), { contentType: 'application/pdf' }),
        report('not-a-uuid', xml('nope')),
        report(unknownTenant, xml('unknown')),
      ];
      const { intake, statements, publishes } = watchedIntake();
      const results = await intake.acceptMany([refused[0], refused[1], report(tenantId, good), ...refused.slice(2)]);
      expect(results.map((r) => r?.sha256 ?? null)).toEqual([null, null, sha256Hex(good), null, null, null, null]);
      expect(statements).toEqual(['intake-keep-rows', 'intake-settle']);
      expect(publishes.flat().map((m) => m.value.sha256)).toEqual([sha256Hex(good)]);
      const rows = await fixture.store.query<{ sha256: string }>('SELECT sha256 FROM raw_reports WHERE tenant_id = $1', [tenantId]);
      expect(rows.rows).toEqual([{ sha256: sha256Hex(good) }]);
      expect((await fixture.store.query('SELECT 1 FROM raw_reports WHERE tenant_id = $1', [unknownTenant])).rowCount).toBe(0);

      // What the batch left, accept() refuses with the reason (keeping the refused bytes of a known tenant).
      const codes = await Promise.all(refused.map((r) => intake.accept(r).catch((e: IntakeError) => e.code)));
      expect(codes).toEqual(['INTAKE_EMPTY', 'INTAKE_EMPTY', 'INTAKE_TOO_LARGE', 'INTAKE_UNSUPPORTED', 'INTAKE_TENANT_UNKNOWN', 'INTAKE_TENANT_UNKNOWN']);

      // A batch the checks refuse whole costs no statement and no publish.
      const idle = watchedIntake();
      const checkedOut = refused.filter((r) => r.tenantId !== unknownTenant);
      expect(await idle.intake.acceptMany(checkedOut)).toEqual(checkedOut.map(() => null));
      expect(await idle.intake.acceptMany([])).toEqual([]);
      expect([idle.statements, idle.publishes]).toEqual([[], []]);
    });

    it('publishes again after a crash before publishing or before recording it, and counts each duplicate once', async () => {
      const tenantId = await newTenant();
      const [a, b, d] = [xml('a'), xml('b'), xml('d')];
      const { intake } = watchedIntake();
      await intake.acceptMany([report(tenantId, d)]);
      const batch = [report(tenantId, a), report(tenantId, b), report(tenantId, a), report(tenantId, d)];

      await expect(watchedIntake({ brokerDown: true }).intake.acceptMany(batch)).rejects.toThrow('broker gone');
      const crashed = watchedIntake({ crashOn: 'intake-settle' });
      await expect(crashed.intake.acceptMany(batch)).rejects.toThrow('crash before intake-settle');
      expect(crashed.publishes.flat().map((m) => m.value.sha256)).toEqual([sha256Hex(a), sha256Hex(b)]);
      const unpublished = await fixture.store.query('SELECT 1 FROM raw_reports WHERE tenant_id = $1 AND published_at IS NULL', [tenantId]);
      expect(unpublished.rowCount).toBe(2);
      expect(await duplicatesOf(tenantId)).toMatchObject({ received: 3, duplicate: 0 });

      const retry = watchedIntake();
      const results = await retry.intake.acceptMany(batch);
      expect(results.map((r) => r?.duplicate)).toEqual([false, false, true, true]);
      expect(retry.publishes.flat().map((m) => m.value.sha256)).toEqual([sha256Hex(a), sha256Hex(b)]);
      expect((await fixture.store.query('SELECT 1 FROM raw_reports WHERE tenant_id = $1 AND published_at IS NULL', [tenantId])).rowCount).toBe(0);
      expect(await duplicatesOf(tenantId)).toMatchObject({ received: 3, duplicate: 2 });
    });

    it('tells tenants apart, and takes a tenant id in capitals for the same tenant', async () => {
      const [t1, t2] = [await newTenant(), await newTenant()];
      const same = xml('shared');
      const { intake } = watchedIntake();
      const results = await intake.acceptMany([report(t1, same), report(t2, same), report(t1.toUpperCase(), same)]);
      expect(results.map((r) => r?.duplicate)).toEqual([false, false, true]);
      expect(results[1]?.reportId).not.toBe(results[0]?.reportId);
      expect(results[2]?.reportId).toBe(results[0]?.reportId);
      expect(await duplicatesOf(t1)).toMatchObject({ received: 1, duplicate: 1 });
      expect(await duplicatesOf(t2)).toMatchObject({ received: 1, duplicate: 0 });
    });

    it('keeps counts exact when overlapping batches and single reports run at once', async () => {
      const tenantId = await newTenant();
      const { intake, publishes } = watchedIntake();
      const payloads: Buffer[] = [];
      let duplicates = 0;
      // Rounds of fresh reports, so writers keep meeting on rows not yet committed.
      for (let round = 0; round < 10; round++) {
        const fresh = Array.from({ length: 12 }, (_, i) => xml(`overlap ${round} ${i}`));
        payloads.push(...fresh);
        const runs = await Promise.all([
          intake.acceptMany(fresh.map((p) => report(tenantId, p))),
          intake.acceptMany([...fresh].reverse().map((p) => report(tenantId, p))),
          ...fresh.slice(0, 3).map((p) => intake.accept(report(tenantId, p))),
        ]);
        expect(runs.flat()).toHaveLength(27);
        duplicates += runs.flat().filter((r) => r?.duplicate).length;
      }
      // Racing writers may each publish a report (at least once); every report is published, and
      // every answer that said duplicate was counted, no more.
      expect(new Set(publishes.flat().map((m) => m.value.sha256))).toEqual(new Set(payloads.map(sha256Hex)));
      expect(await duplicatesOf(tenantId)).toMatchObject({ received: payloads.length, duplicate: duplicates });
      expect((await fixture.store.query('SELECT 1 FROM raw_reports WHERE tenant_id = $1 AND published_at IS NULL', [tenantId])).rowCount).toBe(0);
    });
  });
}
