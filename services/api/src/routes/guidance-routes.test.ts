import { InProcessBroadcast, MemoryCacheL2, TieredCache } from '@dmarc/cache';
import { DEFAULT_THRESHOLDS } from '@dmarc/policy-guidance';
import { migrate, PgliteStore, type Store } from '@dmarc/store';
import { createTenant, LocalRateLimiter } from '@dmarc/tenant-admin';
import { startApi, type ApiUnderTest } from '../api-harness';
import { lastDays, seedCounters } from './guidance-fixtures';

// The guidance routes over PGlite and the in-memory cache: the OpenAPI document, IPv6 proposals approved in any
// spelling, and the cached guidance following the approval. The same routes on real PostgreSQL, Redis and Kafka
// (the change event, other tenants, bad input) are in guidance-routes.int.test.ts.
describe('guidance routes (PGlite, in-memory cache)', () => {
  let store: Store;
  let api: ApiUnderTest;
  let cache: TieredCache;
  let key: string;
  let tenantId: string;

  beforeAll(async () => {
    store = await PgliteStore.open();
    await migrate(store);
    cache = new TieredCache({ l2: new MemoryCacheL2(), broadcast: new InProcessBroadcast() });
    api = await startApi({ db: store, cache, limiter: new LocalRateLimiter({ starter: 1000, business: 1000, enterprise: 1000 }) });
    const tenant = await createTenant(store, { name: 'guided', tier: 'business' });
    key = tenant.apiKey;
    tenantId = tenant.id;
  }, 60_000);
  afterAll(async () => {
    await api?.app.close();
    await cache?.close();
    await store?.close();
  });

  it('documents the three routes in /docs/json with their schemas', async () => {
    const paths = (await api.call('GET', '/docs/json', undefined)).body.paths as Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { required: string[] } }> }; responses: Record<string, unknown> }>>;
    expect(Object.keys(paths['/v1/domains/{domain}/guidance'])).toEqual(['get']);
    expect(Object.keys(paths['/v1/domains/{domain}/source-proposals'])).toEqual(['get']);
    const approve = paths['/v1/domains/{domain}/source-proposals/approve'].post;
    expect(approve.requestBody!.content['application/json'].schema.required).toEqual(['source']);
    expect(Object.keys(approve.responses)).toEqual(expect.arrayContaining(['200', '201']));
  });

  it('proposes an IPv6 sender, approves it written in another spelling, and the cached guidance follows', async () => {
    const domain = 'guided.example';
    expect((await api.call('POST', '/v1/domains', key, { name: domain })).status).toBe(201);
    await seedCounters(store, tenantId, domain, Date.now(), [
      { sourceIp: '2001:db8::77', days: lastDays(DEFAULT_THRESHOLDS.minDays), messages: 100, dkimAligned: 100, spfAligned: 100 },
    ]);
    const before = await api.call('GET', `/v1/domains/${domain}/guidance`, key);
    expect(before.body).toMatchObject({ currentPolicy: { p: 'none', origin: 'unknown' }, steps: [{ verdict: 'blocked' }, { verdict: 'blocked' }] });
    expect((before.body.steps as Array<{ reasons: Array<{ code: string }> }>)[0].reasons.map((r) => r.code)).toEqual(['NO_LEGITIMATE_TRAFFIC', 'UNAPPROVED_HIGH_VOLUME']);
    expect((await api.call('GET', `/v1/domains/${domain}/source-proposals`, key)).body.proposals).toEqual([expect.objectContaining({ source: '2001:db8::77', kind: 'ip' })]);

    const approved = await api.call('POST', `/v1/domains/${domain}/source-proposals/approve`, key, { source: '2001:DB8:0:0::77', description: 'our relay' });
    expect(approved).toMatchObject({ status: 201, body: { created: true, approvedSource: { source: '2001:db8::77', kind: 'ip', description: 'our relay' } } });
    const after = await api.call('GET', `/v1/domains/${domain}/guidance`, key);
    expect(after.body).toMatchObject({ steps: [{ verdict: 'safe' }, { verdict: 'blocked' }], unapproved: { sources: 0 } });
    expect((await api.call('GET', `/v1/domains/${domain}/source-proposals`, key)).body.proposals).toEqual([]);
    // Once approved, any spelling of it answers the approval.
    expect(await api.call('POST', `/v1/domains/${domain}/source-proposals/approve`, key, { source: '2001:db8:0::77' })).toMatchObject({ status: 200, body: { created: false, proposal: null } });
  });
});
