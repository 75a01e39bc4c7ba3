import { fixtureChunks, fixtureChunk, fixtureRawReport, fixtureRecord } from '@dmarc/aggregates';
import { createKafkaBus, type Bus } from '@dmarc/bus';
import { loadContracts, type ReportParsed } from '@dmarc/contracts';
import { PgStore, runMigrations } from '@dmarc/store';
import { spawnService, startDnsTestServer, stopService, waitFor, waitReady, type DnsTestServer, type SpawnedService } from '@dmarc/testing';

// The flow with the DNS service in it: parsing's chunks → dns → dmarc.reports.enriched → aggregation with
// SOURCE_TOPIC=dmarc.reports.enriched → the same exact counts as straight from parsing.
const run = `${Date.now()}-${process.pid}`;
const DOMAIN = `enriched-${Date.now().toString(36)}.example.com`;

describe('parsed → dns → enriched → aggregation (real Kafka, Redis, PostgreSQL; loopback DNS)', () => {
  let server: DnsTestServer;
  let store: PgStore;
  let bus: Bus;
  const services: SpawnedService[] = [];

  beforeAll(async () => {
    server = await startDnsTestServer();
    await runMigrations(process.env.DATABASE_URL!, { info: () => undefined });
    store = new PgStore({ url: process.env.DATABASE_URL! });
    bus = await createKafkaBus({ brokers: process.env.KAFKA_BROKERS!.split(','), clientId: 'dns-enriched-int', contracts: loadContracts() });
    await bus.ensureTopics([{ topic: 'dmarc.reports.parsed' }, { topic: 'dmarc.reports.enriched' }]);
    services.push(
      await spawnService('dns', { DNS_UPSTREAM: server.address, DNS_TIMEOUT_MS: '500', DNS_RETRIES: '0', DNS_WATCH_INTERVAL_SECONDS: '0', CONSUMER_GROUP: `dns-enriched-int-${run}`, CONSUME_FROM_BEGINNING: 'false' }),
      await spawnService('aggregation', { SOURCE_TOPIC: 'dmarc.reports.enriched', CONSUMER_GROUP: `aggregation-enriched-int-${run}`, CONSUME_FROM_BEGINNING: 'false' }),
    );
    await Promise.all(services.map((s) => waitReady(s)));
  });
  afterAll(async () => {
    for (const s of services) expect(await stopService(s)).toBe(0);
    await bus?.close();
    await store?.close();
    await server?.close();
  });

  it('counts an enriched report exactly as a parsed one', async () => {
    const tenantId = (await store.query<{ id: string }>('INSERT INTO tenants (name) VALUES ($1) RETURNING id', [`dns-enriched-int-${run}`])).rows[0].id;
    const publish = (chunks: ReportParsed[]) => bus.publish('dmarc.reports.parsed', chunks.map((value, i) => ({ key: `${value.reportId}:${i}`, tenantId, value })));
    const forDomain = (c: ReportParsed, domain: string): ReportParsed => ({ ...c, metadata: { ...c.metadata, policy: { ...c.metadata.policy, domain } } });

    // Both new groups start at the newest offset once they have their partitions: probe until one chunk
    // has gone all the way through.
    let i = 0;
    await waitFor(
      'a probe chunk through dns and aggregation',
      async () => {
        await publish([forDomain(fixtureChunk(tenantId, `probe-${run}-${++i}`, [fixtureRecord()]), `probe.${DOMAIN}`)]);
        await new Promise((r) => setTimeout(r, 1500));
        const rows = await store.query('SELECT 1 FROM aggregate_reports WHERE tenant_id = $1 AND domain = $2', [tenantId, `probe.${DOMAIN}`]);
        return rows.rowCount > 0 ? true : undefined;
      },
      90_000,
    );

    server.set(`_dmarc.${DOMAIN}`, 'TXT', ['v=DMARC1; p=none'], 300);
    // 192.0.2.0 has a PTR name; 192.0.2.1 none (NXDOMAIN).
    server.set('0.2.0.192.in-addr.arpa', 'PTR', [`mx0.${run}-sender.co.uk.`], 600);
    const reportId = await fixtureRawReport(store, tenantId);
    const records = [1, 2, 3, 4].map((n) =>
      fixtureRecord({
        sourceIp: `192.0.2.${n % 2}`,
        count: n,
        dkimAligned: n !== 4,
        spfAligned: n !== 4,
        disposition: n === 4 ? 'reject' : 'none',
        dkim: [{ domain: DOMAIN, selector: `S${n % 2}`, result: 'pass' }],
      }),
    );
    await publish(fixtureChunks(tenantId, reportId, records, 2).map((c) => forDomain(c, DOMAIN)));

    await waitFor('the report complete', async () => {
      const row = (await store.query<{ complete: boolean }>('SELECT completed_at IS NOT NULL AS complete FROM aggregate_reports WHERE tenant_id = $1 AND report_id = $2', [tenantId, reportId])).rows[0];
      return row?.complete ? true : undefined;
    });
    const counters = await store.query<{ source_ip: string; messages: string; dkim_aligned: string; disposition_reject: string; source_ptr: string | null; source_base_domain: string | null }>(
      'SELECT source_ip, messages, dkim_aligned, disposition_reject, source_ptr, source_base_domain FROM aggregate_counters WHERE tenant_id = $1 AND domain = $2 ORDER BY source_ip',
      [tenantId, DOMAIN],
    );
    // Counted as a parsed report would be, and each source named as the DNS service found it.
    expect(counters.rows.map((r) => [r.source_ip, Number(r.messages), Number(r.dkim_aligned), Number(r.disposition_reject), r.source_ptr, r.source_base_domain])).toEqual([
      ['192.0.2.0', 6, 2, 4, `mx0.${run}-sender.co.uk`, `${run}-sender.co.uk`],
      ['192.0.2.1', 4, 4, 0, null, null],
    ]);
    expect(server.queries(`_dmarc.${DOMAIN}`, 'TXT').total).toBe(1);
    // The DKIM selectors the report showed are recorded for the DNS watch to follow.
    const selectors = await store.query<{ selector: string }>('SELECT selector FROM dkim_selectors WHERE tenant_id = $1 AND domain = $2 ORDER BY selector', [tenantId, DOMAIN]);
    expect(selectors.rows.map((r) => r.selector)).toEqual(['s0', 's1']);

    // Throughput and lag on each service's /metrics, per topic and consumer group.
    const [dns, aggregation] = await Promise.all(services.map(async (s) => (await fetch(`${s.base}/metrics`)).text()));
    const series = (text: string, name: string, labels: Record<string, string>) => {
      const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
      return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
    };
    expect(series(dns, 'dmarc_bus_consumed_messages_total', { topic: 'dmarc.reports.parsed', group: `dns-enriched-int-${run}` })).toBeGreaterThanOrEqual(3);
    expect(series(dns, 'dmarc_bus_published_messages_total', { topic: 'dmarc.reports.enriched' })).toBeGreaterThanOrEqual(3);
    expect(series(aggregation, 'dmarc_bus_consumed_messages_total', { topic: 'dmarc.reports.enriched', group: `aggregation-enriched-int-${run}` })).toBeGreaterThanOrEqual(3);
    expect(aggregation).toMatch(new RegExp(`dmarc_consumer_lag_messages\\{[^}]*group="aggregation-enriched-int-${run}"[^}]*\\} \\d+`));
  });
});
