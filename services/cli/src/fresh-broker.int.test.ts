import { launch, type RunningService, type ServiceModule } from '@dmarc/service-runtime';
import { createPrivateKafka, privateKafkaUnavailable, startDnsTestServer, type DnsTestServer, type PrivateKafka } from '@dmarc/testing';
import { SERVICES } from './service-registry';

// A fresh cluster: every service starting at the same moment creates the topics it needs, several of them the same
// ones. Each must come up (the one that lost the race waits for the other's topics to have leaders), not fail its
// start on "This server does not host this topic-partition" as they did before.
const unavailable = privateKafkaUnavailable();
if (unavailable) console.warn(`fresh-broker.int.test: skipped: ${unavailable}`);
(unavailable ? describe.skip : describe)('services starting together on a fresh broker (a broker of the test own)', () => {
  let kafka: PrivateKafka;
  let dns: DnsTestServer;
  const running: RunningService[] = [];
  beforeAll(async () => {
    kafka = await createPrivateKafka();
    dns = await startDnsTestServer();
  }, 120_000);
  afterAll(async () => {
    await Promise.all(running.map((s) => s.stop()));
    await dns?.close();
    await kafka?.close();
  }, 60_000);

  it('ingestion, parsing, dns, aggregation and the cache-invalidator all start, creating their topics at once', async () => {
    const env = { ...process.env, LOG_LEVEL: 'silent', KAFKA_BROKERS: kafka.brokers, DNS_UPSTREAM: dns.address, DNS_WATCH_INTERVAL_SECONDS: '0' };
    const names = ['ingestion', 'parsing', 'dns', 'aggregation', 'cache-invalidator'];
    const launched = await Promise.all(names.map((name) => launch(SERVICES[name] as ServiceModule, { ...env, ...(name === 'aggregation' ? { SOURCE_TOPIC: 'dmarc.reports.enriched' } : {}) }, { port: 0 })));
    for (const result of launched) {
      if (!result.ok) throw new Error(result.message);
      running.push(result.service);
    }
    const outcomes = await Promise.allSettled(running.map((s) => s.started));
    expect(outcomes.map((o, i) => `${names[i]}: ${o.status === 'fulfilled' ? 'started' : String(o.reason)}`)).toEqual(names.map((n) => `${n}: started`));
  }, 120_000);
});
