/**
 * `npm run bench:pipeline`: the whole pipeline on the real broker and database, every service its own
 * process (`dmarc serve ingestion|parsing|aggregation`), from a report published to dmarc.reports.inbound
 * until its aggregates are in PostgreSQL. Prints one JSON line. Not a timed test: the figures depend on the
 * machine, so it fails only when the counts are not exact or the run passes its deadline.
 *
 * - BENCH_REPORTS generated aggregate reports (default 10,000: ten seconds at the target rate, so the figures
 *   are the services' steady state, not their first seconds of JIT warm-up as 3,000 mostly were), gzipped as most senders send them: most of
 *   1-10 records (median about 3), a few of hundreds, one in a hundred of thousands (bench/report-sizes.ts);
 *   reporters, domains and source IPs from shared pools, so the same senders show up across reporters.
 * - Published to dmarc.reports.inbound at BENCH_RATE reports/s (default 1000, the target; 0 = all at once),
 *   each report's publish time noted; done when every report's aggregate_reports row has completed_at.
 * - Throughput: reports over the time from the first publish to the last completion (reportsPerSec, never above the
 *   offered rate), and the rate at which reports complete between the 10th and 90th percentile of completion
 *   (sustainedReportsPerSec: the offered rate when the pipeline keeps up, its capacity when it falls behind).
 * - Latency: completed_at (the database clock, same machine) minus publish time, per report; per stage too
 *   (publish → raw_reports.received_at → aggregate_reports.first_seen_at → completed_at) to see which lags.
 * - Exact: every report aggregated, and sum(messages) in aggregate_counters equals the generated counts.
 * Endpoints from KAFKA_BROKERS and DATABASE_URL (default: the local infrastructure's). The services use
 * their standard consumer groups, so it refuses to start while another member is in one of them (stale
 * services would take half the messages). Its tenant and rows are removed afterwards; every process it
 * started is stopped, and BENCH_TIMEOUT_S (default 300) aborts the run with an error.
 *
 * BENCH_DNS=1: the whole architecture, DNS enrichment included. A loopback authoritative DNS server in this
 * process (bench/dns-fixture.ts: a PTR for every reverse name, TTL 3600; DMARC and SPF TXT for the bench's
 * domains) is the DNS service's upstream; `dmarc serve dns` runs too (settings: BENCH_ENV_DNS) with its cache
 * in a Redis database of its own, emptied first (so the run starts with a cold cache: every distinct name is
 * asked upstream once), and aggregation reads dmarc.reports.enriched; both in consumer groups of the bench's
 * own, moved to the end of their topics first. The line adds `dnsEnrichment: true`, `dnsCache: 'cold'`, the
 * DNS service's CPU seconds (serviceCpuSeconds.dns) and peak memory (vmHwmMb, every service's), the upstream
 * queries the server counted (with the distinct names the reports lead to, what a cold cache must ask), the
 * service's cache counters, and `enriched`: after the timed part, every enriched chunk of the run read back
 * from dmarc.reports.enriched (from the offsets noted before publishing) and checked: every chunk's `sources`
 * naming each distinct source IP of its records once (`sourcesWrong` otherwise) with the right `ptr` and
 * `baseDomain` (counted per record), every chunk's DMARC and SPF record as the server gives them, every record of the run
 * there exactly once. `exact` requires it.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import { createKafkaBus, type Bus } from '@dmarc/bus';
import { loadContracts } from '@dmarc/contracts';
import { PgStore, runMigrations } from '@dmarc/store';
import { waitReady, type SpawnedService } from '@dmarc/testing';
import { Kafka, logLevel } from 'kafkajs';
import { generateReports, type GeneratedReport } from './aggregate-reports';
import { removeBenchTenant } from './bench-tenant';
import { checkNoStaleMembers, spawnBenchServices, stopBenchService } from './bench-services';
import {
  benchDnsRedisUrl,
  DNS_GROUP,
  dmarcRecordOf,
  dnsMetrics,
  ENRICHED_AGGREGATION_GROUP,
  ENRICHED_TOPIC,
  expectedPtr,
  SPF_RECORD,
  startDnsFlow,
  upstreamQueries,
  type DnsFlow,
} from './dns-fixture';
import { cpuSeconds, InfraCpu } from './process-cpu';
import { benchEndpoints, benchServiceEnv } from './service-env';
import { metricSum } from './service-metrics';

const { brokers: BROKERS, databaseUrl: URL } = benchEndpoints();
const REPORTS = Number(process.env.BENCH_REPORTS ?? 10_000);
const RATE = Number(process.env.BENCH_RATE ?? 1000);
const TIMEOUT_S = Number(process.env.BENCH_TIMEOUT_S ?? 300);
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL ?? 'info';
const DNS = process.env.BENCH_DNS === '1';
const SERVICES: readonly string[] = DNS ? ['ingestion', 'parsing', 'dns', 'aggregation'] : ['ingestion', 'parsing', 'aggregation'];
const GROUPS = DNS ? ['ingestion', 'parsing', 'aggregation', DNS_GROUP, ENRICHED_AGGREGATION_GROUP] : ['ingestion', 'parsing', 'aggregation'];
const INBOUND = 'dmarc.reports.inbound';

/** This run's reports: domains from a pool of 200, so the DNS fixture and the checks know them. */
function generate(runId: string): GeneratedReport[] {
  return generateReports(runId, REPORTS, (r) => `domain${Math.floor(r() * 200)}.example`);
}

