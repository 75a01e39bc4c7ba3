import Fastify, { type FastifyInstance } from 'fastify';
import { fixtureChunk, fixtureRecord, ReportAggregator } from '@dmarc/aggregates';
import { createInProcessBus, type Bus } from '@dmarc/bus';
import { loadContracts, type AggregateRecord, type ReportParsed } from '@dmarc/contracts';
import { installErrorHandler } from '@dmarc/service-runtime';
import { migrate, PgliteStore, type Store } from '@dmarc/store';
import { issueApiKey } from '@dmarc/tenant-auth';
import { registerDomainRoutes } from './domain-routes';

// Two sources for example.com on 2025-03-10: one passing everything, one failing and rejected.
const record = (sourceIp: string, count: number, pass: boolean) =>
  fixtureRecord({ sourceIp, count, disposition: pass ? 'none' : 'reject', dkimAligned: pass, spfAligned: pass });
const chunk = (tenantId: string, reportId: string, records: AggregateRecord[]): ReportParsed => {
  const c = fixtureChunk(tenantId, reportId, records);
  return { ...c, metadata: { ...c.metadata, policy: { ...c.metadata.policy, p: 'none', pct: null } } };
};

describe('GET /v1/domains/{domain}/summary and /sources', () => {
  let store: Store;
  let bus: Bus;
  let app: FastifyInstance;
  let base: string;
  let acmeKey: string;
  let globexKey: string;

  beforeAll(async () => {
    store = await PgliteStore.open();
    await migrate(store);
    bus = createInProcessBus({ contracts: loadContracts() });
    const tenant = async (name: string) => (await store.query<{ id: string }>('INSERT INTO tenants (name) VALUES ($1) RETURNING id', [name])).rows[0].id;
    const acme = await tenant('acme');
    const globex = await tenant('globex');
    acmeKey = (await issueApiKey(store, acme)).key;
    globexKey = (await issueApiKey(store, globex)).key;
    const agg = new ReportAggregator({ db: store, publisher: bus });
    await agg.handle(chunk(acme, 'acme-1', [record('192.0.2.1', 90, true), record('203.0.113.5', 10, false)]));
    await agg.handle(chunk(globex, 'globex-1', [record('198.51.100.9', 4, false)]));

    app = Fastify();
    installErrorHandler(app);
    registerDomainRoutes(app, { db: store, now: () => Date.UTC(2025, 2, 11, 12), maxDays: 31 });
    // A real socket: light-my-request's inject pulls in an ESM-only dependency jest cannot load.
    base = await app.listen({ port: 0, host: '127.0.0.1' });
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await bus?.close();
    await store?.close();
  });

  const get = async (path: string, key?: string) => {
    const res = await fetch(`${base}${path}`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
  };

  it("answers the tenant's summary: totals, compliance rate, series and top sources", async () => {
    const { status, body } = await get('/v1/domains/example.com/summary?from=2025-03-09&to=2025-03-11', acmeKey);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      domain: 'example.com',
      from: '2025-03-09',
      to: '2025-03-11',
      totals: { messages: 100, dmarcPass: 90, dkimAligned: 90, spfAligned: 90, dispositions: { none: 90, quarantine: 0, reject: 10, pass: 0 } },
      complianceRate: 0.9,
      policy: { day: '2025-03-10', p: 'none', pct: null },
      reports: { count: 1, complete: 1 },
    });
    expect((body.days as Array<{ day: string; messages: number }>).map((d) => [d.day, d.messages])).toEqual([
      ['2025-03-09', 0],
      ['2025-03-10', 100],
      ['2025-03-11', 0],
    ]);
    expect(body.topSources).toEqual([
      expect.objectContaining({ sourceIp: '192.0.2.1', messages: 90, passRate: 1 }),
      expect.objectContaining({ sourceIp: '203.0.113.5', messages: 10, passRate: 0 }),
    ]);
  });

  it('defaults the range to the last 30 days up to today (UTC)', async () => {
    const { body } = await get('/v1/domains/EXAMPLE.com/summary', acmeKey);
    expect(body).toMatchObject({ domain: 'example.com', from: '2025-02-10', to: '2025-03-11', totals: { messages: 100 } });
  });

  it('lists every source with its counts, limited on request', async () => {
    const all = await get('/v1/domains/example.com/sources?from=2025-03-10&to=2025-03-10', acmeKey);
    expect(all.body).toMatchObject({ total: 2, sources: [{ sourceIp: '192.0.2.1', messages: 90 }, { sourceIp: '203.0.113.5', messages: 10, dispositions: { reject: 10 } }] });
    const one = await get('/v1/domains/example.com/sources?from=2025-03-10&to=2025-03-10&limit=1', acmeKey);
    expect(one.body).toMatchObject({ total: 2, sources: [{ sourceIp: '192.0.2.1' }] });
  });

  it("never shows another tenant's data for the same domain", async () => {
    const summary = await get('/v1/domains/example.com/summary?from=2025-03-10&to=2025-03-10', globexKey);
    expect(summary.body).toMatchObject({ totals: { messages: 4, dmarcPass: 0 }, topSources: [{ sourceIp: '198.51.100.9' }] });
    const sources = await get('/v1/domains/example.com/sources?from=2025-03-10&to=2025-03-10', globexKey);
    expect((sources.body.sources as Array<{ sourceIp: string }>).map((s) => s.sourceIp)).toEqual(['198.51.100.9']);
  });

  it.each([
    ['no header', undefined],
    ['an unknown key', 'dmarc_not-a-key'],
  ])('answers 401 UNAUTHORIZED with %s, before looking at the query', async (_what, key) => {
    const { status, headers, body } = await get('/v1/domains/example.com/summary?from=nonsense', key);
    expect(status).toBe(401);
    expect(headers.get('www-authenticate')).toBe('Bearer');
    expect(body).toEqual({ error: 'UNAUTHORIZED', message: expect.any(String) });
  });

  it.each([
    ['?from=2025-3-1', 'from'],
    ['?from=2025-03-01&to=yesterday', 'to'],
    ['?from=2025-02-30&to=2025-03-01', 'from'],
    ['?from=2025-03-05&to=2025-03-01', 'from'],
    ['?from=2024-01-01&to=2025-03-01', 'from'],
    ['?top=0', 'top'],
    ['?top=many', 'top'],
  ])('answers 400 with the documented shape for %s', async (query, field) => {
    const { status, body } = await get(`/v1/domains/example.com/summary${query}`, acmeKey);
    expect(status).toBe(400);
    expect(body).toEqual({ error: 'VALIDATION_FAILED', message: expect.any(String), field });
  });

  it('refuses a domain that is not a name, and a limit out of range', async () => {
    expect((await get('/v1/domains/exa%20mple.com/summary', acmeKey)).body).toMatchObject({ error: 'VALIDATION_FAILED', field: 'domain' });
    expect((await get('/v1/domains/example.com/sources?limit=100000', acmeKey)).body).toMatchObject({ error: 'VALIDATION_FAILED', field: 'limit' });
  });
});
