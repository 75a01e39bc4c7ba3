/**
 * `npm run bench:alerts`: how long a spoofing attempt takes from the report's publish to its alert on
 * dmarc.alerts, through the whole architecture on the real broker and database: `dmarc serve ingestion`,
 * `parsing`, `dns` (a loopback authoritative server in this process as its upstream, bench/dns-fixture.ts) and
 * `aggregation` (reading dmarc.reports.enriched, where the threat rules run), each its own process. Prints one
 * JSON line. Target: p99 under 1 s.
 *
 * - Background: BENCH_BACKGROUND_RATE generated aggregate reports/s (default 200; bench/aggregate-reports.ts,
 *   the pipeline bench's mix) for the whole run, so the alerts travel through a busy pipeline, not an idle one.
 * - Warm-up: BENCH_WARMUP_S seconds (default 10) of background traffic alone before the first spoofing report,
 *   unmeasured: the services start cold (JIT, connection pools, the DNS cache empty: every source IP of the first
 *   seconds is a PTR lookup upstream), which is not the state of a platform in service. 0 measures from cold.
 * - Spoofing: BENCH_SPOOFS reports (default 300) at BENCH_SPOOF_RATE/s (default 20), each for a domain of its
 *   own (the rule deduplicates per domain), from one source failing both DKIM and SPF alignment with
 *   BENCH_SPOOF_MESSAGES messages (default 500, above the default threshold of 100).
 * - Latency per spoofing report: when this process received its alert from dmarc.alerts minus when it
 *   published the report to dmarc.reports.inbound (one clock). Also publish → the alert's detectedAt.
 * - Exact: every spoofing report raised exactly one spoofing alert for its domain (none missing, none twice),
 *   and every alert carries a trace id.
 * The services run in their standard groups (ingestion, parsing) and the DNS benches' own (bench-dns,
 * bench-aggregation-enriched, moved to the end of their topics first); the bench refuses to start while
 * another member is in one of them. Its tenant and rows are removed afterwards; every process it started is
 * stopped, and BENCH_TIMEOUT_S (default 180) aborts the run with an error.
 */
import { randomUUID } from 'node:crypto';
import * as os from 'node:os';
import { createKafkaBus, type Bus, type Delivered } from '@dmarc/bus';
import { loadContracts } from '@dmarc/contracts';
import { PgStore, runMigrations } from '@dmarc/store';
import { waitReady, type SpawnedService } from '@dmarc/testing';
import { generateReports } from './aggregate-reports';
import { removeBenchTenant } from './bench-tenant';
import { checkNoStaleMembers, spawnBenchServices, stopBenchService } from './bench-services';
import { benchDnsRedisUrl, DNS_GROUP, ENRICHED_AGGREGATION_GROUP, ENRICHED_TOPIC, startDnsFlow, type DnsFlow } from './dns-fixture';
import { cpuSeconds } from './process-cpu';
import { benchEndpoints, benchServiceEnv } from './service-env';

const { brokers: BROKERS, databaseUrl: URL } = benchEndpoints();
const BACKGROUND_RATE = Number(process.env.BENCH_BACKGROUND_RATE ?? 200);
const SPOOFS = Number(process.env.BENCH_SPOOFS ?? 300);
const SPOOF_RATE = Number(process.env.BENCH_SPOOF_RATE ?? 20);
const SPOOF_MESSAGES = Number(process.env.BENCH_SPOOF_MESSAGES ?? 500);
const WARMUP_S = Number(process.env.BENCH_WARMUP_S ?? 10);
const TIMEOUT_S = Number(process.env.BENCH_TIMEOUT_S ?? 180);
const SERVICES = ['ingestion', 'parsing', 'dns', 'aggregation'] as const;
const GROUPS = ['ingestion', 'parsing', DNS_GROUP, ENRICHED_AGGREGATION_GROUP];
const INBOUND = 'dmarc.reports.inbound';
const ALERTS = 'dmarc.alerts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const quantile = (sorted: number[], q: number) => (sorted.length ? Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]) : null);

