import { createKafkaBus, type Bus, type Delivered } from '@dmarc/bus';
import { loadContracts, type ReportEnriched, type ReportParsedInput } from '@dmarc/contracts';
import { sharedKey } from '@dmarc/dns-cache';
import { spawnService, startDnsTestServer, stopService, waitFor, waitReady, type DnsTestServer, type SpawnedService } from '@dmarc/testing';
import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';

// `dmarc serve dns` as ops run it, against real Kafka and Redis, with DNS_UPSTREAM pointing at a loopback
// authoritative server that counts what it is asked. Names are unique per run (the Redis tier outlives
// a run), except _dmarc.example.test, whose shared entry is dropped first.
const run = `r${Date.now().toString(36)}`;
const octet = () => 1 + Math.floor(Math.random() * 250);
const ip = (n: number) => `10.${octet()}.${octet()}.${n}`;

interface Lookup {
  name: string;
  type: string;
  answers: Array<{ strings?: string[] }>;
  ttl: number;
  source: string;
  state: string;
}

function parsedChunk(tenantId: string, domain: string, ips: string[], chunkIndex: number, count: number): ReportParsedInput {
  return {
    reportId: `${run}-report`,
    tenantId,
    chunkIndex,
    last: chunkIndex === count - 1,
    recordCount: chunkIndex === count - 1 ? ips.length * count : null,
    metadata: {
      orgName: 'dns-int',
      email: null,
      version: null,
      generator: null,
      repairs: [],
      externalReportId: `${run}-${domain}`,
      begin: 1_700_000_000_000,
      end: 1_700_086_399_000,
      policy: { domain, p: 'none', sp: null, np: null, pct: null, adkim: null, aspf: null, fo: null, testing: null, discoveryMethod: null },
    },
    records: ips.map((sourceIp) => ({
      sourceIp,
      count: 1,
      disposition: 'none',
      dkimAligned: true,
      spfAligned: false,
      headerFrom: domain,
      envelopeFrom: null,
      envelopeTo: null,
      reasons: [],
      dkim: [],
      spf: [],
    })),
    parsedAt: Date.now(),
  };
}