const quantile = (sorted: number[], q: number) => (sorted.length ? Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]) : null);
const sortNum = (xs: number[]) => xs.sort((a, b) => a - b);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));



async function publishAll(bus: Bus, tenantId: string, reports: GeneratedReport[], publishedAt: Map<string, number>): Promise<void> {
  const started = Date.now();
  let sent = 0;
  const inFlight: Promise<void>[] = [];
  while (sent < reports.length) {
    const due = RATE > 0 ? Math.min(reports.length, Math.floor(((Date.now() - started) / 1000) * RATE) + 1) : reports.length;
    if (due > sent) {
      const batch = reports.slice(sent, due);
      sent = due;
      const now = Date.now();
      for (const g of batch) publishedAt.set(g.id, now);
      // Calls of a few reports, as upstream pipelines make them; the bus gathers them into requests.
      for (let k = 0; k < batch.length; k += 20) {
        inFlight.push(
          bus.publish(
            INBOUND,
            batch.slice(k, k + 20).map((g) => ({
              key: g.id,
              tenantId,
              value: { tenantId, payload: g.payload, filename: `${g.id}.xml.gz`, contentType: 'application/gzip', source: 'bench-pipeline', submittedAt: now },
            })),
          ),
        );
      }
    }
    await sleep(5);
  }
  await Promise.all(inFlight);
}

interface Row {
  external_report_id: string;
  received: string;
  first_seen: string;
  completed: string;
}

