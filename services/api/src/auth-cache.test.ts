import { InProcessBroadcast, MemoryCacheL2, TieredCache } from '@dmarc/cache';
import { migrate, PgliteStore, type Queryable, type Store } from '@dmarc/store';
import { createTenant, LocalRateLimiter } from '@dmarc/tenant-admin';
import { startApi, type ApiUnderTest } from './api-harness';

// Authentication through the cache: a known key and an unknown one each cost one database lookup, however
// often they are presented; revoking a key is seen at once.
describe('API key authentication through the cache', () => {
  let store: Store;
  let api: ApiUnderTest;
  let cache: TieredCache;
  let keyLookups = 0;

  beforeAll(async () => {
    store = await PgliteStore.open();
    await migrate(store);
    // The store as the API sees it, counting the key lookups (the statement that reads api_keys by hash).
    const query = store.query.bind(store) as (...a: unknown[]) => ReturnType<Queryable['query']>;
    const counting = new Proxy(store, {
      get(target, prop) {
        if (prop === 'query') {
          return (sql: string, ...rest: unknown[]) => {
            if (sql.includes('FROM api_keys k JOIN tenants')) keyLookups++;
            return query(sql, ...rest);
          };
        }
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    cache = new TieredCache({ l2: new MemoryCacheL2(), broadcast: new InProcessBroadcast() });
    api = await startApi({ db: counting, cache, limiter: new LocalRateLimiter({ starter: 1000, business: 1000, enterprise: 1000 }) });
  }, 60_000);
  afterAll(async () => {
    await api?.app.close();
    await cache?.close();
    await store?.close();
  });

  it('looks an unknown key up once, then answers 401 from the cache', async () => {
    const bogus = 'dmarc_not-a-key-anyone-was-given';
    for (let i = 0; i < 5; i++) expect((await api.call('GET', '/v1/tenant', bogus)).status).toBe(401);
    expect(keyLookups).toBe(1);
  });

  it('looks a known key up once, and a revoked one is refused at once', async () => {
    keyLookups = 0;
    const { apiKey } = await createTenant(store, { name: 'cached', tier: 'business' });
    for (let i = 0; i < 5; i++) expect((await api.call('GET', '/v1/tenant', apiKey)).status).toBe(200);
    expect(keyLookups).toBe(1);
    const created = await api.call('POST', '/v1/api-keys', apiKey, { label: 'second' });
    expect(created.status).toBe(201);
    const second = created.body as { id: string; key: string };
    expect((await api.call('GET', '/v1/tenant', second.key)).status).toBe(200);
    expect((await api.call('DELETE', `/v1/api-keys/${second.id}`, apiKey)).status).toBe(204);
    expect((await api.call('GET', '/v1/tenant', second.key)).status).toBe(401);
  });
});