describe('dns service over real Kafka and Redis, a loopback DNS upstream', () => {
  let server: DnsTestServer;
  let bus: Bus;
  let redis: Redis;
  const contracts = loadContracts();
  const services: SpawnedService[] = [];
  const enriched: Array<Delivered<'dmarc.reports.enriched'>> = [];
  const tenantId = `tenant-${run}`;
  const env = () => ({
    DNS_UPSTREAM: server.address,
    DNS_TIMEOUT_MS: '500',
    DNS_RETRIES: '0',
    DNS_MIN_TTL_SECONDS: '1',
    // The watch of monitored domains has its own test (dns-watch.int.test.ts); a round reads every tenant's domains.
    DNS_WATCH_INTERVAL_SECONDS: '0',
    // A group of its own from the newest offset: the topic holds every other test's chunks.
    CONSUMER_GROUP: `dns-int-${run}`,
    CONSUME_FROM_BEGINNING: 'false',
    BATCH_MAX_MESSAGES: '100',
  });
  const get = async (svc: SpawnedService, path: string) => {
    const res = await fetch(`${svc.base}${path}`);
    return { status: res.status, body: (await res.json()) as Lookup & { error?: string; field?: string } };
  };

  beforeAll(async () => {
    server = await startDnsTestServer();
    redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    bus = await createKafkaBus({ brokers: process.env.KAFKA_BROKERS!.split(','), clientId: 'dns-int', contracts });
    await bus.ensureTopics([{ topic: 'dmarc.reports.parsed' }, { topic: 'dmarc.reports.enriched' }]);
    await bus.consume({
      groupId: `dns-int-reader-${run}`,
      topics: ['dmarc.reports.enriched'],
      fromBeginning: false,
      handler: async (m) => {
        if (m.tenantId === tenantId) enriched.push(m as Delivered<'dmarc.reports.enriched'>);
      },
    });
    services.push(await spawnService('dns', env()));
    await waitReady(services[0]);
    // Both consumer groups start at the newest offset once they have their partitions: send a probe chunk
    // until it comes back enriched, so nothing the tests publish falls before either group's start.
    const probeDomain = `probe.${run}.example.com`;
    await waitFor(
      'the probe chunk enriched',
      async () => {
        if (enriched.some((m) => m.value.metadata.policy.domain === probeDomain)) return true;
        await bus.publish('dmarc.reports.parsed', [{ key: `${run}-probe`, tenantId, value: parsedChunk(tenantId, probeDomain, [], 0, 1) }]);
        await new Promise((r) => setTimeout(r, 1000));
        return undefined;
      },
      90_000,
    );
  });

  afterAll(async () => {
    for (const s of services) expect(await stopService(s)).toBe(0);
    await bus?.close();
    await redis?.quit();
    await server?.close();
  });

  it('enriches a parsed chunk with PTR names, base domains and the DMARC/SPF records, asking each name upstream once', async () => {
    const domain = `d.${run}.example.com`;
    const [a, b, c] = [ip(1), ip(2), ip(3)];
    const reverse = (x: string) => `${x.split('.').reverse().join('.')}.in-addr.arpa`;
    server.set(reverse(a), 'PTR', [`mta1.out.${run}-sender.com.`], 600);
    server.set(reverse(b), 'PTR', [`mail-${run}.google.co.uk.`], 600);
    // c has no PTR: NXDOMAIN.
    server.set(`_dmarc.${domain}`, 'TXT', ['v=DMARC1; p=reject; rua=mailto:agg@example.com'], 300);
    server.set(domain, 'TXT', ['unrelated=1', ['v=spf1 ip4:192.0.2.0/24 ', '-all']], 300);
    server.resetCounters();

    // Two chunks of one report, IPs repeated within and across them; each in a trace of its own, as parsing
    // would have sent them (raw, so the test chooses the trace ids).
    const chunks = [parsedChunk(tenantId, domain, [a, b, a, c], 0, 2), parsedChunk(tenantId, domain, [b, c, a], 1, 2)];
    const traceIds = chunks.map(() => randomBytes(16).toString('hex'));
    await bus.publishRaw(
      'dmarc.reports.parsed',
      chunks.map((value, i) => {
        const encoded = contracts.encode('dmarc.reports.parsed', value);
        const traceparent = `00-${traceIds[i]}-${randomBytes(8).toString('hex')}-01`;
        return { key: `${run}-report:${i}`, value: encoded.value, headers: { ...encoded.headers, 'tenant-id': tenantId, traceparent } };
      }),
    );
    const mine = await waitFor('2 enriched chunks', () => {
      const got = enriched.filter((m) => m.value.metadata.policy.domain === domain);
      return got.length >= 2 ? got.sort((x, y) => x.value.chunkIndex - y.value.chunkIndex) : undefined;
    });

    expect(mine.map((m) => m.key)).toEqual([`${run}-report:0`, `${run}-report:1`]);
    // Each chunk names each of its distinct IPs once, in the order the records first show them.
    const names = {
      [a]: { ip: a, ptr: `mta1.out.${run}-sender.com`, baseDomain: `${run}-sender.com` },
      [b]: { ip: b, ptr: `mail-${run}.google.co.uk`, baseDomain: 'google.co.uk' },
      [c]: { ip: c, ptr: null, baseDomain: null },
    };
    expect(mine.map((m) => m.value.sources)).toEqual([
      [names[a], names[b], names[c]],
      [names[b], names[c], names[a]],
    ]);
    for (const m of mine) {
      const value: ReportEnriched = m.value;
      expect(value.dns.dmarcRecord).toBe('v=DMARC1; p=reject; rua=mailto:agg@example.com');
      expect(value.dns.spfRecord).toBe('v=spf1 ip4:192.0.2.0/24 -all');
      expect(value.dns.resolvedAt).toBeGreaterThan(Date.now() - 120_000);
      // Everything parsing said is still there, unchanged.
      const { sources: _sources, dns: _dns, ...parsed } = value;
      const sent = contracts.encode('dmarc.reports.parsed', chunks[value.chunkIndex]);
      expect(parsed).toEqual(contracts.decode('dmarc.reports.parsed', sent.value, sent.headers).value);
      expect(value.metadata.orgName).toBe('dns-int');
    }
    expect(mine.map((m) => m.value.recordCount)).toEqual(chunks.map((c) => c.recordCount));
    // Each enriched chunk continues the trace of the parsed chunk it came from (a batch publishes for many).
    expect(mine.map((m) => /^00-([0-9a-f]{32})-/.exec(m.headers.traceparent ?? '')?.[1])).toEqual(traceIds);

    for (const x of [a, b, c]) expect(server.queries(reverse(x), 'PTR').total).toBe(1);
    expect(server.queries(`_dmarc.${domain}`, 'TXT').total).toBe(1);
    expect(server.queries(domain, 'TXT').total).toBe(1);
  });

  it('GET /v1/dns/TXT/_dmarc.example.test: from upstream, then from L1 with the TTL counting down; bad input is a 400 and never asked', async () => {
    await redis.del(sharedKey('TXT', '_dmarc.example.test'));
    server.set('_dmarc.example.test', 'TXT', ['v=DMARC1; p=none'], 300);
    server.resetCounters();
    const svc = services[0];

    const first = await get(svc, '/v1/dns/TXT/_dmarc.example.test');
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ name: '_dmarc.example.test', type: 'TXT', source: 'upstream', state: 'fresh' });
    expect(first.body.answers.map((r) => r.strings?.join(''))).toEqual(['v=DMARC1; p=none']);
    expect(first.body.ttl).toBeGreaterThanOrEqual(299);

    await new Promise((r) => setTimeout(r, 2100));
    const second = await get(svc, '/v1/dns/txt/_DMARC.Example.Test.');
    expect(second.body).toMatchObject({ name: '_dmarc.example.test', source: 'l1', state: 'fresh' });
    expect(second.body.ttl).toBeLessThanOrEqual(first.body.ttl - 2);
    expect(second.body.ttl).toBeGreaterThan(290);
    expect(server.queries('_dmarc.example.test', 'TXT').total).toBe(1);

    const badType = await get(svc, '/v1/dns/SPF/example.test');
    expect(badType).toEqual({ status: 400, body: expect.objectContaining({ error: 'DNS_UNSUPPORTED_TYPE', field: 'type' }) });
    for (const bad of ['exa mple.test', 'a..b', `${'a'.repeat(60)}.`.repeat(5) + 'test', `${'x'.repeat(64)}.test`, 'a%2Fb.test']) {
      const res = await get(svc, `/v1/dns/TXT/${encodeURIComponent(bad).replace(/%2E/g, '.')}`);
      expect({ bad, status: res.status, error: res.body.error, field: res.body.field }).toEqual({ bad, status: 400, error: 'DNS_INVALID_NAME', field: 'name' });
    }
    expect(server.log.filter((q) => q.name !== '_dmarc.example.test')).toEqual([]);

    const metrics = await (await fetch(`${svc.base}/metrics`)).text();
    expect(metrics).toMatch(/dns_cache_upstream_queries/);
    expect(metrics).toMatch(/dmarc_enriched_chunks_total [1-9]/);
  });

  it('GET /v1/domains/{domain}/dns-check: the DMARC and SPF records parsed and checked, through the cache', async () => {
    const domain = `check.${run}.example.com`;
    server.set(`_dmarc.${domain}`, 'TXT', ['v=DMARC1; p=quarantine'], 300);
    server.set(domain, 'TXT', ['v=spf1 include:_spf.' + domain + ' -all'], 300);
    server.set(`_spf.${domain}`, 'TXT', ['v=spf1 ip4:192.0.2.1 -all'], 300);
    const res = await get(services[0], `/v1/domains/${domain}/dns-check`);
    expect(res.status).toBe(200);
    const body = res.body as unknown as { domain: string; dmarc: { record?: { p?: string } }; spf: { lookups: number } };
    expect(body.domain).toBe(domain);
    expect(body.dmarc.record).toMatchObject({ p: 'quarantine' });
    expect(body.spf.lookups).toBe(1);
    const again = await get(services[0], `/v1/domains/${domain}/dns-check`);
    expect(again.status).toBe(200);
    expect(server.queries(`_spf.${domain}`, 'TXT').total).toBe(1);
    expect((await get(services[0], '/v1/domains/not..valid/dns-check')).body).toMatchObject({ error: 'DNS_INVALID_NAME', field: 'domain' });
  });

  it('two processes sharing one Redis, asked the same new name at once, send one upstream query between them', async () => {
    services.push(await spawnService('dns', { ...env(), CONSUMER_GROUP: `dns-int-second-${run}` }));
    await waitReady(services[1]);
    const name = `shared.${run}.example.com`;
    server.set(name, 'TXT', ['v=spf1 -all'], 600);
    // Slow enough that both questions are in flight together.
    server.delay(300, name);
    const [x, y] = await Promise.all(services.slice(0, 2).map((s) => get(s, `/v1/dns/TXT/${name}`)));
    expect([x.status, y.status]).toEqual([200, 200]);
    expect([x.body.source, y.body.source].sort()).toEqual(['l2', 'upstream']);
    expect(y.body.answers).toEqual(x.body.answers);
    expect(server.queries(name, 'TXT').total).toBe(1);
  });

  it('with the upstream down, a cached name still answers (stale) and the service keeps serving', async () => {
    const svc = services[0];
    const name = `stale.${run}.example.com`;
    server.set(name, 'TXT', ['v=spf1 a -all'], 1);
    expect((await get(svc, `/v1/dns/TXT/${name}`)).body).toMatchObject({ source: 'upstream', state: 'fresh' });
    server.fail('servfail');
    await new Promise((r) => setTimeout(r, 1500));

    const stale = await get(svc, `/v1/dns/TXT/${name}`);
    expect(stale.status).toBe(200);
    expect(stale.body).toMatchObject({ state: 'stale', ttl: 0 });
    expect(stale.body.answers.map((r) => r.strings?.join(''))).toEqual(['v=spf1 a -all']);
    // After the failed refresh, still the stale answer; and a name never seen is a clean 502.
    await waitFor('the refresh to fail', () => (server.queries(name, 'TXT').total >= 2 ? true : undefined), 10_000);
    expect((await get(svc, `/v1/dns/TXT/${name}`)).body).toMatchObject({ state: 'stale' });
    const unknown = await get(svc, `/v1/dns/TXT/never.${run}.example.com`);
    expect(unknown).toEqual({ status: 502, body: expect.objectContaining({ error: 'DNS_UPSTREAM_FAILED' }) });
    expect((await fetch(`${svc.base}/readyz`)).status).toBe(200);
    server.fail(null);
  });
});
