import { connectRedisCache, TieredCache, type RedisCacheConnection } from '@dmarc/cache';
import { createKafkaBus, type Bus, type Delivered } from '@dmarc/bus';
import { loadContracts, type ConfigChange } from '@dmarc/contracts';
import { DEFAULT_THRESHOLDS } from '@dmarc/policy-guidance';
import { PgStore, runMigrations } from '@dmarc/store';
import { ConfigChangeRelay, createTenant, LocalRateLimiter } from '@dmarc/tenant-admin';
import { waitFor } from '@dmarc/testing';
import { startApi, type ApiUnderTest } from '../api-harness';
import { lastDays, seedCounters, type SeededSource } from './guidance-fixtures';

// Policy guidance and source proposals against the real PostgreSQL (30 days of counters), Redis (the cache the
// reads go through) and Kafka (the dmarc.config.changes event of an approval). Named with this run's id: other
// engineers' tests share the servers.
const run = `${Date.now()}-${process.pid}`;

describe('policy guidance and source proposals (real PostgreSQL, Redis and Kafka)', () => {
  let store: PgStore;
  let bus: Bus;
  let redis: RedisCacheConnection;
  let cache: TieredCache;
  let relay: ConfigChangeRelay;
  let api: ApiUnderTest;
  const events: ConfigChange[] = [];

  beforeAll(async () => {
    await runMigrations(process.env.DATABASE_URL!, { info: () => undefined });
    store = new PgStore({ url: process.env.DATABASE_URL! });
    bus = await createKafkaBus({ brokers: process.env.KAFKA_BROKERS!.split(','), clientId: 'guidance-int', contracts: loadContracts() });
    await bus.ensureTopics([{ topic: 'dmarc.config.changes' }]);
    await bus.consume({ groupId: `guidance-int-${run}`, topics: ['dmarc.config.changes'], handler: async (m) => void events.push((m as Delivered<'dmarc.config.changes'>).value) });
    redis = connectRedisCache(process.env.REDIS_URL!);
    await redis.ready();
    cache = new TieredCache({ l2: redis.l2, broadcast: redis.broadcast });
    relay = new ConfigChangeRelay({ db: store, publisher: bus, logger: { warn: () => undefined } });
    const plenty = { starter: 10_000, business: 10_000, enterprise: 10_000 };
    api = await startApi({ db: store, cache, limiter: new LocalRateLimiter(plenty), afterChange: () => relay.kick() });
  }, 120_000);
  afterAll(async () => {
    await api?.app.close();
    await relay?.stop();
    await cache?.close();
    await redis?.close();
    await bus?.close();
    await store?.close();
  });

  const tenant = async (name: string) => {
    const t = await createTenant(store, { name: `${name}-${run}`, tier: 'business' });
    return { id: t.id, key: t.apiKey, keyId: t.apiKeyId };
  };

  // 28 days of the 30-day window (a run crossing midnight UTC keeps them all inside it), and one day outside it.
  const window = lastDays(28);
  const owned: SeededSource = { sourceIp: '192.0.2.10', days: window, messages: 200, dkimAligned: 200, spfAligned: 200 };
  // Exactly the aligned rate: 98 of 100 each day.
  const block: SeededSource = { sourceIp: '2001:db8:1::25', days: window, messages: 100, dkimAligned: Math.round(100 * DEFAULT_THRESHOLDS.alignedRate), spfAligned: 0 };
  // Unapproved, steadily DKIM-aligned and sending a large share: blocks the step, and is proposed.
  const esp: SeededSource = { sourceIp: '198.51.100.77', days: window, messages: 50, dkimAligned: 50, spfAligned: 0, ptr: 'o1.sender.example.net', baseDomain: 'example.net' };
  // A small spoofer (under 1 % of the mail) and a DKIM-aligned sender seen on too few days to propose.
  const spoofer: SeededSource = { sourceIp: '203.0.113.5', days: lastDays(10), messages: 1, dkimAligned: 0, spfAligned: 0 };
  const brief: SeededSource = { sourceIp: '203.0.113.99', days: lastDays(DEFAULT_THRESHOLDS.proposalMinDays - 1), messages: 10, dkimAligned: 10, spfAligned: 10 };
  // Forty days ago, outside the window: had it counted, 192.0.2.10 would fall far below the rate.
  const old: SeededSource = { sourceIp: '192.0.2.10', days: [40], messages: 5000, dkimAligned: 0, spfAligned: 0 };
  const all = [owned, block, esp, spoofer, brief];
  const total = (sources: SeededSource[]) => sources.reduce((sum, s) => sum + s.messages * s.days.length, 0);

  it('judges each step on 30 days of counters with the evidence, proposes the aligned sender, and approving it is a config change', async () => {
    const acme = await tenant('guidance-int');
    const domain = `guidance-${run}.example`;
    expect((await api.call('POST', '/v1/domains', acme.key, { name: domain })).status).toBe(201);
    expect((await api.call('PUT', `/v1/domains/${domain}/policy`, acme.key, { p: 'none' })).status).toBe(200);
    for (const source of ['192.0.2.10', '2001:db8:1::/48']) expect((await api.call('POST', `/v1/domains/${domain}/sources/approved`, acme.key, { source })).status).toBe(201);
    await seedCounters(store, acme.id, domain, Date.now(), [...all, old]);

    const guidance = await api.call('GET', `/v1/domains/${domain}/guidance`, acme.key);
    expect(guidance.status).toBe(200);
    const messages = total(all);
    expect(guidance.body).toMatchObject({
      domain,
      currentPolicy: { p: 'none', pct: 100, origin: 'configured' },
      data: { windowDays: 30, daysWithData: 28, messages, sources: all.length },
      unapproved: { sources: 3, messages: total([esp, spoofer, brief]) },
    });
    const [quarantine, reject] = guidance.body.steps as Array<{ from: string; to: string; verdict: string; reasons: Array<{ code: string; sources?: string[] }> }>;
    expect(quarantine).toMatchObject({ from: 'none', to: 'quarantine', verdict: 'blocked' });
    expect(quarantine.reasons).toEqual([expect.objectContaining({ code: 'UNAPPROVED_HIGH_VOLUME', blocking: true, sources: [esp.sourceIp] })]);
    expect(reject).toMatchObject({ from: 'quarantine', to: 'reject', verdict: 'blocked' });
    expect(reject.reasons.map((r) => r.code)).toEqual(['PREVIOUS_STEP_FIRST', 'UNAPPROVED_HIGH_VOLUME']);
    expect(guidance.body.legitimateSources).toEqual([
      expect.objectContaining({ sourceIp: owned.sourceIp, messages: total([owned]), alignedRate: 1, days: 28, approvedBy: { kind: 'ip', source: '192.0.2.10' } }),
      expect.objectContaining({ sourceIp: block.sourceIp, messages: total([block]), alignedRate: DEFAULT_THRESHOLDS.alignedRate, approvedBy: { kind: 'cidr', source: '2001:db8:1::/48' } }),
    ]);
    expect(guidance.body.unapprovedHighVolume).toEqual([
      expect.objectContaining({ sourceIp: esp.sourceIp, share: total([esp]) / messages, dkimAlignedRate: 1, spfAlignedRate: 0, ptr: esp.ptr, baseDomain: esp.baseDomain, approvedBy: null }),
    ]);

    const proposals = await api.call('GET', `/v1/domains/${domain}/source-proposals`, acme.key);
    expect(proposals.body).toMatchObject({ domain, thresholds: { proposalDkimRate: DEFAULT_THRESHOLDS.proposalDkimRate }, proposals: [{ source: esp.sourceIp, kind: 'ip', messages: total([esp]), days: 28, dkimAlignedRate: 1 }] });
    expect((proposals.body.proposals as unknown[]).length).toBe(1);

    // Approve: 201, the audit row, the event, and the guidance (cached above) and proposals move with it.
    const approved = await api.call('POST', `/v1/domains/${domain}/source-proposals/approve`, acme.key, { source: esp.sourceIp });
    expect(approved).toMatchObject({ status: 201, body: { created: true, approvedSource: { kind: 'ip', source: esp.sourceIp, description: expect.stringContaining('DKIM-aligned on 28 days') }, proposal: { source: esp.sourceIp } } });
    const audit = await store.query<{ actor: string; action: string; entity: string; after: Array<{ source: string }> }>(
      "SELECT actor, action, entity, after FROM audit_log WHERE tenant_id = $1 AND action = 'sources.add' ORDER BY id DESC LIMIT 1",
      [acme.id],
    );
    expect(audit.rows[0]).toMatchObject({ actor: `api-key:${acme.keyId}`, action: 'sources.add', entity: `sources:${domain}` });
    expect(audit.rows[0].after.map((s) => s.source)).toContain(esp.sourceIp);
    const event = await waitFor(
      'the approval on dmarc.config.changes',
      () => events.find((e) => e.tenantId === acme.id && e.kind === 'sources_changed' && (e.after ?? '').includes(esp.sourceIp)),
      60_000,
    );
    expect(event).toMatchObject({ domain, entity: `sources:${domain}`, actor: `api-key:${acme.keyId}` });

    const after = await api.call('GET', `/v1/domains/${domain}/guidance`, acme.key);
    expect((after.body.steps as Array<{ verdict: string }>)[0].verdict).toBe('safe');
    expect((after.body.legitimateSources as Array<{ sourceIp: string }>).map((s) => s.sourceIp)).toContain(esp.sourceIp);
    expect(after.body.unapprovedHighVolume).toEqual([]);
    expect((await api.call('GET', `/v1/domains/${domain}/source-proposals`, acme.key)).body.proposals).toEqual([]);

    // Twice: 200 with the same approval, nothing written.
    const auditRows = async () => Number((await store.query<{ n: string }>('SELECT count(*) AS n FROM audit_log WHERE tenant_id = $1', [acme.id])).rows[0].n);
    const before = await auditRows();
    const again = await api.call('POST', `/v1/domains/${domain}/source-proposals/approve`, acme.key, { source: esp.sourceIp });
    expect(again).toMatchObject({ status: 200, body: { created: false, approvedSource: { id: (approved.body.approvedSource as { id: string }).id }, proposal: null } });
    expect(await auditRows()).toBe(before);
    // Not proposed (too few days): 404, nothing written.
    expect(await api.call('POST', `/v1/domains/${domain}/source-proposals/approve`, acme.key, { source: brief.sourceIp })).toMatchObject({ status: 404, body: { error: 'NOT_FOUND' } });
    expect(await auditRows()).toBe(before);

    // A policy change drops the cached guidance too: at quarantine the first step is in force, the next one safe.
    expect((await api.call('PUT', `/v1/domains/${domain}/policy`, acme.key, { p: 'quarantine' })).status).toBe(200);
    const atQuarantine = await api.call('GET', `/v1/domains/${domain}/guidance`, acme.key);
    expect((atQuarantine.body.steps as Array<{ verdict: string }>).map((s) => s.verdict)).toEqual(['applied', 'safe']);
  });

  it("answers 404 to another tenant's domain on every guidance route, and writes nothing of theirs", async () => {
    const a = await tenant('guidance-int-a');
    const b = await tenant('guidance-int-b');
    const bDomain = `guidance-b-${run}.example`;
    expect((await api.call('POST', '/v1/domains', b.key, { name: bDomain })).status).toBe(201);
    await seedCounters(store, b.id, bDomain, Date.now(), [esp]);
    expect((await api.call('GET', `/v1/domains/${bDomain}/source-proposals`, b.key)).body.proposals).toEqual([expect.objectContaining({ source: esp.sourceIp })]);
    for (const [method, path, body] of [
      ['GET', `/v1/domains/${bDomain}/guidance`, undefined],
      ['GET', `/v1/domains/${bDomain}/source-proposals`, undefined],
      ['POST', `/v1/domains/${bDomain}/source-proposals/approve`, { source: esp.sourceIp }],
      ['GET', `/v1/domains/unregistered-${run}.example/guidance`, undefined],
    ] as const) {
      expect({ path, ...(await api.call(method, path, a.key, body)) }).toMatchObject({ path, status: 404, body: { error: 'NOT_FOUND' } });
    }
    expect((await api.call('GET', `/v1/domains/${bDomain}/sources/approved`, b.key)).body).toEqual({ sources: [] });
    expect((await store.query("SELECT 1 FROM audit_log WHERE tenant_id = ANY($1::uuid[]) AND action = 'sources.add'", [[a.id, b.id]])).rows).toEqual([]);
  });

  it('refuses bad input with 400 naming the field, writes nothing, and keeps serving', async () => {
    const acme = await tenant('guidance-int-bad');
    const domain = `guidance-bad-${run}.example`;
    expect((await api.call('POST', '/v1/domains', acme.key, { name: domain })).status).toBe(201);
    await seedCounters(store, acme.id, domain, Date.now(), [esp]);
    const approve = `/v1/domains/${domain}/source-proposals/approve`;
    for (const [what, method, path, body, field] of [
      ['bad domain in a read', 'GET', `/v1/domains/${encodeURIComponent('a.com:*')}/guidance`, undefined, 'domain'],
      ['bad domain in proposals', 'GET', `/v1/domains/${encodeURIComponent('x}:tenant:2')}/source-proposals`, undefined, 'domain'],
      ['bad domain in an approval', 'POST', `/v1/domains/${encodeURIComponent('tenant:1:compliance')}/source-proposals/approve`, { source: esp.sourceIp }, 'domain'],
      ['source not an IP', 'POST', approve, { source: 'not-an-address' }, 'source'],
      ['source a CIDR block', 'POST', approve, { source: '198.51.100.0/24' }, 'source'],
      ['source a host name', 'POST', approve, { source: 'sender.example.net' }, 'source'],
      ['source with a zone', 'POST', approve, { source: 'fe80::1%eth0' }, 'source'],
      ['source missing', 'POST', approve, {}, 'source'],
      ['source a number', 'POST', approve, { source: 198 }, 'source'],
      ['source too long', 'POST', approve, { source: '1'.repeat(65) }, 'source'],
      ['unknown field', 'POST', approve, { source: esp.sourceIp, approved: true }, 'approved'],
      ['description a list', 'POST', approve, { source: esp.sourceIp, description: ['x'] }, 'description'],
    ] as const) {
      const res = await api.call(method, path, acme.key, body);
      expect({ what, status: res.status, body: res.body }).toMatchObject({ what, status: 400, body: { error: 'VALIDATION_FAILED', field, message: expect.any(String) } });
      expect(JSON.stringify(res.body)).not.toMatch(/\bat .*\.ts:\d+/);
    }
    const malformed = await api.call('POST', approve, acme.key, '{"source": ');
    expect(malformed).toMatchObject({ status: 400, body: { error: 'FST_ERR_CTP_INVALID_JSON_BODY' } });
    expect((await store.query("SELECT 1 FROM audit_log WHERE tenant_id = $1 AND action = 'sources.add'", [acme.id])).rows).toEqual([]);
    // Still serving, and the proposal is still there to approve.
    expect((await api.call('POST', approve, acme.key, { source: esp.sourceIp })).status).toBe(201);
  });
});
