import { randomUUID } from 'node:crypto';
import { cacheKey, connectRedisCache, TieredCache, type CacheScope, type RedisCacheConnection } from '@dmarc/cache';
import { createKafkaBus, type Bus } from '@dmarc/bus';
import { loadContracts, type ConfigChangeInput } from '@dmarc/contracts';
import { connectRedisTier, DnsCache, forgetAnnouncedKeys, sharedKey } from '@dmarc/dns-cache';
import { DnsClient, upstreamServer } from '@dmarc/dns-wire';
import { spawnService, startDnsTestServer, stopService, waitFor, waitReady, type DnsTestServer, type SpawnedService } from '@dmarc/testing';

// `dmarc serve cache-invalidator` as ops run it, against the real broker and Redis. Two more TieredCaches stand
// for two API processes: what the invalidator drops must leave Redis and both of their L1s, and nothing else
// may. Tenants and domains are random, so others sharing the servers are never touched and never interfere.
const run = `${Date.now()}-${process.pid}`;

describe('dmarc serve cache-invalidator (real Kafka and Redis)', () => {
  let bus: Bus;
  let dnsServer: DnsTestServer;
  let svc: SpawnedService | undefined;
  const conns: RedisCacheConnection[] = [];
  const apis: TieredCache[] = [];
  const T = randomUUID();
  const OTHER = randomUUID();
  const D = `inv-${Date.now().toString(36)}.example.com`;
  const scope: CacheScope = { tenantId: T, tier: 'business' };
  const otherScope: CacheScope = { tenantId: OTHER, tier: 'business' };
  let sequence = 0;

  beforeAll(async () => {
    dnsServer = await startDnsTestServer();
    bus = await createKafkaBus({ brokers: process.env.KAFKA_BROKERS!.split(','), clientId: 'cache-invalidator-int', contracts: loadContracts() });
    await bus.ensureTopics(['dmarc.config.changes', 'dmarc.dns.changes', 'dmarc.aggregates.updated'].map((topic) => ({ topic })));
    for (let i = 0; i < 2; i++) {
      const conn = connectRedisCache(process.env.REDIS_URL!);
      expect(await conn.ready(10_000)).toBe(true);
      conns.push(conn);
      apis.push(new TieredCache({ l2: conn.l2, broadcast: conn.broadcast }));
    }
    svc = await spawnService('cache-invalidator', { CONSUMER_GROUP: `cache-invalidator-int-${run}`, CONSUME_FROM_BEGINNING: 'false', DNS_UPSTREAM: dnsServer.address });
    await waitReady(svc);
    // A new group starts at the newest offset only once it has its partitions, and readiness does not wait for
    // that: announce updates of a probe domain until one is applied (its dashboard entry is marked stale in the
    // API processes' L1 through the broadcast).
    let n = 0;
    await waitFor(
      'the consumer group to be assigned',
      async () => {
        const probe = `probe-${++n}.${D}`;
        await apis[0].set(scope, 'dashboard', [probe, 'summary'], 1);
        await publishUpdated(probe);
        await new Promise((r) => setTimeout(r, 1500));
        return apis[0].l1IsStale(scope, 'dashboard', [probe, 'summary']) ? true : undefined;
      },
      90_000,
    );
  }, 120_000);

  afterAll(async () => {
    if (svc) expect(await stopService(svc)).toBe(0);
    for (const api of apis) await api.close();
    for (const conn of conns) await conn.close();
    await bus?.close();
    await dnsServer?.close();
  });

  const publishUpdated = (domain: string) =>
    bus.publish('dmarc.aggregates.updated', [
      { key: `${T}:${domain}`, tenantId: T, value: { tenantId: T, domain, days: ['2025-03-10'], reportId: `r-${run}`, chunkIndex: 0, reportComplete: true, at: Date.now() } },
    ]);
  const publishConfig = (change: Partial<ConfigChangeInput> & Pick<ConfigChangeInput, 'kind'>) => {
    const value: ConfigChangeInput = {
      eventId: randomUUID(),
      sequence: ++sequence,
      tenantId: T,
      domain: D,
      entity: `domain:${D}`,
      actor: 'cli',
      at: Date.now(),
      ...change,
    };
    return bus.publish('dmarc.config.changes', [{ key: `${value.tenantId}:${value.domain ?? ''}`, tenantId: value.tenantId, value }]);
  };

  type Entry = { scope: CacheScope; type: string; id: string[] };
  const entry = (s: CacheScope, type: string, ...id: string[]): Entry => ({ scope: s, type, id });
  /** Cached by the first API process, read by the second: both L1s hold it, and Redis. */
  const cacheEverywhere = async (entries: Entry[]) => {
    for (const e of entries) await apis[0].set(e.scope, e.type, e.id, { cached: e.id.join('/') });
    // A write tells other processes to drop their copy; one read before that message arrives is dropped by it.
    await waitFor('both L1s to hold every entry', async () => {
      for (const e of entries) expect(await apis[1].get(e.scope, e.type, e.id)).toEqual({ cached: e.id.join('/') });
      return entries.every((e) => apis.every((api) => api.l1Has(e.scope, e.type, e.id))) ? true : undefined;
    });
  };
  const inRedis = async (e: Entry) => (await conns[0].l2.get(cacheKey(e.scope, e.type, e.id))) !== null;
  const gone = async (entries: Entry[]) => {
    for (const e of entries) if (await inRedis(e)) return false;
    return entries.every((e) => apis.every((api) => !api.l1Has(e.scope, e.type, e.id)));
  };
  const allThere = async (entries: Entry[]) => {
    for (const e of entries) {
      expect({ ...e, inRedis: await inRedis(e) }).toMatchObject({ inRedis: true });
      for (const api of apis) expect(api.l1Has(e.scope, e.type, e.id)).toBe(true);
    }
  };

  it('a DMARC policy change drops the policy, the _dmarc record, compliance and dashboard, from Redis and both processes’ L1, and nothing else', async () => {
    const dropped = [entry(scope, 'policy', D), entry(scope, 'compliance', D, 'evaluation'), entry(scope, 'dashboard', D, 'summary', '2025-03'), entry('global', 'dns', `_dmarc.${D}`)];
    const kept = [
      entry(scope, 'trend', D, '30d'),
      entry(scope, 'dashboard', `${D}.evil`, 'summary'),
      entry(otherScope, 'dashboard', D, 'summary', '2025-03'),
      entry(otherScope, 'policy', D),
      entry('global', 'dns', D),
    ];
    await cacheEverywhere([...dropped, ...kept]);
    // The DNS cache library's own key for the record (what the DNS service reads), written as it writes it.
    const dmarcTxt = sharedKey('TXT', `_dmarc.${D}`);
    await conns[0].l2.set(dmarcTxt, '{"answer":"v=DMARC1; p=none"}', 60_000, `${dmarcTxt}:~idx`);

    await publishConfig({ kind: 'policy_changed', entity: `policy:${D}`, after: '{"p":"reject"}' });
    await waitFor('the policy change applied', async () => ((await gone(dropped)) && (await conns[0].l2.get(dmarcTxt)) === null ? true : undefined), 30_000);
    await allThere(kept);
  });

  it('a DMARC policy change also leaves a DNS service’s in-process answer, through the broadcast (forgetAnnouncedKeys)', async () => {
    const domain = `l1-${run}.example.com`;
    dnsServer.set(`_dmarc.${domain}`, 'TXT', ['v=DMARC1; p=none'], 300);
    // Wired as services/dns wires it: its own DNS cache over the shared tier, listening on the invalidation channel.
    const tier = connectRedisTier(process.env.REDIS_URL!);
    const dns = new DnsCache({ upstream: new DnsClient({ servers: [upstreamServer(dnsServer.host, dnsServer.port)] }), l2: tier.l2 });
    const channel = connectRedisCache(process.env.REDIS_URL!);
    expect(await channel.ready(10_000)).toBe(true);
    const stop = forgetAnnouncedKeys(dns, (onKeys) => channel.broadcast.subscribe({ onMessage: (m) => onKeys(m.keys ?? []) }));
    try {
      await dns.resolve(`_dmarc.${domain}`, 'TXT');
      expect(dns.peek(`_dmarc.${domain}`, 'TXT')).toMatchObject({ source: 'l1' });
      expect(dns.peek(`_dmarc.${D}`, 'TXT')).toBeUndefined();
      await publishConfig({ kind: 'policy_changed', domain, entity: `policy:${domain}`, after: '{"p":"reject"}' });
      await waitFor('the DNS service’s copy forgotten', async () => (dns.peek(`_dmarc.${domain}`, 'TXT') === undefined ? true : undefined), 30_000);
      // And the shared copy is gone too: the next read asks the DNS server again.
      await expect(dns.resolve(`_dmarc.${domain}`, 'TXT')).resolves.toMatchObject({ source: 'upstream' });
    } finally {
      stop();
      dns.close();
      await channel.close();
      await tier.close();
    }
  });

  it('aggregates updated marks the domain’s dashboards and trends stale in every process (kept and served while refreshed); an SPF change in DNS drops the SPF record, compliance and dashboard', async () => {
    const board = [entry(scope, 'dashboard', D, 'sources'), entry(scope, 'trend', D, '90d')];
    const compliance = entry(scope, 'compliance', D, 'spf');
    await cacheEverywhere([...board, compliance]);
    await publishUpdated(D);
    const staleEverywhere = () => board.every((e) => apis.every((api) => api.l1IsStale(e.scope, e.type, e.id)));
    await waitFor('the aggregates update applied', async () => (staleEverywhere() ? true : undefined), 30_000);
    await allThere([...board, compliance]);
    expect(apis.some((api) => api.l1IsStale(compliance.scope, compliance.type, compliance.id))).toBe(false);

    const spfTxt = sharedKey('TXT', D);
    await conns[0].l2.set(spfTxt, '{"answer":"v=spf1 -all"}', 60_000, `${spfTxt}:~idx`);
    await cacheEverywhere([entry(scope, 'dashboard', D, 'x')]);
    await bus.publish('dmarc.dns.changes', [
      {
        key: `${T}:${D}`,
        tenantId: T,
        value: { tenantId: T, domain: D, recordType: 'SPF', name: D, selector: null, change: 'changed', previous: 'v=spf1 -all', current: 'v=spf1 ~all', detectedAt: Date.now() },
      },
    ]);
    await waitFor(
      'the DNS change applied',
      async () => ((await gone([compliance, entry(scope, 'dashboard', D, 'x')])) && (await conns[0].l2.get(spfTxt)) === null ? true : undefined),
      30_000,
    );
  });

  it('ignores a change older than one applied for the same domain, in order per domain', async () => {
    const policy = entry(scope, 'policy', D);
    const marker = entry(scope, 'compliance', D, 'after-stale');
    await cacheEverywhere([policy, marker]);
    // Sent out of order on purpose: a stale policy change (sequence already passed), then a newer sources change.
    const stale = sequence - 1;
    await bus.publish('dmarc.config.changes', [
      {
        key: `${T}:${D}`,
        tenantId: T,
        value: { eventId: randomUUID(), sequence: stale, tenantId: T, domain: D, kind: 'policy_changed', entity: `policy:${D}`, actor: 'cli', at: Date.now() },
      },
    ]);
    await publishConfig({ kind: 'sources_changed', entity: `sources:${D}` });
    // Same key, same partition, in order: once the newer one is applied, the stale one was seen before it.
    await waitFor('the newer change applied', async () => ((await gone([marker])) ? true : undefined), 30_000);
    await allThere([policy]);
  });

  it('a new domain is looked up in DNS (discovery), its records landing in the shared DNS tier', async () => {
    const added = `new-${Date.now().toString(36)}.example.com`;
    dnsServer.set(`_dmarc.${added}`, 'TXT', ['v=DMARC1; p=none'], 300);
    dnsServer.set(added, 'TXT', ['v=spf1 -all'], 300);
    await publishConfig({ kind: 'domain_added', domain: added, entity: `domain:${added}` });
    await waitFor(
      'the DMARC and SPF answers in Redis',
      async () => ((await conns[0].l2.get(sharedKey('TXT', `_dmarc.${added}`))) !== null && (await conns[0].l2.get(sharedKey('TXT', added))) !== null ? true : undefined),
      30_000,
    );
    expect(svc!.stderr.filter((l) => l.includes('"level":50'))).toEqual([]);
  });
});
