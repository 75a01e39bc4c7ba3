import { connectRedisCache, TieredCache, type RedisCacheConnection } from '@dmarc/cache';
import { createKafkaBus, type Bus, type Delivered } from '@dmarc/bus';
import { loadContracts, type ConfigChange } from '@dmarc/contracts';
import { PgStore, runMigrations } from '@dmarc/store';
import {
  ConfigChangeRelay,
  connectRateLimitRedis,
  createTenant,
  LocalRateLimiter,
  SharedRateLimiter,
  type RateLimitRedis,
} from '@dmarc/tenant-admin';
import { spawnService, stopService, waitFor, waitReady, type SpawnedService } from '@dmarc/testing';
import { startApi, type ApiUnderTest } from './api-harness';

// The API in-process against the real PostgreSQL, Redis (cache and rate limit) and Kafka (the change events
// read back from dmarc.config.changes), and `dmarc serve api` twice for what one process cannot show.
// Everything is named with this run's id: other engineers' tests share the servers.
const run = `${Date.now()}-${process.pid}`;

describe('tenant API (real PostgreSQL, Redis and Kafka)', () => {
  let store: PgStore;
  let bus: Bus;
  let redis: RedisCacheConnection;
  let limiterRedis: RateLimitRedis;
  let cache: TieredCache;
  let relay: ConfigChangeRelay;
  let api: ApiUnderTest;
  const events: Array<{ key: string | null; value: ConfigChange }> = [];

  beforeAll(async () => {
    await runMigrations(process.env.DATABASE_URL!, { info: () => undefined });
    store = new PgStore({ url: process.env.DATABASE_URL! });
    bus = await createKafkaBus({ brokers: process.env.KAFKA_BROKERS!.split(','), clientId: 'api-int', contracts: loadContracts() });
    await bus.ensureTopics([{ topic: 'dmarc.config.changes' }]);
    // Its own group from the beginning: the topic only holds config changes, few of them.
    await bus.consume({
      groupId: `api-int-${run}`,
      topics: ['dmarc.config.changes'],
      handler: async (m) => void events.push({ key: m.key, value: (m as Delivered<'dmarc.config.changes'>).value }),
    });
    redis = connectRedisCache(process.env.REDIS_URL!);
    await redis.ready();
    cache = new TieredCache({ l2: redis.l2, broadcast: redis.broadcast });
    limiterRedis = connectRateLimitRedis(process.env.REDIS_URL!);
    // Until connected every request takes the per-process fallback (the client does not queue).
    expect(await limiterRedis.ready()).toBe(true);
    // Starter tenants get 2 operations per second here, the others plenty.
    const rates = { starter: 2, business: 10_000, enterprise: 10_000 };
    const limiter = new SharedRateLimiter({ redis: limiterRedis.scripting, rates, fallback: new LocalRateLimiter(rates), keyPrefix: `api-int:${run}:` });
    relay = new ConfigChangeRelay({ db: store, publisher: bus, logger: { warn: () => undefined } });
    api = await startApi({ db: store, cache, limiter, afterChange: () => relay.kick() });
  }, 120_000);
  afterAll(async () => {
    await api?.app.close();
    await relay?.stop();
    await cache?.close();
    await redis?.close();
    await limiterRedis?.close();
    await bus?.close();
    await store?.close();
  });

  const tenant = async (name: string, tier: 'starter' | 'business' | 'enterprise' = 'business') => {
    const t = await createTenant(store, { name: `${name}-${run}`, tier });
    return { id: t.id, key: t.apiKey, keyId: t.apiKeyId };
  };

  it('refuses a missing, malformed, unknown or revoked key with 401 and the error shape', async () => {
    const acme = await tenant('api-int-auth');
    for (const [header, message] of [
      [undefined, 'missing Authorization'],
      ['Basic eDp5', 'must be "Bearer'],
      ['Bearer dmarc_nope', 'unknown or revoked'],
    ] as const) {
      const res = await api.call('GET', '/v1/tenant', undefined, undefined, header ? { authorization: header } : {});
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      expect(res.body).toEqual({ error: 'UNAUTHORIZED', message: expect.stringContaining(message) });
    }
    // A second key, used (so its caller is cached), then revoked with the first: 401 from the next request on.
    const second = await api.call('POST', '/v1/api-keys', acme.key, { label: 'ci' });
    expect(second).toMatchObject({ status: 201, body: { label: 'ci', key: expect.stringMatching(/^dmarc_/) } });
    const secondKey = second.body.key as string;
    expect((await api.call('GET', '/v1/tenant', secondKey)).body).toMatchObject({ id: acme.id, tier: 'business' });
    expect((await api.call('DELETE', `/v1/api-keys/${second.body.id as string}`, acme.key)).status).toBe(204);
    expect(await api.call('GET', '/v1/tenant', secondKey)).toMatchObject({ status: 401, body: { error: 'UNAUTHORIZED' } });
    expect((await api.call('GET', '/v1/api-keys', acme.key)).body).toEqual({ apiKeys: [expect.objectContaining({ id: acme.keyId })] });
  });

  it('writes the policy to PostgreSQL with its audit row, then announces it on dmarc.config.changes keyed by tenant and domain', async () => {
    const acme = await tenant('api-int-policy');
    const domain = `policy-${run}.example`;
    expect((await api.call('POST', '/v1/domains', acme.key, { name: domain })).status).toBe(201);
    // Cached before the change: the write must drop it.
    expect((await api.call('GET', `/v1/domains/${domain}/summary?from=2025-03-01&to=2025-03-01`, acme.key)).status).toBe(200);
    expect((await api.call('PUT', `/v1/domains/${domain}/policy`, acme.key, { p: 'none' })).body).toMatchObject({ version: 1 });
    const put = await api.call('PUT', `/v1/domains/${domain}/policy`, acme.key, { p: 'reject', sp: 'quarantine', pct: 20, adkim: 's' });
    expect(put).toMatchObject({ status: 200, body: { domain, p: 'reject', sp: 'quarantine', pct: 20, adkim: 's', aspf: 'r', version: 2 } });
    const row = await store.query('SELECT p, sp, pct, adkim, aspf, version FROM domain_policies p JOIN domains d ON d.id = p.domain_id WHERE d.tenant_id = $1', [acme.id]);
    expect(row.rows).toEqual([{ p: 'reject', sp: 'quarantine', pct: 20, adkim: 's', aspf: 'r', version: '2' }]);
    expect((await api.call('GET', `/v1/domains/${domain}/policy`, acme.key)).body).toMatchObject({ p: 'reject', version: 2 });

    const audit = await api.call('GET', '/v1/audit?limit=2', acme.key);
    expect((audit.body.entries as unknown[])[0]).toMatchObject({
      actor: `api-key:${acme.keyId}`,
      action: 'policy.update',
      entity: `policy:${domain}`,
      before: { p: 'none', version: 1 },
      after: { p: 'reject', pct: 20, version: 2 },
      at: expect.stringMatching(/^\d{4}-/),
    });

    const mine = await waitFor(
      'the three changes on dmarc.config.changes',
      () => {
        const found = events.filter((e) => e.value.tenantId === acme.id);
        return found.length >= 3 ? found : undefined;
      },
      60_000,
    );
    expect(mine.map((e) => [e.key, e.value.kind, e.value.version])).toEqual([
      [`${acme.id}:${domain}`, 'domain_added', null],
      [`${acme.id}:${domain}`, 'policy_changed', 1],
      [`${acme.id}:${domain}`, 'policy_changed', 2],
    ]);
    const change = mine[2].value;
    expect(change).toMatchObject({ domain, entity: `policy:${domain}`, actor: `api-key:${acme.keyId}`, userId: null });
    expect(JSON.parse(change.before!)).toMatchObject({ p: 'none', version: 1 });
    expect(JSON.parse(change.after!)).toMatchObject({ p: 'reject', sp: 'quarantine', pct: 20, version: 2 });
    expect(mine[1].value.sequence).toBeLessThan(change.sequence);
    // Marked published by the relay's transaction, which commits just after the broker took them.
    await waitFor('the outbox rows marked published', async () => {
      const published = await store.query<{ n: number }>('SELECT count(*)::int AS n FROM config_changes WHERE tenant_id = $1 AND published_at IS NOT NULL', [acme.id]);
      return published.rows[0].n === 3 ? true : undefined;
    });
  });

  it("answers 404, never 403, to tenant A's key on every tenant B resource of every route in /docs/json, and changes nothing of B's", async () => {
    const a = await tenant('api-int-a');
    const b = await tenant('api-int-b');
    const bDomain = `b-only-${run}.example`;
    await api.call('POST', '/v1/domains', a.key, { name: `a-only-${run}.example` });
    expect((await api.call('POST', '/v1/domains', b.key, { name: bDomain })).status).toBe(201);
    expect((await api.call('PUT', `/v1/domains/${bDomain}/policy`, b.key, { p: 'quarantine' })).status).toBe(200);
    const source = await api.call('POST', `/v1/domains/${bDomain}/sources/approved`, b.key, { source: '198.51.100.0/24' });
    const user = await api.call('POST', '/v1/users', b.key, { email: `b-${run}@b.example`, permissions: ['domains:read'] });
    const bKey = await api.call('POST', '/v1/api-keys', b.key, { label: 'b' });
    const ids: Record<string, string> = {
      '/v1/api-keys/{id}': bKey.body.id as string,
      '/v1/users/{id}/permissions': user.body.id as string,
      '/v1/domains/{domain}/sources/approved/{id}': source.body.id as string,
    };
    // A valid body for every route that takes one, so only ownership can refuse it.
    const bodies: Record<string, unknown> = {
      'PUT /v1/domains/{domain}/policy': { p: 'reject' },
      'PUT /v1/domains/{domain}/autopilot': { host: '192.0.2.53', zone: bDomain, keyName: 'k', algorithm: 'hmac-sha256', secret: Buffer.alloc(32, 1).toString('base64') },
      'POST /v1/domains/{domain}/sources/approved': { source: '203.0.113.1' },
      'POST /v1/domains/{domain}/source-proposals/approve': { source: '203.0.113.1' },
      'PUT /v1/users/{id}/permissions': { permissions: ['users:write'] },
    };

    const doc = (await api.call('GET', '/docs/json', undefined)).body as { paths: Record<string, Record<string, { requestBody?: unknown }>> };
    const tried: string[] = [];
    for (const [template, operations] of Object.entries(doc.paths)) {
      if (!template.includes('{')) continue;
      // The caller's own settings (an alert rule by name): there is no other tenant's to reach through it.
      if (template.startsWith('/v1/alert-rules/')) continue;
      for (const [method, operation] of Object.entries(operations)) {
        const route = `${method.toUpperCase()} ${template}`;
        const path = template.replace('{domain}', bDomain).replace('{id}', ids[template] ?? 'no-id-for-this-route');
        if (operation.requestBody !== undefined && !(route in bodies)) throw new Error(`no sample body for ${route}: add one`);
        const res = await api.call(method.toUpperCase(), path, a.key, bodies[route]);
        expect({ route, status: res.status, error: res.body.error }).toEqual({ route, status: 404, error: 'NOT_FOUND' });
        tried.push(route);
      }
    }
    expect(tried.length).toBeGreaterThanOrEqual(12);

    // Nothing of B's moved, and B's key still works on all of it.
    expect((await api.call('GET', `/v1/domains/${bDomain}/policy`, b.key)).body).toMatchObject({ p: 'quarantine', version: 1 });
    expect((await api.call('GET', `/v1/domains/${bDomain}/sources/approved`, b.key)).body).toEqual({ sources: [expect.objectContaining({ source: '198.51.100.0/24' })] });
    expect((await api.call('GET', '/v1/users', b.key)).body).toEqual({ users: [expect.objectContaining({ permissions: ['domains:read'] })] });
    expect((await api.call('GET', '/v1/tenant', bKey.body.key as string)).body).toMatchObject({ id: b.id });
    // The collections A sees hold only A's.
    expect((await api.call('GET', '/v1/domains', a.key)).body).toEqual({ domains: [expect.objectContaining({ name: `a-only-${run}.example` })] });
    expect((await api.call('GET', '/v1/users', a.key)).body).toEqual({ users: [] });
    expect((await api.call('GET', '/v1/api-keys', a.key)).body).toEqual({ apiKeys: [expect.objectContaining({ id: a.keyId })] });
    expect(JSON.stringify((await api.call('GET', '/v1/audit', a.key)).body)).not.toContain(bDomain);
    expect((await api.call('GET', '/v1/tenant', a.key)).body).toMatchObject({ id: a.id });
  });

  it('refuses hostile domain names before they reach a cache key or a query, on reads and writes', async () => {
    const a = await tenant('api-int-hostile');
    for (const hostile of ['a.com:*', 'x}:tenant:2', `tenant:${a.id}:dashboard`, 'a.com\u0000', '*']) {
      const path = encodeURIComponent(hostile);
      for (const [method, route, body] of [
        ['GET', `/v1/domains/${path}/summary`, undefined],
        ['GET', `/v1/domains/${path}/policy`, undefined],
        ['PUT', `/v1/domains/${path}/policy`, { p: 'none' }],
      ] as const) {
        const res = await api.call(method, route, a.key, body);
        expect({ hostile, route: `${method} ${route}`, status: res.status, body: res.body }).toMatchObject({ status: 400, body: { error: 'VALIDATION_FAILED', field: 'domain' } });
      }
      expect((await api.call('POST', '/v1/domains', a.key, { name: hostile })).body).toMatchObject({ error: 'VALIDATION_FAILED', field: 'name' });
    }
  });

  it('answers 429 with Retry-After past the tier rate, and serves again after it', async () => {
    const small = await tenant('api-int-starter', 'starter');
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: 10 }, () => api.call('GET', '/v1/tenant', small.key)));
    const elapsedS = (Date.now() - started) / 1000;
    const allowed = answers.filter((r) => r.status === 200).length;
    const refused = answers.filter((r) => r.status === 429);
    expect(allowed + refused.length).toBe(10);
    // Burst 2, refilled at 2/s while the requests ran.
    expect(allowed).toBeLessThanOrEqual(2 + Math.ceil(elapsedS * 2));
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) {
      expect(r.body).toEqual({ error: 'RATE_LIMITED', message: expect.stringContaining('retry after') });
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
    await new Promise((resolve) => setTimeout(resolve, Number(refused[0].headers.get('retry-after')) * 1000));
    expect((await api.call('GET', '/v1/tenant', small.key)).status).toBe(200);
    // Another tier's tenant is not held back by it.
    expect((await api.call('GET', '/v1/tenant', (await tenant('api-int-biz')).key)).status).toBe(200);
  });

  it('shares one bucket between API processes through Redis, and limits per process when Redis is unreachable', async () => {
    const rates = { starter: 5, business: 5, enterprise: 5 };
    const prefix = `api-int-shared:${run}:`;
    const second = connectRateLimitRedis(process.env.REDIS_URL!);
    try {
      expect(await second.ready()).toBe(true);
      const p1 = new SharedRateLimiter({ redis: limiterRedis.scripting, rates, fallback: new LocalRateLimiter(rates), keyPrefix: prefix });
      const p2 = new SharedRateLimiter({ redis: second.scripting, rates, fallback: new LocalRateLimiter(rates), keyPrefix: prefix });
      const started = Date.now();
      const decisions = [];
      for (let i = 0; i < 10; i++) decisions.push(await (i % 2 === 0 ? p1 : p2).take('tenant-x', 'starter'));
      const elapsedS = (Date.now() - started) / 1000;
      // Two per-process buckets would allow all 10.
      expect(decisions.filter((d) => d.allowed).length).toBeLessThanOrEqual(5 + Math.ceil(elapsedS * 5));
      expect(decisions.filter((d) => d.allowed).length).toBeGreaterThanOrEqual(5);
    } finally {
      await second.close();
    }

    const dead = connectRateLimitRedis('redis://127.0.0.1:1');
    try {
      const fallbacks: unknown[] = [];
      const one = { starter: 1, business: 1, enterprise: 1 };
      const limiter = new SharedRateLimiter({ redis: dead.scripting, rates: one, fallback: new LocalRateLimiter(one), onFallback: (err) => fallbacks.push(err) });
      expect(await limiter.take('tenant-y', 'starter')).toEqual({ allowed: true, retryAfterMs: 0 });
      expect((await limiter.take('tenant-y', 'starter')).allowed).toBe(false);
      expect(fallbacks).toHaveLength(2);
    } finally {
      await dead.close();
    }
  });

  // Two `dmarc serve api` processes sharing Redis: a policy written through one is what the other serves
  // next, although the other had it in its in-process tier (the cache's broadcast drops it there).
  it('shows a policy change made through one API process on the next read from another', async () => {
    const acme = await tenant('api-int-two');
    const domain = `two-${run}.example`;
    let one: SpawnedService | undefined;
    let two: SpawnedService | undefined;
    try {
      [one, two] = await Promise.all([spawnService('api'), spawnService('api')]);
      await Promise.all([waitReady(one), waitReady(two)]);
      const call = async (svc: SpawnedService, method: string, path: string, body?: unknown) => {
        const res = await fetch(`${svc.base}${path}`, {
          method,
          headers: { authorization: `Bearer ${acme.key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
          body: body ? JSON.stringify(body) : undefined,
        });
        return { status: res.status, body: (await res.json()) as Record<string, unknown> };
      };
      expect((await call(one, 'POST', '/v1/domains', { name: domain })).status).toBe(201);
      expect((await call(one, 'PUT', `/v1/domains/${domain}/policy`, { p: 'none' })).body).toMatchObject({ version: 1 });
      // Process two reads the policy and the dashboard twice: the second reads are served from its own tier.
      const summary = `/v1/domains/${domain}/summary?from=2025-03-01&to=2025-03-07`;
      for (let i = 0; i < 2; i++) {
        expect((await call(two, 'GET', `/v1/domains/${domain}/policy`)).body).toMatchObject({ p: 'none', version: 1 });
        expect((await call(two, 'GET', summary)).body).toMatchObject({ configuredPolicy: { p: 'none', version: 1 } });
      }
      expect((await call(one, 'PUT', `/v1/domains/${domain}/policy`, { p: 'reject' })).body).toMatchObject({ version: 2 });
      // The broadcast reaches process two within 100 ms by the cache's contract; the wait is generous for a loaded machine.
      const seen = await waitFor(
        'process two to serve the new policy',
        async () => {
          const res = await call(two!, 'GET', `/v1/domains/${domain}/policy`);
          return res.body.version === 2 ? res.body : undefined;
        },
        10_000,
      );
      expect(seen).toMatchObject({ p: 'reject', version: 2 });
      const dashboard = await waitFor(
        "process two's dashboard to show the new policy",
        async () => {
          const res = await call(two!, 'GET', summary);
          return (res.body.configuredPolicy as { version?: number } | null)?.version === 2 ? res.body : undefined;
        },
        10_000,
      );
      expect(dashboard).toMatchObject({ domain, configuredPolicy: { p: 'reject', version: 2 }, totals: { messages: 0 } });
      expect(await (await fetch(`${two.base}/metrics`)).text()).toMatch(/dmarc_cache_reads_total\{(?=[^}]*tier="l1")(?=[^}]*type="policy")[^}]*\} [1-9]/);
      const openapi = (await (await fetch(`${two.base}/docs/json`)).json()) as { paths: Record<string, unknown> };
      expect(Object.keys(openapi.paths)).toContain('/v1/domains/{domain}/summary');
    } finally {
      if (one) expect(await stopService(one)).toBe(0);
      if (two) expect(await stopService(two)).toBe(0);
    }
  }, 180_000);
});
