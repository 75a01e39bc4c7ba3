import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createKafkaBus, type Bus, type Delivered } from '@dmarc/bus';
import { loadContracts } from '@dmarc/contracts';
import { launch, type RunningService, type ServiceModule } from '@dmarc/service-runtime';
import { PgStore, runMigrations } from '@dmarc/store';
import { issueApiKey } from '@dmarc/tenant-auth';
import { startDnsTestServer, waitFor, type DnsTestServer } from '@dmarc/testing';
import { SERVICES } from './service-registry';

// One spoofing report from `POST /v1/reports` through ingestion, parsing, DNS and aggregation to its alert on
// dmarc.alerts, every service a real one on real Kafka and PostgreSQL, all in this process so that one in-memory
// exporter sees every span: the HTTP request's SERVER span and each hop's CONSUMER span (the alert's reader's
// too) share one trace id, and the alert names it.
const run = `${Date.now().toString(36)}-${process.pid}`;
const DOMAIN = `trace-${run}.example.com`;

function aggregateXml(reportId: string, domain: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<feedback>
  <report_metadata><org_name>trace.example</org_name><email>noreply@trace.example</email><report_id>${reportId}</report_id>
    <date_range><begin>1741564800</begin><end>1741651199</end></date_range></report_metadata>
  <policy_published><domain>${domain}</domain><adkim>r</adkim><aspf>r</aspf><p>none</p><sp>none</sp><pct>100</pct></policy_published>
  <record><row><source_ip>198.51.100.7</source_ip><count>500</count>
    <policy_evaluated><disposition>none</disposition><dkim>fail</dkim><spf>fail</spf></policy_evaluated></row>
    <identifiers><header_from>${domain}</header_from></identifiers>
    <auth_results><spf><domain>spoofer.example</domain><result>fail</result></spf></auth_results></record>
</feedback>`;
}

describe('one trace across every hop (real Kafka and PostgreSQL, loopback DNS, in-memory span exporter)', () => {
  const exporter = new InMemorySpanExporter();
  const processor = new SimpleSpanProcessor(exporter);
  const running: RunningService[] = [];
  let dns: DnsTestServer;
  let store: PgStore;
  let auth: string;
  let tenantId: string;
  let ingestion: string;
  let reader: Bus;
  const alerts: Array<Delivered<'dmarc.alerts'>> = [];

  async function start(name: string, env: Record<string, string>): Promise<RunningService> {
    const result = await launch(SERVICES[name] as ServiceModule, { ...process.env, LOG_LEVEL: 'warn', ...env }, { port: 0, spanProcessors: [processor] });
    if (!result.ok) throw new Error(result.message);
    running.push(result.service);
    return result.service;
  }

  beforeAll(async () => {
    await runMigrations(process.env.DATABASE_URL!, { info: () => undefined });
    store = new PgStore({ url: process.env.DATABASE_URL! });
    tenantId = (await store.query<{ id: string }>('INSERT INTO tenants (name) VALUES ($1) RETURNING id', [`trace-${run}`])).rows[0].id;
    auth = `Bearer ${(await issueApiKey(store, tenantId)).key}`;
    dns = await startDnsTestServer();
    dns.set(`_dmarc.${DOMAIN}`, 'TXT', ['v=DMARC1; p=none'], 300);
    const fresh = { CONSUME_FROM_BEGINNING: 'false' };
    const svc = await start('ingestion', {});
    ingestion = `http://127.0.0.1:${svc.port}`;
    await start('parsing', {});
    await start('dns', { ...fresh, DNS_UPSTREAM: dns.address, DNS_TIMEOUT_MS: '500', DNS_RETRIES: '0', DNS_WATCH_INTERVAL_SECONDS: '0', CONSUMER_GROUP: `trace-dns-${run}` });
    await start('aggregation', { ...fresh, SOURCE_TOPIC: 'dmarc.reports.enriched', CONSUMER_GROUP: `trace-aggregation-${run}` });
    await Promise.all(running.map((s) => s.started));
    // A security team's reader of the alert topic, in this process too.
    reader = await createKafkaBus({ brokers: process.env.KAFKA_BROKERS!.split(','), clientId: `trace-reader-${run}`, contracts: loadContracts() });
    await reader.ensureTopics([{ topic: 'dmarc.alerts' }]);
    await reader.consume({
      groupId: `trace-alerts-${run}`,
      topics: ['dmarc.alerts'],
      fromBeginning: false,
      handler: async (m) => {
        if (m.value.tenantId === tenantId) alerts.push(m);
      },
    });
  });
  afterAll(async () => {
    await reader?.close();
    for (const s of running.reverse()) await s.stop();
    await dns?.close();
    await store?.close();
  });

  async function post(xml: string): Promise<string> {
    const res = await fetch(`${ingestion}/v1/reports`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/xml' }, body: xml });
    expect([202]).toContain(res.status);
    return ((await res.json()) as { id: string }).id;
  }

  const statusOf = async (id: string) =>
    ((await (await fetch(`${ingestion}/v1/reports/${id}`, { headers: { authorization: auth } })).json()) as { status: string }).status;

  it('POST /v1/reports → received → parsed → enriched → aggregated → alert: every span in one trace', async () => {
    // New consumer groups start at the newest offset once they hold their partitions: send probes until one
    // has gone all the way, then the report whose trace is followed.
    let probe = 0;
    await waitFor(
      'a probe report aggregated',
      async () => {
        const id = await post(aggregateXml(`probe-${run}-${++probe}`, `probe.${DOMAIN}`));
        await new Promise((r) => setTimeout(r, 1500));
        return (await statusOf(id)) === 'aggregated' ? true : undefined;
      },
      90_000,
    );
    exporter.reset();

    const id = await post(aggregateXml(`traced-${run}`, DOMAIN));
    await waitFor('the report aggregated', async () => ((await statusOf(id)) === 'aggregated' ? true : undefined), 30_000);

    const server = exporter.getFinishedSpans().find((s) => s.kind === SpanKind.SERVER && s.name === 'POST /v1/reports');
    expect(server).toBeDefined();
    const traceId = server!.spanContext().traceId;
    const alert = await waitFor('the spoofing alert on dmarc.alerts', () => alerts.find((a) => a.value.domain === DOMAIN && a.value.rule === 'spoofing'), 30_000);
    expect(alert.value.traceId).toBe(traceId);
    const inTrace = (await waitFor('every hop in the trace', () => {
      const spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
      return spans.some((s) => s.name === 'process dmarc.alerts') ? spans : undefined;
    })) as ReadableSpan[];
    const names = new Set(inTrace.map((s) => `${SpanKind[s.kind]} ${s.name}`));
    for (const hop of [
      'SERVER POST /v1/reports',
      'PRODUCER send dmarc.reports.received',
      'CONSUMER process dmarc.reports.received',
      'CONSUMER process dmarc.reports.parsed',
      'CONSUMER process dmarc.reports.enriched',
      'CONSUMER process dmarc.alerts',
    ]) {
      expect(names).toContain(hop);
    }
    // Parsing and DNS publish for a whole batch in one call, each message carrying its own input's trace: the
    // batch's PRODUCER span links to this trace.
    const linkedSends = new Set(
      exporter
        .getFinishedSpans()
        .filter((s) => s.kind === SpanKind.PRODUCER && s.links.some((l) => l.context.traceId === traceId))
        .map((s) => s.name),
    );
    for (const send of ['send dmarc.reports.parsed', 'send dmarc.reports.enriched', 'send dmarc.alerts']) {
      if (!names.has(`PRODUCER ${send}`)) expect(linkedSends).toContain(send);
    }
    // Each CONSUMER span is a child of a span of this trace (its producer's), never a root.
    for (const s of inTrace.filter((x) => x.kind === SpanKind.CONSUMER)) expect(s.parentSpanContext?.traceId).toBe(traceId);
  });
});
