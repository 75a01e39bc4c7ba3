import { InProcessBroadcast, MemoryCacheL2, TieredCache } from '@dmarc/cache';
import { migrate, PgliteStore, type Store } from '@dmarc/store';
import { createTenant, LocalRateLimiter } from '@dmarc/tenant-admin';
import { startApi, type ApiUnderTest } from './api-harness';

// The routes over PGlite and the in-memory cache: shapes, validation and the OpenAPI document. The same
// routes against real PostgreSQL, Redis and Kafka are in api.int.test.ts.
describe('tenant API (PGlite, in-memory cache)', () => {
  let store: Store;
  let api: ApiUnderTest;
  let cache: TieredCache;
  let key: string;

  beforeAll(async () => {
    store = await PgliteStore.open();
    await migrate(store);
    cache = new TieredCache({ l2: new MemoryCacheL2(), broadcast: new InProcessBroadcast() });
    api = await startApi({ db: store, cache, limiter: new LocalRateLimiter({ starter: 1000, business: 1000, enterprise: 1000 }) });
    key = (await createTenant(store, { name: 'acme', tier: 'business' })).apiKey;
  }, 60_000);
  afterAll(async () => {
    await api?.app.close();
    await cache?.close();
    await store?.close();
  });

  it('serves an OpenAPI document listing every /v1 route with its schemas', async () => {
    const { status, body } = await api.call('GET', '/docs/json', undefined);
    expect(status).toBe(200);
    const paths = body.paths as Record<string, Record<string, unknown>>;
    expect(Object.keys(paths).sort()).toEqual([
      '/v1/alert-rules',
      '/v1/alert-rules/{rule}',
      '/v1/alerts',
      '/v1/api-keys',
      '/v1/api-keys/{id}',
      '/v1/audit',
      '/v1/domains',
      '/v1/domains/{domain}',
      '/v1/domains/{domain}/autopilot',
      '/v1/domains/{domain}/guidance',
      '/v1/domains/{domain}/policy',
      '/v1/domains/{domain}/source-proposals',
      '/v1/domains/{domain}/source-proposals/approve',
      '/v1/domains/{domain}/sources',
      '/v1/domains/{domain}/sources/approved',
      '/v1/domains/{domain}/sources/approved/{id}',
      '/v1/domains/{domain}/summary',
      '/v1/domains/{domain}/trends',
      '/v1/tenant',
      '/v1/users',
      '/v1/users/{id}/permissions',
    ]);
    expect(Object.keys(paths['/v1/domains/{domain}/policy']).sort()).toEqual(['get', 'put']);
    const put = paths['/v1/domains/{domain}/policy'].put as { requestBody: { content: Record<string, { schema: { properties: Record<string, unknown> } }> } };
    expect(put.requestBody.content['application/json'].schema.properties.p).toMatchObject({ enum: ['none', 'quarantine', 'reject'] });
  });

  it('registers a domain, sets its policy and reads it back', async () => {
    expect((await api.call('POST', '/v1/domains', key, { name: 'Acme.Example.' })).body).toMatchObject({ name: 'acme.example', policy: null });
    const put = await api.call('PUT', '/v1/domains/acme.example/policy', key, { p: 'quarantine', pct: 25 });
    expect(put).toMatchObject({ status: 200, body: { domain: 'acme.example', p: 'quarantine', sp: null, pct: 25, adkim: 'r', aspf: 'r', version: 1 } });
    expect((await api.call('GET', '/v1/domains/acme.example/policy', key)).body).toMatchObject({ p: 'quarantine', version: 1 });
    await api.call('PUT', '/v1/domains/acme.example/policy', key, { p: 'reject' });
    // The API drops its own cached policy on write: the next read is the new one.
    expect((await api.call('GET', '/v1/domains/acme.example/policy', key)).body).toMatchObject({ p: 'reject', version: 2 });
    const summary = await api.call('GET', '/v1/domains/acme.example/summary?from=2025-03-01&to=2025-03-02', key);
    expect(summary).toMatchObject({ status: 200, body: { domain: 'acme.example', from: '2025-03-01', to: '2025-03-02', totals: { messages: 0 }, configuredPolicy: { p: 'reject', version: 2 } } });
    // Cached; the next policy write drops it, so the next read shows the new policy.
    await api.call('PUT', '/v1/domains/acme.example/policy', key, { p: 'quarantine' });
    expect((await api.call('GET', '/v1/domains/acme.example/summary?from=2025-03-01&to=2025-03-02', key)).body).toMatchObject({ configuredPolicy: { p: 'quarantine', version: 3 } });
    const trends = await api.call('GET', '/v1/domains/acme.example/trends?from=2025-03-01&to=2025-03-02', key);
    expect(trends.body).toEqual({ domain: 'acme.example', from: '2025-03-01', to: '2025-03-02', days: [
      { day: '2025-03-01', messages: 0, dmarcPass: 0, complianceRate: null },
      { day: '2025-03-02', messages: 0, dmarcPass: 0, complianceRate: null },
    ] });
    expect((await api.call('GET', '/v1/domains/other.example/summary', key)).status).toBe(404);
    expect((await api.call('GET', '/v1/domains/acme.example/summary?from=2025-02-30', key)).body).toMatchObject({ error: 'VALIDATION_FAILED', field: 'from' });
  });

  it('issues a key without a body, shows it once, and lists keys without it', async () => {
    const issued = await api.call('POST', '/v1/api-keys', key);
    expect(issued).toMatchObject({ status: 201, body: { id: expect.any(String), label: null, key: expect.stringMatching(/^dmarc_/) } });
    const listed = await api.call('GET', '/v1/api-keys', key);
    expect(listed.body.apiKeys).toEqual(expect.arrayContaining([{ id: issued.body.id, label: null, createdAt: expect.any(String) }]));
    expect(JSON.stringify(listed.body)).not.toContain(issued.body.key as string);
    expect((await api.call('GET', '/v1/tenant', issued.body.key as string)).body).toMatchObject({ name: 'acme', tier: 'business' });
  });

  describe('bad input: one error shape, nothing written', () => {
    const TABLES = ['domains', 'domain_policies', 'approved_sources', 'tenant_users', 'api_keys', 'audit_log', 'config_changes'];
    const snapshot = async () => {
      const counts: Record<string, number> = {};
      for (const t of TABLES) counts[t] = Number((await store.query<{ n: string }>(`SELECT count(*) AS n FROM ${t}`)).rows[0].n);
      const policy = await store.query('SELECT p, sp, pct, adkim, aspf, version FROM domain_policies ORDER BY domain_id');
      return { counts, policy: policy.rows };
    };
    const big = 'x'.repeat(20 * 1024);
    type Case = [string, string, string, unknown, number, string, string | undefined, Record<string, string>?];
    const cases: Case[] = [
      ['malformed JSON', 'POST', '/v1/domains', '{"name": "a.example"', 400, 'FST_ERR_CTP_INVALID_JSON_BODY', undefined],
      ['empty JSON body', 'POST', '/v1/domains', '', 400, 'FST_ERR_CTP_EMPTY_JSON_BODY', undefined],
      ['not an object', 'POST', '/v1/domains', '["a.example"]', 400, 'VALIDATION_FAILED', undefined],
      ['unknown field', 'POST', '/v1/domains', { name: 'new.example', owner: 'me' }, 400, 'VALIDATION_FAILED', 'owner'],
      ['missing name', 'POST', '/v1/domains', {}, 400, 'VALIDATION_FAILED', 'name'],
      ['name a.com:*', 'POST', '/v1/domains', { name: 'a.com:*' }, 400, 'VALIDATION_FAILED', 'name'],
      ['name x}:tenant:2', 'POST', '/v1/domains', { name: 'x}:tenant:2' }, 400, 'VALIDATION_FAILED', 'name'],
      ['name with a key separator', 'POST', '/v1/domains', { name: 'tenant:1:dashboard:a.com' }, 400, 'VALIDATION_FAILED', 'name'],
      ['single label', 'POST', '/v1/domains', { name: 'localhost' }, 400, 'VALIDATION_FAILED', 'name'],
      ['64-character label', 'POST', '/v1/domains', { name: `${'a'.repeat(64)}.com` }, 400, 'VALIDATION_FAILED', 'name'],
      ['255-character name', 'POST', '/v1/domains', { name: `${'abcdefghij.'.repeat(23)}example` }, 400, 'VALIDATION_FAILED', 'name'],
      ['IP address', 'POST', '/v1/domains', { name: '192.0.2.1' }, 400, 'VALIDATION_FAILED', 'name'],
      ['name of the wrong type', 'POST', '/v1/domains', { name: 42 }, 400, 'VALIDATION_FAILED', 'name'],
      ['oversized body', 'POST', '/v1/domains', { name: `${big}.example` }, 413, 'FST_ERR_CTP_BODY_TOO_LARGE', undefined],
      ['not JSON', 'POST', '/v1/domains', 'name=a.example', 415, 'FST_ERR_CTP_INVALID_MEDIA_TYPE', undefined, { 'content-type': 'application/x-www-form-urlencoded' }],
      ['policy p invalid', 'PUT', '/v1/domains/acme.example/policy', { p: 'block' }, 400, 'VALIDATION_FAILED', 'p'],
      ['policy p missing', 'PUT', '/v1/domains/acme.example/policy', { pct: 50 }, 400, 'VALIDATION_FAILED', 'p'],
      ['policy sp invalid', 'PUT', '/v1/domains/acme.example/policy', { p: 'none', sp: 'always' }, 400, 'VALIDATION_FAILED', 'sp'],
      ['policy pct 101', 'PUT', '/v1/domains/acme.example/policy', { p: 'none', pct: 101 }, 400, 'VALIDATION_FAILED', 'pct'],
      ['policy pct -1', 'PUT', '/v1/domains/acme.example/policy', { p: 'none', pct: -1 }, 400, 'VALIDATION_FAILED', 'pct'],
      ['policy pct fraction', 'PUT', '/v1/domains/acme.example/policy', { p: 'none', pct: 50.5 }, 400, 'VALIDATION_FAILED', 'pct'],
      ['policy pct text', 'PUT', '/v1/domains/acme.example/policy', { p: 'none', pct: 'half' }, 400, 'VALIDATION_FAILED', 'pct'],
      ['policy pct a number as text', 'PUT', '/v1/domains/acme.example/policy', { p: 'none', pct: '50' }, 400, 'VALIDATION_FAILED', 'pct'],
      ['policy p a list', 'PUT', '/v1/domains/acme.example/policy', { p: ['none'] }, 400, 'VALIDATION_FAILED', 'p'],
      ['name a number', 'POST', '/v1/domains', { name: 7 }, 400, 'VALIDATION_FAILED', 'name'],
      ['policy adkim invalid', 'PUT', '/v1/domains/acme.example/policy', { p: 'none', adkim: 'x' }, 400, 'VALIDATION_FAILED', 'adkim'],
      ['policy aspf invalid', 'PUT', '/v1/domains/acme.example/policy', { p: 'none', aspf: 'relaxed' }, 400, 'VALIDATION_FAILED', 'aspf'],
      ['policy unknown field', 'PUT', '/v1/domains/acme.example/policy', { p: 'none', rua: 'mailto:x@y.z' }, 400, 'VALIDATION_FAILED', 'rua'],
      ['policy oversized', 'PUT', '/v1/domains/acme.example/policy', { p: 'none', sp: big }, 413, 'FST_ERR_CTP_BODY_TOO_LARGE', undefined],
      ['path domain a.com:*', 'PUT', '/v1/domains/a.com:*/policy', { p: 'none' }, 400, 'VALIDATION_FAILED', 'domain'],
      ['path domain x}:tenant:2', 'PUT', `/v1/domains/${encodeURIComponent('x}:tenant:2')}/policy`, { p: 'none' }, 400, 'VALIDATION_FAILED', 'domain'],
      ['path domain in a read', 'GET', `/v1/domains/${encodeURIComponent('acme.example:*')}/summary`, undefined, 400, 'VALIDATION_FAILED', 'domain'],
      ['source hostile', 'POST', '/v1/domains/acme.example/sources/approved', { source: 'a.com:*' }, 400, 'VALIDATION_FAILED', 'source'],
      ['source CIDR prefix', 'POST', '/v1/domains/acme.example/sources/approved', { source: '10.0.0.0/33' }, 400, 'VALIDATION_FAILED', 'source'],
      ['source id not a UUID', 'DELETE', '/v1/domains/acme.example/sources/approved/1', undefined, 400, 'VALIDATION_FAILED', 'id'],
      ['user e-mail', 'POST', '/v1/users', { email: 'not an address' }, 400, 'VALIDATION_FAILED', 'email'],
      ['user permission', 'POST', '/v1/users', { email: 'a@b.example', permissions: ['root'] }, 400, 'VALIDATION_FAILED', 'permissions.0'],
      ['permissions unknown field', 'PUT', '/v1/users/00000000-0000-4000-8000-000000000000/permissions', { permissions: [], admin: true }, 400, 'VALIDATION_FAILED', 'admin'],
      ['api key unknown field', 'POST', '/v1/api-keys', { label: 'ci', tenantId: '00000000-0000-4000-8000-000000000000' }, 400, 'VALIDATION_FAILED', 'tenantId'],
      ['audit limit', 'GET', '/v1/audit?limit=0', undefined, 400, 'VALIDATION_FAILED', 'limit'],
    ];

    // A rest parameter: jest reads a function of more parameters than the row as one wanting done().
    it.each(cases)('%s: %s %s', async (...[, method, path, body, status, code, field, headers]: Case) => {
      const before = await snapshot();
      const res = await api.call(method, path, key, body, headers);
      expect(res.status).toBe(status);
      expect(res.body.error).toBe(code);
      expect(typeof res.body.message).toBe('string');
      expect(Object.keys(res.body).sort()).toEqual(field === undefined ? ['error', 'message'] : ['error', 'field', 'message']);
      if (field !== undefined) expect(res.body.field).toBe(field);
      expect(await snapshot()).toEqual(before);
    });
  });
});
