import { createInProcessBus, type Bus } from '@dmarc/bus';
import { loadContracts } from '@dmarc/contracts';
import { migrate, PgliteStore, type Store } from '@dmarc/store';
import { domainSources, domainSummary } from './domain-queries';
import { ReportAggregator } from './report-aggregator';
import { FIXTURE_BEGIN, fixtureChunk, fixtureRecord } from './report-chunk-fixtures';

const DAY = 86_400_000;

describe('domain summary and sources (PGlite)', () => {
  let store: Store;
  let bus: Bus;
  let acme: string;
  let globex: string;

  beforeAll(async () => {
    store = await PgliteStore.open();
    await migrate(store);
    bus = createInProcessBus({ contracts: loadContracts() });
    const tenant = async (name: string) => (await store.query<{ id: string }>('INSERT INTO tenants (name) VALUES ($1) RETURNING id', [name])).rows[0].id;
    acme = await tenant('acme');
    globex = await tenant('globex');
    const agg = new ReportAggregator({ db: store, publisher: bus });
    const onDay = (c: ReturnType<typeof fixtureChunk>, day: number) => ({ ...c, metadata: { ...c.metadata, begin: FIXTURE_BEGIN + day * DAY, end: FIXTURE_BEGIN + (day + 1) * DAY - 1 } });
    // acme, 2025-03-10: 100 from a good source (all pass), 20 from a spoofer (rejected).
    await agg.handle(
      fixtureChunk(acme, 'a1', [
        fixtureRecord({ sourceIp: '192.0.2.1', count: 100 }),
        fixtureRecord({ sourceIp: '203.0.113.66', count: 20, disposition: 'reject', dkimAligned: false, spfAligned: false, headerFrom: 'example.com' }),
      ]),
    );
    // acme, 2025-03-12: 30 from the good source, half only SPF-aligned; 5 from the spoofer, quarantined.
    await agg.handle(
      onDay(
        fixtureChunk(acme, 'a2', [
          fixtureRecord({ sourceIp: '192.0.2.1', count: 15 }),
          fixtureRecord({ sourceIp: '192.0.2.1', count: 15, dkimAligned: false, headerFrom: 'news.example.com' }),
          fixtureRecord({ sourceIp: '203.0.113.66', count: 5, disposition: 'quarantine', dkimAligned: false, spfAligned: false }),
        ]),
        2,
      ),
    );
    // A duplicate of a1 through other bytes: not counted.
    await agg.handle(fixtureChunk(acme, 'a1-again', [fixtureRecord({ sourceIp: '192.0.2.1', count: 100 })], { duplicateOf: 'a1' }));
    // acme, outside the range asked below.
    await agg.handle(onDay(fixtureChunk(acme, 'a3', [fixtureRecord({ count: 1000 })]), 10));
    // globex has the same domain, with its own traffic.
    await agg.handle(fixtureChunk(globex, 'g1', [fixtureRecord({ sourceIp: '198.51.100.1', count: 7, disposition: 'reject', dkimAligned: false, spfAligned: false })]));
  }, 60_000);
  afterAll(async () => {
    await bus.close();
    await store.close();
  });

  const range = { domain: 'example.com', from: '2025-03-09', to: '2025-03-12' };

  it('sums the range: totals, compliance rate, a series with every day, top sources with pass rates, the policy', async () => {
    const s = await domainSummary(store, { tenantId: acme, ...range, top: 10 });
    expect(s.totals).toEqual({ messages: 155, dmarcPass: 130, dkimAligned: 115, spfAligned: 130, dispositions: { none: 130, quarantine: 5, reject: 20, pass: 0 } });
    expect(s.complianceRate).toBeCloseTo(130 / 155, 10);
    expect(s.days.map((d) => [d.day, d.messages, d.dmarcPass])).toEqual([
      ['2025-03-09', 0, 0],
      ['2025-03-10', 120, 100],
      ['2025-03-11', 0, 0],
      ['2025-03-12', 35, 30],
    ]);
    expect(s.days[0].complianceRate).toBeNull();
    expect(s.topSources).toEqual([
      { sourceIp: '192.0.2.1', ptr: null, baseDomain: null, messages: 130, dmarcPass: 130, dkimAligned: 115, spfAligned: 130, dispositions: { none: 130, quarantine: 0, reject: 0, pass: 0 }, passRate: 1, headerFroms: ['example.com', 'news.example.com'] },
      { sourceIp: '203.0.113.66', ptr: null, baseDomain: null, messages: 25, dmarcPass: 0, dkimAligned: 0, spfAligned: 0, dispositions: { none: 0, quarantine: 5, reject: 20, pass: 0 }, passRate: 0, headerFroms: ['example.com'] },
    ]);
    expect(s.policy).toMatchObject({ day: '2025-03-12', p: 'reject', pct: 100 });
    expect(s.reports).toEqual({ count: 2, complete: 2 });
  });

  it('limits the top sources, most messages first', async () => {
    const s = await domainSummary(store, { tenantId: acme, ...range, top: 1 });
    expect(s.topSources.map((t) => t.sourceIp)).toEqual(['192.0.2.1']);
  });

  it('lists every source with its counts and the total before the limit', async () => {
    const all = await domainSources(store, { tenantId: acme, ...range, limit: 100 });
    expect(all.total).toBe(2);
    expect(all.sources.map((x) => [x.sourceIp, x.messages])).toEqual([
      ['192.0.2.1', 130],
      ['203.0.113.66', 25],
    ]);
    const cut = await domainSources(store, { tenantId: acme, ...range, limit: 1 });
    expect(cut).toMatchObject({ total: 2, sources: [{ sourceIp: '192.0.2.1' }] });
  });

  it('names a source by its PTR name and base domain as last found in the range; a chunk without names erases none', async () => {
    const agg = new ReportAggregator({ db: store, publisher: bus });
    const named = (id: string, day: number, ptr: string | null) => {
      const c = fixtureChunk(acme, id, [fixtureRecord({ sourceIp: '192.0.2.99', count: 1 })]);
      const begin = FIXTURE_BEGIN + day * DAY;
      return { ...c, metadata: { ...c.metadata, policy: { ...c.metadata.policy, domain: 'named.example' }, begin, end: begin + DAY - 1 }, sources: [{ ip: '192.0.2.99', ptr, baseDomain: ptr && 'sender.example' }] };
    };
    await agg.handle(named('n1', 0, 'old.sender.example'));
    await agg.handle(named('n2', 2, 'new.sender.example'));
    await agg.handle(named('n3', 2, null));
    const { sources } = await domainSources(store, { tenantId: acme, domain: 'named.example', from: '2025-03-09', to: '2025-03-12', limit: 10 });
    expect(sources).toMatchObject([{ sourceIp: '192.0.2.99', ptr: 'new.sender.example', baseDomain: 'sender.example', messages: 3 }]);
    const early = await domainSources(store, { tenantId: acme, domain: 'named.example', from: '2025-03-10', to: '2025-03-10', limit: 10 });
    expect(early.sources).toMatchObject([{ ptr: 'old.sender.example', messages: 1 }]);
  });

  it("never shows one tenant another's data for the same domain", async () => {
    const g = await domainSummary(store, { tenantId: globex, ...range, top: 10 });
    expect(g.totals).toMatchObject({ messages: 7, dmarcPass: 0, dispositions: { none: 0, quarantine: 0, reject: 7, pass: 0 } });
    expect(g.topSources.map((x) => x.sourceIp)).toEqual(['198.51.100.1']);
    const gs = await domainSources(store, { tenantId: globex, ...range, limit: 100 });
    expect(gs.sources.map((x) => x.sourceIp)).toEqual(['198.51.100.1']);
  });

  it('answers zeros for a domain without data, and takes the domain in any case', async () => {
    const none = await domainSummary(store, { tenantId: acme, domain: 'nothing.example', from: '2025-03-10', to: '2025-03-10', top: 10 });
    expect(none).toMatchObject({ totals: { messages: 0 }, complianceRate: null, topSources: [], policy: null, reports: { count: 0, complete: 0 } });
    const upper = await domainSummary(store, { tenantId: acme, ...range, domain: 'EXAMPLE.com.', top: 10 });
    expect(upper).toMatchObject({ domain: 'example.com', totals: { messages: 155 } });
  });
});