async function main(): Promise<void> {
  const deadline = Date.now() + TIMEOUT_S * 1000;
  const timeLeft = () => {
    if (Date.now() > deadline) throw new Error(`deadline: not done within BENCH_TIMEOUT_S=${TIMEOUT_S} s`);
  };
  const runId = `bench-${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`;
  const reports = generate(runId);
  const records = reports.reduce((s, g) => s + g.records, 0);
  const messages = reports.reduce((s, g) => s + g.messages, 0);
  const bytes = reports.reduce((s, g) => s + g.payload.length, 0);
  const sizes = sortNum(reports.map((g) => g.records));

  await runMigrations(URL, { info: () => undefined });
  await checkNoStaleMembers(BROKERS, GROUPS, 'dmarc-bench-pipeline');
  const store = new PgStore({ url: URL, applicationName: 'dmarc-bench-pipeline', poolSize: 2 });
  const tenantId = (await store.query<{ id: string }>(`INSERT INTO tenants (name) VALUES ($1) RETURNING id`, [runId])).rows[0].id;
  const services: SpawnedService[] = [];
  let bus: Bus | undefined;
  let flow: DnsFlow | undefined;
  try {
    if (DNS) flow = await startDnsFlow(BROKERS, benchDnsRedisUrl(), (d) => /^domain\d+\.example$/.test(d));
    const extraEnv = flow?.env ?? {};
    const dnsServer = flow?.server;
    await spawnBenchServices('pipeline', SERVICES, (name) => ({ ...extraEnv[name], ...benchServiceEnv('info', name) }), TIMEOUT_S, services);
    await Promise.all(services.map((s) => waitReady(s, 60_000)));
    for (const s of services) s.child.once('exit', (code, signal) => s.stderr.push(`exited early: ${code ?? signal}`));
    bus = await createKafkaBus({ brokers: BROKERS, clientId: 'dmarc-bench-pipeline', contracts: loadContracts() });
    await bus.ensureTopics(DNS ? [{ topic: INBOUND }, { topic: ENRICHED_TOPIC }] : [{ topic: INBOUND }]);
    // Where this run's enriched chunks start, to read them back once it is done.
    const enrichedFrom = DNS ? await topicEnds(ENRICHED_TOPIC) : undefined;
    dnsServer?.resetCounters();

    const publishedAt = new Map<string, number>();
    const cpuBefore = services.map((svc) => cpuSeconds(svc.child.pid));
    const statements = () => Promise.all(services.map((svc) => metricSum(svc.base, 'dmarc_db_statements_total').catch(() => NaN)));
    const statementsBefore = await statements();
    const infraCpu = await InfraCpu.begin((sql) => store.query(sql));
    const t0 = Date.now();
    await publishAll(bus, tenantId, reports, publishedAt);
    const publishSeconds = (Date.now() - t0) / 1000;

    let done = 0;
    while (done < REPORTS) {
      timeLeft();
      const dead = services.find((s) => s.child.exitCode !== null || s.child.signalCode !== null);
      if (dead) throw new Error(`a service exited during the run: ${dead.stderr.slice(-5).join(' | ')}`);
      await sleep(100);
      done = Number((await store.query<{ n: string }>('SELECT count(*) AS n FROM aggregate_reports WHERE tenant_id = $1 AND completed_at IS NOT NULL', [tenantId])).rows[0].n);
    }

    const infra = await infraCpu.end((sql) => store.query(sql));
    const statementsAfter = await statements();
    const cpu = Object.fromEntries(
      services.map((svc, i) => {
        const [now, before] = [cpuSeconds(svc.child.pid), cpuBefore[i]];
        return [SERVICES[i], now === undefined || before === undefined ? null : Math.round((now - before) * 100) / 100];
      }),
    );
    // The kernel's peak RSS of each service (its whole life: start-up included), read while they still run.
    const vmHwmMb = Object.fromEntries(services.map((svc, i) => [SERVICES[i], vmHwmMbOf(svc.child.pid)]));
    const dns = DNS
      ? { upstream: upstreamQueries(dnsServer!), metrics: await dnsMetrics(services[SERVICES.indexOf('dns')].base).catch((err: Error) => ({ error: err.message })) }
      : undefined;
    const rows = (
      await store.query<Row>(
        `SELECT a.external_report_id,
                (extract(epoch FROM r.received_at) * 1000)::text AS received,
                (extract(epoch FROM a.first_seen_at) * 1000)::text AS first_seen,
                (extract(epoch FROM a.completed_at) * 1000)::text AS completed
           FROM aggregate_reports a JOIN raw_reports r ON r.id::text = a.report_id
          WHERE a.tenant_id = $1 AND a.completed_at IS NOT NULL`,
        [tenantId],
      )
    ).rows;
    const latency: number[] = [];
    const byPublish: Array<[number, number]> = [];
    const ingest: number[] = [];
    const toAggregation: number[] = [];
    const aggregating: number[] = [];
    let last = 0;
    for (const row of rows) {
      const published = publishedAt.get(row.external_report_id);
      if (published === undefined) throw new Error(`aggregated report ${row.external_report_id} was never published by this run`);
      const [received, firstSeen, completed] = [Number(row.received), Number(row.first_seen), Number(row.completed)];
      latency.push(completed - published);
      byPublish.push([published, completed - published]);
      ingest.push(received - published);
      toAggregation.push(firstSeen - received);
      aggregating.push(completed - firstSeen);
      last = Math.max(last, completed);
    }
    const counted = await store.query<{ messages: string | null }>('SELECT sum(messages) AS messages FROM aggregate_counters WHERE tenant_id = $1', [tenantId]);
    const statuses = await store.query<{ n: string }>(`SELECT count(*) AS n FROM raw_reports WHERE tenant_id = $1 AND status = 'aggregated'`, [tenantId]);
    const countedMessages = Number(counted.rows[0].messages ?? 0);
    const enriched = enrichedFrom ? await checkEnriched(enrichedFrom, tenantId, records) : undefined;
    const exact = rows.length === REPORTS && Number(statuses.rows[0].n) === REPORTS && countedMessages === messages && (enriched?.exact ?? true);
    const seconds = (last - t0) / 1000;
    // The rate reports complete at between the 10th and the 90th percentile of completion: the offered rate when the
    // pipeline keeps up, its capacity when it does not. The end-to-end rate (reportsPerSec) cannot read above the
    // offered rate, since the last report's latency is in its denominator.
    const completedAt = sortNum(rows.map((row) => Number(row.completed)));
    const [c10, c90] = [completedAt[Math.floor(completedAt.length * 0.1)], completedAt[Math.floor(completedAt.length * 0.9)]];
    const sustained = c90 > c10 ? Math.round((Math.floor(completedAt.length * 0.9) - Math.floor(completedAt.length * 0.1)) / ((c90 - c10) / 1000)) : null;
    const stage = (xs: number[]) => ({ p50: quantile(sortNum(xs), 0.5), p99: quantile(xs, 0.99) });

    console.log(
      JSON.stringify({
        bench: 'pipeline',
        exact,
        reports: REPORTS,
        records,
        messages,
        countedMessages,
        payloadMB: Math.round(bytes / 1e4) / 100,
        medianRecordsPerReport: sizes[Math.floor(sizes.length / 2)],
        maxRecordsPerReport: sizes[sizes.length - 1],
        offeredRate: RATE > 0 ? RATE : 'burst',
        publishSeconds: Math.round(publishSeconds * 100) / 100,
        seconds: Math.round(seconds * 100) / 100,
        reportsPerSec: Math.round(REPORTS / seconds),
        sustainedReportsPerSec: sustained,
        recordsPerSec: Math.round(records / seconds),
        latencyP50Ms: quantile(sortNum(latency), 0.5),
        latencyP99Ms: quantile(latency, 0.99),
        latencyMaxMs: quantile(latency, 1),
        // Median latency of each tenth of the reports, in publish order: flat when the pipeline keeps up with
        // the offered rate, rising when a queue builds.
        latencyP50ByTenthMs: tenths(byPublish),
        stagesMs: { publishToReceived: stage(ingest), receivedToFirstChunk: stage(toAggregation), firstChunkToComplete: stage(aggregating) },
        serviceCpuSeconds: cpu,
        infraCpuSeconds: infra,
        // Statements each service sent to PostgreSQL during the run (BEGIN and COMMIT included), per 1,000 reports.
        dbStatementsPer1000Reports: Object.fromEntries(SERVICES.map((name, i) => [name, Math.round(((statementsAfter[i] - statementsBefore[i]) * 1000) / REPORTS)])),
        vmHwmMb,
        dnsEnrichment: DNS,
        ...(dns
          ? {
              dnsCache: 'cold',
              dnsUpstreamQueries: {
                ...dns.upstream,
                // What a cold cache must ask: each distinct name once (its TTL outlasts the run).
                distinctNamesNeeded: { PTR: new Set(reports.flatMap((g) => [...g.ips])).size, TXT: 2 * new Set(reports.map((g) => g.domain)).size },
              },
              dnsCacheCounters: dns.metrics,
              enriched,
            }
          : {}),
        logLevel: LOG_LEVEL,
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

function vmHwmMbOf(pid: number | undefined): number | null {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 102.4) / 10 : null;
  } catch {
    return null;
  }
}

/** The end offset of every partition of a topic. */
async function topicEnds(topic: string): Promise<Map<number, string>> {
  const admin = new Kafka({ brokers: BROKERS, clientId: 'dmarc-bench-pipeline', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    return new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, p.high]));
  } finally {
    await admin.disconnect();
  }
}

interface EnrichedCheck {
  exact: boolean;
  chunks: number;
  records: number;
  duplicates: number;
  sourcesWrong: number;
  ptrWrong: number;
  baseDomainWrong: number;
  dmarcWrong: number;
  spfWrong: number;
  readSeconds: number;
}

/**
 * Reads dmarc.reports.enriched from `from` (the ends before publishing) to its ends now, in a consumer of its
 * own that commits nothing, and checks this tenant's chunks: each once, every record's PTR name and base domain,
 * every chunk's DMARC and SPF record as the loopback server gives them, `records` records in all.
 */
async function checkEnriched(from: Map<number, string>, tenantId: string, records: number): Promise<EnrichedCheck> {
  const started = Date.now();
  const to = await topicEnds(ENRICHED_TOPIC);
  const left = new Set([...to].filter(([p, end]) => BigInt(end) > BigInt(from.get(p) ?? '0')).map(([p]) => p));
  const codec = loadContracts();
  const seen = new Set<string>();
  const check: EnrichedCheck = { exact: false, chunks: 0, records: 0, duplicates: 0, sourcesWrong: 0, ptrWrong: 0, baseDomainWrong: 0, dmarcWrong: 0, spfWrong: 0, readSeconds: 0 };
  if (left.size > 0) {
    const consumer = new Kafka({ brokers: BROKERS, clientId: 'dmarc-bench-pipeline-check', logLevel: logLevel.NOTHING }).consumer({
      groupId: `bench-pipeline-check-${randomUUID()}`,
    });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [ENRICHED_TOPIC], fromBeginning: false });
      let finish!: () => void;
      const finished = new Promise<void>((resolve) => (finish = resolve));
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          if (!left.has(batch.partition)) return;
          const end = BigInt(to.get(batch.partition) ?? '0');
          for (const message of batch.messages) {
            if (BigInt(message.offset) >= end) break;
            const chunk = codec.decode(ENRICHED_TOPIC, message.value, message.headers).value;
            if (chunk.tenantId !== tenantId) continue;
            const key = `${chunk.reportId}:${chunk.chunkIndex}`;
            if (seen.has(key)) {
              check.duplicates++;
              continue;
            }
            seen.add(key);
            check.chunks++;
            check.records += chunk.records.length;
            const names = new Map(chunk.sources.map((s) => [s.ip, s]));
            if (names.size !== chunk.sources.length || names.size !== new Set(chunk.records.map((r) => r.sourceIp)).size) check.sourcesWrong++;
            for (const record of chunk.records) {
              const name = names.get(record.sourceIp);
              if (name?.ptr !== expectedPtr(record.sourceIp)) check.ptrWrong++;
              if (name?.baseDomain !== 'senders.example') check.baseDomainWrong++;
            }
            if (chunk.dns.dmarcRecord !== dmarcRecordOf(chunk.metadata.policy.domain)) check.dmarcWrong++;
            if (chunk.dns.spfRecord !== SPF_RECORD) check.spfWrong++;
          }
          const last = batch.messages[batch.messages.length - 1];
          if (last && BigInt(last.offset) + 1n >= end) left.delete(batch.partition);
          if (left.size === 0) finish();
        },
      });
      for (const [partition, offset] of from) if (left.has(partition)) consumer.seek({ topic: ENRICHED_TOPIC, partition, offset });
      await Promise.race([finished, sleep(120_000).then(() => Promise.reject(new Error('reading dmarc.reports.enriched back: not done within 120 s')))]);
    } finally {
      await consumer.disconnect();
    }
  }
  check.readSeconds = Math.round((Date.now() - started) / 100) / 10;
  check.exact = check.records === records && check.sourcesWrong + check.ptrWrong + check.baseDomainWrong + check.dmarcWrong + check.spfWrong === 0;
  return check;
}

function tenths(pairs: Array<[number, number]>): number[] {
  const sorted = [...pairs].sort((a, b) => a[0] - b[0]);
  return Array.from({ length: 10 }, (_, i) => {
    const part = sorted.slice(Math.floor((i * sorted.length) / 10), Math.floor(((i + 1) * sorted.length) / 10)).map((p) => p[1]);
    return part.length === 0 ? 0 : (quantile(sortNum(part), 0.5) ?? 0);
  });
}

main().catch((err) => {
  console.error(`bench pipeline: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
