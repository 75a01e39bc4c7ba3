import { InProcessBroadcast, MemoryCacheL2, TieredCache } from '@dmarc/cache';
import { createInProcessBus } from '@dmarc/bus';
import { loadContracts } from '@dmarc/contracts';
import { migrate, PgliteStore, type Store } from '@dmarc/store';
import { createTenant, LocalRateLimiter } from '@dmarc/tenant-admin';
import { dedupeWindow, emptyEvidence, ThreatDetector, type AlertCandidate } from '@dmarc/threat-detection';
import { startApi, type ApiUnderTest } from '../api-harness';

// The alert routes over PGlite: rule settings validated by @dmarc/threat-detection (a bad threshold is a 400 naming
// it, nothing written, the API still serving), audited writes, and the alert list scoped to the caller's tenant.
describe('alert routes (PGlite)', () => {
  let store: Store;
  let api: ApiUnderTest;
  let cache: TieredCache;
  let key: string;
  let tenantId: string;
  let otherKey: string;

  beforeAll(async () => {
    store = await PgliteStore.open();
    await migrate(store);
    cache = new TieredCache({ l2: new MemoryCacheL2(), broadcast: new InProcessBroadcast() });
    api = await startApi({ db: store, cache, limiter: new LocalRateLimiter({ starter: 1000, business: 1000, enterprise: 1000 }) });
    const tenant = await createTenant(store, { name: 'acme', tier: 'business' });
    key = tenant.apiKey;
    tenantId = tenant.id;
    otherKey = (await createTenant(store, { name: 'other', tier: 'business' })).apiKey;
  }, 60_000);
  afterAll(async () => {
    await api?.app.close();
    await cache?.close();
    await store?.close();
  });

  const rules = async (k = key) => (await api.call('GET', '/v1/alert-rules', k)).body.rules as Array<Record<string, unknown>>;
  const auditActions = async () => ((await api.call('GET', '/v1/audit', key)).body.entries as Array<{ action: string }>).map((e) => e.action);

  it('lists every rule with its defaults for a tenant that set none', async () => {
    const listed = await rules();
    expect(listed.map((r) => r.rule)).toEqual(['spoofing', 'new_source', 'failure_spike', 'dns_weakened', 'dns_update_failed']);
    expect(listed[0]).toEqual({
      rule: 'spoofing',
      enabled: true,
      thresholds: { minMessages: 100, dedupeMinutes: 60 },
      defaults: { minMessages: 100, dedupeMinutes: 60 },
      overrides: {},
      updatedAt: null,
    });
  });

  it.each([
    ['spoofing', { thresholds: { minMessages: 0 } }, 'thresholds.minMessages', 'spoofing.minMessages must be an integer ≥ 1, not 0'],
    ['spoofing', { thresholds: { minMessages: '100' } }, 'thresholds.minMessages', 'spoofing.minMessages must be an integer ≥ 1, not "100"'],
    ['spoofing', { thresholds: { minMessages: 1.5 } }, 'thresholds.minMessages', 'spoofing.minMessages must be an integer ≥ 1, not 1.5'],
    ['failure_spike', { thresholds: { minIncrease: 2 } }, 'thresholds.minIncrease', 'failure_spike.minIncrease must be a number from 0.01 to 1, not 2'],
    ['new_source', { thresholds: { ipv6Prefix: 129 } }, 'thresholds.ipv6Prefix', 'new_source.ipv6Prefix must be an integer from 16 to 128, not 129'],
    ['spoofing', { thresholds: { volume: 10 } }, 'thresholds.volume', 'spoofing.volume is not a threshold of spoofing (minMessages, dedupeMinutes)'],
    ['spoofing', { thresholds: [100] }, 'thresholds', null],
    ['spoofing', { enabled: 'yes' }, 'enabled', null],
    ['spoofing', { enable: false }, 'enable', null],
    ['phishing', {}, 'rule', null],
  ])('PUT /v1/alert-rules/%s %j: 400 naming %s, nothing written', async (rule, body, field, message) => {
    const before = await auditActions();
    const res = await api.call('PUT', `/v1/alert-rules/${rule}`, key, body);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'VALIDATION_FAILED', field });
    if (message) expect(res.body.message).toBe(message);
    expect(JSON.stringify(res.body)).not.toMatch(/\bat .*\.ts:\d+/);
    expect((await rules()).every((r) => r.updatedAt === null)).toBe(true);
    expect(await auditActions()).toEqual(before);
    // Still serving.
    expect((await api.call('GET', '/v1/alert-rules', key)).status).toBe(200);
  });

  it('sets a rule, audits it once, shows it in force, and leaves other tenants on their defaults', async () => {
    const put = await api.call('PUT', '/v1/alert-rules/spoofing', key, { thresholds: { minMessages: 25 } });
    expect(put).toMatchObject({ status: 200, body: { rule: 'spoofing', enabled: true, thresholds: { minMessages: 25, dedupeMinutes: 60 }, overrides: { minMessages: 25 } } });
    await api.call('PUT', '/v1/alert-rules/spoofing', key, { thresholds: { minMessages: 25 } });
    await api.call('PUT', '/v1/alert-rules/new_source', key, { enabled: false });
    expect((await auditActions()).filter((a) => a === 'alert_rule.update')).toHaveLength(2);
    const mine = await rules();
    expect(mine.find((r) => r.rule === 'spoofing')).toMatchObject({ thresholds: { minMessages: 25 }, updatedAt: expect.any(String) });
    expect(mine.find((r) => r.rule === 'new_source')).toMatchObject({ enabled: false, thresholds: { minMessages: 1 } });
    expect((await rules(otherKey)).find((r) => r.rule === 'spoofing')).toMatchObject({ thresholds: { minMessages: 100 }, updatedAt: null });
  });

  it('lists the tenant’s alerts newest first, by domain and rule, a page at a time, and never another tenant’s', async () => {
    const bus = createInProcessBus({ contracts: loadContracts() });
    const detector = new ThreatDetector({ db: store, publisher: bus, logger: { warn: () => undefined } });
    const alert = (domain: string, rule: AlertCandidate['rule'], at: number): AlertCandidate => ({
      tenantId,
      domain,
      rule,
      severity: 'high',
      title: `${rule} of ${domain}`,
      summary: 'test',
      evidence: { ...emptyEvidence(), failingMessages: 7 },
      detectedAt: at,
      ...dedupeWindow(at, 60),
    });
    const t0 = Date.UTC(2025, 2, 11, 10);
    const raised = await detector.raise([alert('a.example', 'spoofing', t0), alert('b.example', 'spoofing', t0 + 1000), alert('a.example', 'new_source', t0 + 2000)]);
    expect(await raised.published).toBe(3);
    await bus.close();

    const all = await api.call('GET', '/v1/alerts', key);
    expect((all.body.alerts as Array<{ title: string }>).map((a) => a.title)).toEqual(['new_source of a.example', 'spoofing of b.example', 'spoofing of a.example']);
    expect((all.body.alerts as unknown[])[0]).toMatchObject({ detectedAt: new Date(t0 + 2000).toISOString(), evidence: { failingMessages: 7 }, publishedAt: expect.any(String) });
    const ofA = await api.call('GET', '/v1/alerts?domain=A.Example', key);
    expect((ofA.body.alerts as unknown[]).length).toBe(2);
    const spoofing = await api.call('GET', '/v1/alerts?rule=spoofing&limit=1', key);
    const first = (spoofing.body.alerts as Array<{ id: string; title: string }>)[0];
    expect(first.title).toBe('spoofing of b.example');
    const next = await api.call('GET', `/v1/alerts?rule=spoofing&limit=1&before=${first.id}`, key);
    expect((next.body.alerts as Array<{ title: string }>).map((a) => a.title)).toEqual(['spoofing of a.example']);
    expect((await api.call('GET', '/v1/alerts', otherKey)).body).toEqual({ alerts: [] });
    expect((await api.call('GET', '/v1/alerts?rule=phishing', key)).body).toMatchObject({ error: 'VALIDATION_FAILED', field: 'rule' });
    expect((await api.call('GET', '/v1/alerts?limit=0', key)).body).toMatchObject({ error: 'VALIDATION_FAILED', field: 'limit' });
  });
});
