import { PgStore, runMigrations } from '@dmarc/store';
import { observe, type LookupOutcome } from './change-decision';
import { recordSelectors } from './selectors';
import { dueTargets, markPublished, unpublishedChanges, writeObservations, type WatchTarget } from './watch-store';

// The statements on the real PostgreSQL the services use (node-postgres sends the parallel arrays, nulls
// and timestamps its own way). The database is shared, so nothing here runs a whole round: a round would
// write the watch state of every tenant in it. Everything is scoped to this test's own tenants.
const T0 = Date.UTC(2026, 0, 1, 12);

describe('DNS watch statements (real PostgreSQL)', () => {
  let store: PgStore;
  let a: string;
  let b: string;
  const domain = `watch-${Date.now()}.example`;

  beforeAll(async () => {
    await runMigrations(process.env.DATABASE_URL!, { info: () => undefined });
    store = new PgStore({ url: process.env.DATABASE_URL!, poolSize: 4 });
    const tenant = async () => (await store.query<{ id: string }>(`INSERT INTO tenants (name) VALUES ('dns-watch-int') RETURNING id`)).rows[0].id;
    a = await tenant();
    b = await tenant();
    await store.query('INSERT INTO domains (tenant_id, name) VALUES ($1, $2)', [a, domain]);
    await store.query(
      `INSERT INTO aggregate_reports (tenant_id, report_id, domain, day, org_name, external_report_id, begin_at, end_at, chunks_seen, records_seen, messages)
       VALUES ($1, 'dns-watch-int', $2, '2026-01-01', 'reporter', 'x', now(), now(), 1, 1, 1)`,
      [b, domain],
    );
  });
  afterAll(async () => {
    // Cascades to every row of theirs, in every table.
    await store?.query('DELETE FROM tenants WHERE id = ANY($1::uuid[])', [[a, b]]);
    await store?.close();
  });

  const mine = async (now: number) => (await dueTargets(store, now, now - 86_400_000)).filter((t) => t.tenantId === a || t.tenantId === b);
  const write = (targets: WatchTarget[], outcome: LookupOutcome, now: number) =>
    writeObservations(
      store,
      targets[0].name,
      targets.map((target) => ({ target, observation: observe(target.recordType, target.state, outcome, now, now + 270_000) })),
    );

  it('records selectors and watches them for both tenants; a first observation and a failure store no change', async () => {
    expect(await recordSelectors(store, a, domain, ['K1'], T0)).toEqual(['k1']);
    const due = await mine(T0);
    expect(due.map((t) => [t.tenantId === a ? 'a' : 'b', t.recordType, t.name, t.selector]).sort()).toEqual(
      [
        ['a', 'DKIM', `k1._domainkey.${domain}`, 'k1'],
        ['a', 'DMARC', `_dmarc.${domain}`, null],
        ['a', 'SPF', domain, null],
        ['b', 'DMARC', `_dmarc.${domain}`, null],
        ['b', 'SPF', domain, null],
      ].sort(),
    );
    const dmarc = due.filter((t) => t.recordType === 'DMARC');
    expect(await write(dmarc, { ok: true, value: 'v=DMARC1; p=none' }, T0)).toEqual([]);
    expect(await write(due.filter((t) => t.recordType === 'SPF'), { ok: false, error: new Error('timeout') }, T0)).toEqual([]);
    const { rows } = await store.query<{ tenant_id: string; name: string; value: string | null; checked_at: Date | null; failing_since: Date | null; revision: string }>(
      'SELECT tenant_id, name, value, checked_at, failing_since, revision FROM dns_watch_state WHERE tenant_id = ANY($1::uuid[]) ORDER BY name, tenant_id',
      [[a, b]],
    );
    expect(rows.map((r) => [r.name, r.value, r.checked_at?.getTime() ?? null, r.failing_since?.getTime() ?? null, r.revision])).toEqual([
      [`_dmarc.${domain}`, 'v=DMARC1; p=none', T0, null, '1'],
      [`_dmarc.${domain}`, 'v=DMARC1; p=none', T0, null, '1'],
      [domain, null, null, T0, '1'],
      [domain, null, null, T0, '1'],
    ]);
    // Not due again before the next round.
    expect((await mine(T0 + 60_000)).map((t) => t.recordType)).toEqual(['DKIM']);
  });

  it('stores a change per tenant with the state in one statement; of two writers racing from one read, one wins', async () => {
    const t1 = T0 + 300_000;
    const dmarc = (await mine(t1)).filter((t) => t.recordType === 'DMARC');
    expect(dmarc.map((t) => t.state?.value)).toEqual(['v=DMARC1; p=none', 'v=DMARC1; p=none']);
    const outcome: LookupOutcome = { ok: true, value: 'v=DMARC1; p=reject' };
    const [x, y] = await Promise.all([write(dmarc, outcome, t1), write(dmarc, outcome, t1)]);
    const stored = [...x, ...y];
    expect(stored.map((c) => [c.tenantId, c.change, c.previous, c.current, c.detectedAt, c.selector]).sort()).toEqual(
      [
        [a, 'changed', 'v=DMARC1; p=none', 'v=DMARC1; p=reject', t1, null],
        [b, 'changed', 'v=DMARC1; p=none', 'v=DMARC1; p=reject', t1, null],
      ].sort(),
    );
    const pending = (await unpublishedChanges(store, 1000)).filter((c) => c.domain === domain);
    expect(pending.map((c) => c.id).sort()).toEqual(stored.map((c) => c.id).sort());
    await markPublished(
      store,
      stored.map((c) => c.id),
      t1,
    );
    expect((await unpublishedChanges(store, 1000)).filter((c) => c.domain === domain)).toEqual([]);
  });
});