/** An aggregate report of today for `domain`: one source failing both alignments, `messages` messages. */
function spoofingReport(reportId: string, domain: string, index: number): Buffer {
  const day = Math.floor(Date.now() / 86_400_000) * 86_400;
  const ip = `198.51.${100 + Math.floor(index / 250)}.${(index % 250) + 1}`;
  return Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>
<feedback>
  <report_metadata><org_name>bench.example</org_name><email>noreply@bench.example</email><report_id>${reportId}</report_id>
    <date_range><begin>${day}</begin><end>${day + 86_399}</end></date_range></report_metadata>
  <policy_published><domain>${domain}</domain><adkim>r</adkim><aspf>r</aspf><p>none</p><sp>none</sp><pct>100</pct></policy_published>
  <record><row><source_ip>${ip}</source_ip><count>${SPOOF_MESSAGES}</count>
    <policy_evaluated><disposition>none</disposition><dkim>fail</dkim><spf>fail</spf></policy_evaluated></row>
    <identifiers><header_from>${domain}</header_from></identifiers>
    <auth_results><spf><domain>spoofer-${index}.example</domain><result>fail</result></spf></auth_results></record>
</feedback>`);
}

async function main(): Promise<void> {
  const deadline = Date.now() + TIMEOUT_S * 1000;
  const runId = `bench-alerts-${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`;
  const spoofDomains = Array.from({ length: SPOOFS }, (_, i) => `spoof${i}.${runId}.example`);
  const seconds = WARMUP_S + SPOOFS / SPOOF_RATE;
  const background = generateReports(runId, Math.ceil(seconds * BACKGROUND_RATE), (r) => `domain${Math.floor(r() * 200)}.example`);

  await runMigrations(URL, { info: () => undefined });
  await checkNoStaleMembers(BROKERS, GROUPS, 'dmarc-bench-alerts');
  const store = new PgStore({ url: URL, applicationName: 'dmarc-bench-alerts', poolSize: 2 });
  const tenantId = (await store.query<{ id: string }>(`INSERT INTO tenants (name) VALUES ($1) RETURNING id`, [runId])).rows[0].id;
  const services: SpawnedService[] = [];
  let bus: Bus | undefined;
  let flow: DnsFlow | undefined;
  try {
    flow = await startDnsFlow(BROKERS, benchDnsRedisUrl(), (d) => /^domain\d+\.example$/.test(d));
    const extraEnv = flow.env;
    await spawnBenchServices('alerts', SERVICES, (name) => ({ ...extraEnv[name], ...benchServiceEnv('info', name) }), TIMEOUT_S, services);
    await Promise.all(services.map((s) => waitReady(s, 60_000)));
    bus = await createKafkaBus({ brokers: BROKERS, clientId: 'dmarc-bench-alerts', contracts: loadContracts() });
    await bus.ensureTopics([{ topic: INBOUND }, { topic: ENRICHED_TOPIC }, { topic: ALERTS }]);

    // Alerts of this run's tenant, as a security team's consumer reads them (from the start: a new group's
    // first offsets would otherwise race the first alerts).
    const alerts: Array<{ at: number; message: Delivered<'dmarc.alerts'> }> = [];
    await bus.consume({
      groupId: `${runId}-reader`,
      topics: [ALERTS],
      fromBeginning: true,
      maxWaitTimeMs: 10,
      minBytes: 1,
      handler: async (m) => {
        if (m.value.tenantId === tenantId) alerts.push({ at: Date.now(), message: m });
      },
    });

    const publishedAt = new Map<string, number>();
    const cpuBefore = services.map((svc) => cpuSeconds(svc.child.pid));
    const t0 = Date.now();
    let spoofsSent = 0;
    let backgroundSent = 0;
    const inFlight: Promise<void>[] = [];
    while (spoofsSent < SPOOFS) {
      const elapsed = (Date.now() - t0) / 1000;
      const now = Date.now();
      const bgDue = Math.min(background.length, Math.floor(elapsed * BACKGROUND_RATE) + 1);
      if (bgDue > backgroundSent) {
        const batch = background.slice(backgroundSent, bgDue);
        backgroundSent = bgDue;
        inFlight.push(
          bus.publish(
            INBOUND,
            batch.map((g) => ({
              key: g.id,
              tenantId,
              value: { tenantId, payload: g.payload, filename: `${g.id}.xml.gz`, contentType: 'application/gzip', source: 'bench-alerts', submittedAt: now },
            })),
          ),
        );
      }
      const spoofDue = elapsed < WARMUP_S ? 0 : Math.min(SPOOFS, Math.floor((elapsed - WARMUP_S) * SPOOF_RATE) + 1);
      for (; spoofsSent < spoofDue; spoofsSent++) {
        const domain = spoofDomains[spoofsSent];
        publishedAt.set(domain, Date.now());
        inFlight.push(
          bus.publish(INBOUND, [
            {
              key: domain,
              tenantId,
              value: { tenantId, payload: spoofingReport(`${runId}-spoof-${spoofsSent}`, domain, spoofsSent), filename: `${domain}.xml`, contentType: 'application/xml', source: 'bench-alerts', submittedAt: Date.now() },
            },
          ]),
        );
      }
      await sleep(5);
    }
    await Promise.all(inFlight);

    const spoofingFor = () => new Set(alerts.filter((a) => a.message.value.rule === 'spoofing' && publishedAt.has(a.message.value.domain)).map((a) => a.message.value.domain));
    while (spoofingFor().size < SPOOFS && Date.now() < deadline) {
      const dead = services.find((s) => s.child.exitCode !== null || s.child.signalCode !== null);
      if (dead) throw new Error(`a service exited during the run: ${dead.stderr.slice(-5).join(' | ')}`);
      await sleep(100);
    }
    // A moment more for any duplicate to show up.
    await sleep(2000);
    const cpu = Object.fromEntries(
      services.map((svc, i) => {
        const [after, before] = [cpuSeconds(svc.child.pid), cpuBefore[i]];
        return [SERVICES[i], after === undefined || before === undefined ? null : Math.round((after - before) * 100) / 100];
      }),
    );

    const spoofAlerts = alerts.filter((a) => a.message.value.rule === 'spoofing' && publishedAt.has(a.message.value.domain));
    const first = new Map<string, (typeof spoofAlerts)[number]>();
    let duplicates = 0;
    for (const a of spoofAlerts) {
      if (first.has(a.message.value.domain)) duplicates++;
      else first.set(a.message.value.domain, a);
    }
    const latency = [...first].map(([domain, a]) => a.at - publishedAt.get(domain)!).sort((x, y) => x - y);
    const toDetected = [...first].map(([domain, a]) => a.message.value.detectedAt - publishedAt.get(domain)!).sort((x, y) => x - y);
    const withoutTrace = spoofAlerts.filter((a) => !a.message.value.traceId).length;
    const exact = first.size === SPOOFS && duplicates === 0 && withoutTrace === 0;
    const p99 = quantile(latency, 0.99);

    console.log(
      JSON.stringify({
        bench: 'alerts',
        exact,
        spoofingReports: SPOOFS,
        spoofingAlerts: first.size,
        duplicates,
        withoutTraceId: withoutTrace,
        otherAlerts: alerts.length - spoofAlerts.length,
        backgroundReports: backgroundSent,
        backgroundRate: BACKGROUND_RATE,
        spoofRate: SPOOF_RATE,
        warmupSeconds: WARMUP_S,
        publishToAlertP50Ms: quantile(latency, 0.5),
        publishToAlertP99Ms: p99,
        publishToAlertMaxMs: quantile(latency, 1),
        publishToDetectedP50Ms: quantile(toDetected, 0.5),
        publishToDetectedP99Ms: quantile(toDetected, 0.99),
        targetP99Ms: 1000,
        metTarget: p99 !== null && p99 < 1000,
        serviceCpuSeconds: cpu,
        machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, loadavg1: Math.round(os.loadavg()[0] * 100) / 100 },
      }),
    );
    if (!exact) process.exitCode = 1;
  } finally {
    await bus?.close().catch(() => undefined);
    await Promise.all(services.map(stopBenchService));
    await flow?.release();
    await removeBenchTenant(store, tenantId);
    await store.close();
  }
}

main().catch((err: Error) => {
  console.error(`bench alerts: ${err.message}`);
  process.exit(1);
});
