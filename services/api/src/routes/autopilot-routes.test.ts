import { InProcessBroadcast, MemoryCacheL2, TieredCache } from '@dmarc/cache';
import { AutopilotWorker, MemoryDnsProvider, type DnsAlert } from '@dmarc/dns-update';
import { migrate, PgliteStore, type Store } from '@dmarc/store';
import { createTenant, LocalRateLimiter } from '@dmarc/tenant-admin';
import { startApi, type ApiUnderTest } from '../api-harness';

// The DNS autopilot routes over PGlite and the in-memory cache, with the worker writing to the in-memory DNS
// provider. The worker against a real BIND 9 is in libs/dns-update (autopilot.int.test.ts).
describe('DNS autopilot routes (PGlite, in-memory DNS)', () => {
  let store: Store;
  let api: ApiUnderTest;
  let cache: TieredCache;
  let a: { key: string };
  let b: { key: string };
  const dns = new MemoryDnsProvider();
  const alerts: DnsAlert[] = [];
  const secret = Buffer.alloc(32, 5).toString('base64');
  const settings = { host: '192.0.2.53', zone: 'acme.example', keyName: 'dmarc-autopilot', algorithm: 'hmac-sha256', secret };

  beforeAll(async () => {
    store = await PgliteStore.open();
    await migrate(store);
    cache = new TieredCache({ l2: new MemoryCacheL2(), broadcast: new InProcessBroadcast() });
    api = await startApi({ db: store, cache, limiter: new LocalRateLimiter({ starter: 1000, business: 1000, enterprise: 1000 }) });
    a = { key: (await createTenant(store, { name: 'acme', tier: 'business' })).apiKey };
    b = { key: (await createTenant(store, { name: 'other', tier: 'business' })).apiKey };
    expect((await api.call('POST', '/v1/domains', a.key, { name: 'acme.example' })).status).toBe(201);
  }, 60_000);
  afterAll(async () => {
    await api?.app.close();
    await cache?.close();
    await store?.close();
  });

  const worker = () =>
    new AutopilotWorker({
      db: store,
      alerts: { raise: async (alert) => void alerts.push(alert) },
      logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
      providerFor: () => dns,
    });

  it('opts a domain in, shows its settings without the secret, and writes the next approved policy change to DNS', async () => {
    dns.set('_dmarc.acme.example', ['v=DMARC1; p=none; rua=mailto:dmarc@acme.example']);
    const put = await api.call('PUT', '/v1/domains/acme.example/autopilot', a.key, { ...settings, ttl: 600 });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({
      domain: 'acme.example',
      provider: 'rfc2136',
      host: '192.0.2.53',
      port: 53,
      zone: 'acme.example',
      keyName: 'dmarc-autopilot',
      algorithm: 'hmac-sha256',
      ttl: 600,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
      jobs: [],
    });

    expect((await api.call('PUT', '/v1/domains/acme.example/policy', a.key, { p: 'quarantine', pct: 50 })).status).toBe(200);
    const queued = await api.call('GET', '/v1/domains/acme.example/autopilot', a.key);
    expect(queued.body.jobs).toEqual([expect.objectContaining({ status: 'pending', policyVersion: 1, attempts: 0, record: null, nextAttemptAt: expect.any(String) })]);

    await worker().runOnce();
    const record = 'v=DMARC1; p=quarantine; pct=50; adkim=r; aspf=r; rua=mailto:dmarc@acme.example';
    expect(dns.writes).toEqual([{ name: '_dmarc.acme.example', text: record, ttl: 600 }]);
    const done = await api.call('GET', '/v1/domains/acme.example/autopilot', a.key);
    expect(done.body.jobs).toEqual([expect.objectContaining({ status: 'verified', attempts: 1, record, nextAttemptAt: null, verifiedAt: expect.any(String) })]);

    const audit = JSON.stringify((await api.call('GET', '/v1/audit', a.key)).body);
    expect(audit).toContain('dns.autopilot.update');
    expect(audit).toContain('autopilot.enable');
    for (const body of [put.body, queued.body, done.body, audit]) expect(JSON.stringify(body)).not.toContain(secret);
  });

  it.each([
    [{ host: 'ns1.acme.example' }, 'host'],
    [{ host: '224.0.0.1' }, 'host'],
    [{ port: 0 }, 'port'],
    [{ port: '53' }, 'port'],
    [{ zone: 'other.example' }, 'zone'],
    [{ keyName: 'bad key' }, 'keyName'],
    [{ algorithm: 'hmac-md5' }, 'algorithm'],
    [{ secret: '%%%' }, 'secret'],
    [{ secret: 'c2hvcnQ=' }, 'secret'],
    [{ ttl: 5 }, 'ttl'],
    [{ provider: 'route53' }, 'provider'],
    [{ password: 'x' }, 'password'],
  ])('refuses %j with 400 naming %s, and keeps serving', async (change, field) => {
    const res = await api.call('PUT', '/v1/domains/acme.example/autopilot', a.key, { ...settings, ...change });
    expect({ status: res.status, error: res.body.error, field: res.body.field }).toEqual({ status: 400, error: 'VALIDATION_FAILED', field });
    expect(typeof res.body.message).toBe('string');
    expect(res.body.message).not.toMatch(/\n\s+at /);
    expect((await api.call('GET', '/v1/domains/acme.example/autopilot', a.key)).status).toBe(200);
  });

  it('refuses a missing field naming it', async () => {
    const { secret: _omitted, ...noSecret } = settings;
    const res = await api.call('PUT', '/v1/domains/acme.example/autopilot', a.key, noSecret);
    expect(res.body).toMatchObject({ error: 'VALIDATION_FAILED', field: 'secret' });
  });

  it("answers 404 to another tenant on every autopilot route of a domain it does not have, and changes nothing", async () => {
    for (const [method, body] of [['GET', undefined], ['PUT', settings], ['DELETE', undefined]] as const) {
      const res = await api.call(method, '/v1/domains/acme.example/autopilot', b.key, body);
      expect({ method, status: res.status, error: res.body.error }).toEqual({ method, status: 404, error: 'NOT_FOUND' });
    }
    expect((await api.call('GET', '/v1/domains/acme.example/autopilot', a.key)).body).toMatchObject({ ttl: 600, host: '192.0.2.53' });
  });

  it('opts out: 204, queued writes cancelled, later policy changes not written, then 404', async () => {
    await api.call('PUT', '/v1/domains/acme.example/policy', a.key, { p: 'reject' });
    expect((await api.call('DELETE', '/v1/domains/acme.example/autopilot', a.key)).status).toBe(204);
    await api.call('PUT', '/v1/domains/acme.example/policy', a.key, { p: 'none' });
    const writes = dns.writes.length;
    await worker().runOnce();
    expect(dns.writes).toHaveLength(writes);
    const { rows } = await store.query<{ status: string }>("SELECT status FROM dns_update_jobs WHERE domain = 'acme.example' ORDER BY id");
    expect(rows.map((r) => r.status)).toEqual(['verified', 'cancelled']);
    expect((await api.call('GET', '/v1/domains/acme.example/autopilot', a.key)).status).toBe(404);
    expect((await api.call('DELETE', '/v1/domains/acme.example/autopilot', a.key)).status).toBe(404);
    expect(alerts).toEqual([]);
  });
});
