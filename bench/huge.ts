/**
 * `npm run bench:huge`: one huge aggregate report through the real pipeline, and the peak memory of every
 * process. Prints one JSON line. Not a timed test: the figures depend on the machine; it checks only that the
 * counts are exact.
 *
 * - Migrates DATABASE_URL, creates a tenant and an API key, spawns ingestion, parsing and aggregation as
 *   separate processes (`dmarc serve NAME`, as ops run them) against KAFKA_BROKERS and DATABASE_URL
 *   (defaults: the local infrastructure's standard ports).
 * - Generates ONE aggregate report of BENCH_RECORDS records (default 1,000,000, about 500 MB of XML) as a
 *   stream, gzip-compressed as a stream into a temp file: never whole in memory here either.
 * - POSTs the file (streamed body) to ingestion's /v1/reports and measures from the POST until the report's
 *   aggregates are complete (aggregate_reports.completed_at set and raw_reports.status = 'aggregated').
 * - exact: the messages in aggregate_counters (and aggregate_reports.messages) equal those generated.
 * - Memory: VmRSS of every service sampled every 100 ms, and VmHWM (the kernel's peak) read from
 *   /proc/<pid>/status at the end, before the services stop.
 * - cpuSeconds: user + system CPU each service used from the POST to the end (/proc/<pid>/stat).
 * - BENCH_DEADLINE_S (default 300, 900 with BENCH_DNS=1): past it the run aborts with a clear error, every
 *   process stopped.
 * Target (issue 4, point 8): under 20 s without DNS enrichment, every process under 300 MB.
 *
 * BENCH_DNS=1: with DNS enrichment (target: under 60 s from a warm cache). `dmarc serve dns` runs between
 * parsing and aggregation (its settings: BENCH_ENV_DNS), aggregation reads dmarc.reports.enriched, and the DNS
 * service's upstream is a loopback authoritative DNS server in this process (bench/dns-fixture.ts: a PTR for
 * every reverse name, TTL 3600, and example.com's DMARC and SPF records), its cache in a Redis database of its
 * own, emptied before and after the run. The report's ~1,000,000 source IPs are nearly all distinct: one PTR
 * name per record.
 * - BENCH_DNS_CACHE=warm (default): the cache is warmed by publishing the same report once, unmeasured, for a
 *   throwaway tenant (same path, so exactly the names the measured run needs, each asked upstream once: what a
 *   million HTTP lookups would do, slower); then the measured POST for the bench's tenant. A million names do
 *   not fit the service's in-process L1 (DNS_L1_MAX_ENTRIES, default 50,000: the 300 MB target), so "warm"
 *   means answered from Redis (L2): `dnsCacheCounters` (the service's counters over the measured part) show
 *   where the answers came from, `dnsUpstreamQueries` what still went upstream. `warmup` gives the warm-up
 *   pass's own figures: it is the same report through a cold cache (and services not yet warmed up).
 * - BENCH_DNS_CACHE=cold: no warm-up; the measured run asks every name upstream (a fast loopback authoritative
 *   server: an optimistic cold cache).
 * peakRssMb is sampled over the measured part only; vmHwmMb (the kernel's peak) covers each process's life,
 * the warm-up included. The bench process's figure includes the DNS server and its per-name query counters.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import * as os from 'node:os';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { PgStore, runMigrations } from '@dmarc/store';
import { issueApiKey } from '@dmarc/tenant-auth';
import { spawnService, stopService, waitReady, type DnsTestServer, type SpawnedService } from '@dmarc/testing';
import { removeBenchTenant } from './bench-tenant';
import {
  benchDnsRedisUrl,
  clearBenchDnsCache,
  dnsMetrics,
  dnsServiceEnv,
  enrichedAggregationEnv,
  metricsDelta,
  moveBenchGroupsToEnd,
  parsedEnds,
  releaseStandardAggregation,
  startBenchDns,
  upstreamQueries,
} from './dns-fixture';
import { cpuSeconds } from './process-cpu';
import { benchServiceEnv } from './service-env';
import { hugeSource } from './synthetic-report';

process.env.KAFKA_BROKERS ??= '127.0.0.1:9092';
const DATABASE_URL = (process.env.DATABASE_URL ??= 'postgres://dmarc:dmarc@127.0.0.1:5432/dmarc');
const RECORDS = Number(process.env.BENCH_RECORDS ?? 1_000_000);
const DNS = process.env.BENCH_DNS === '1';
const DNS_CACHE = process.env.BENCH_DNS_CACHE === 'cold' ? 'cold' : 'warm';
const DEADLINE_MS = Number(process.env.BENCH_DEADLINE_S ?? (DNS ? 900 : 300)) * 1000;
const SERVICES: readonly string[] = DNS ? ['ingestion', 'parsing', 'dns', 'aggregation'] : ['ingestion', 'parsing', 'aggregation'];
const TARGET = { seconds: DNS ? 60 : 20, rssMb: 300 };
const MB = 1e6;
const round = (value: number, digits = 1): number => Number(value.toFixed(digits));

class DeadlineError extends Error {}
const started = Date.now();
function checkDeadline(what: string): void {
  if (Date.now() - started > DEADLINE_MS) {
    throw new DeadlineError(`deadline of ${DEADLINE_MS / 1000} s passed while ${what} (BENCH_DEADLINE_S to change it)`);
  }
}

/** kB figures from /proc/<pid>/status (VmRSS, VmHWM), or undefined once the process is gone. */
function procStatus(pid: number | undefined, field: 'VmRSS' | 'VmHWM'): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Generates the report into a gzip file, counting the XML bytes and the messages (the sum of <count>) on the
 * way. hugeSource yields whole records per chunk, so each chunk is scanned on its own.
 */
async function generate(file: string, id: number): Promise<{ xmlBytes: number; messages: number; sha256: string }> {
  let xmlBytes = 0;
  let messages = 0;
  const count = new Transform({
    transform(chunk: Buffer, _enc, done) {
      xmlBytes += chunk.length;
      const text = chunk.toString('latin1');
      for (const m of text.matchAll(/<count>(\d+)<\/count>/g)) messages += Number(m[1]);
      done(null, chunk);
    },
  });
  const hash = createHash('sha256');
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  await pipeline(hugeSource(RECORDS, 1, id), count, createGzip({ level: 6 }), tap, createWriteStream(file));
  return { xmlBytes, messages, sha256: hash.digest('hex') };
}

interface Sampler {
  stop(): void;
  peakRss: Map<string, number>;
}

function sampleRss(procs: Map<string, number | undefined>): Sampler {
  const peakRss = new Map<string, number>();
  const tick = () => {
    for (const [name, pid] of procs) {
      const rss = name === 'bench' ? process.memoryUsage().rss : procStatus(pid, 'VmRSS');
      if (rss !== undefined) peakRss.set(name, Math.max(peakRss.get(name) ?? 0, rss));
    }
  };
  tick();
  const timer = setInterval(tick, 100);
  return { stop: () => (clearInterval(timer), tick()), peakRss };
}

async function stopWithin(svc: SpawnedService, ms: number): Promise<void> {
  const killer = setTimeout(() => svc.child.kill('SIGKILL'), ms);
  try {
    await stopService(svc);
  } finally {
    clearTimeout(killer);
  }
}

interface Run {
  reportId: string;
  postSeconds: number;
  parsedSeconds: number | undefined;
  seconds: number;
}

/** POSTs the report for a tenant and waits until its aggregates are complete. */
async function postAndWait(store: PgStore, ingestion: SpawnedService, key: string, file: string, gzBytes: number): Promise<Run> {
  const t0 = process.hrtime.bigint();
  const since = (): number => Number(process.hrtime.bigint() - t0) / 1e9;
  const response = await fetch(`${ingestion.base}/v1/reports?filename=huge.xml.gz`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/gzip', 'content-length': String(gzBytes) },
    body: Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>,
    duplex: 'half',
    signal: AbortSignal.timeout(Math.max(1000, DEADLINE_MS - (Date.now() - started))),
  } as RequestInit & { duplex: 'half' });
  const answer = (await response.json()) as { id?: string; duplicate?: boolean; error?: string; message?: string };
  const postSeconds = since();
  if (response.status !== 202 || !answer.id) throw new Error(`POST /v1/reports answered ${response.status}: ${JSON.stringify(answer)}`);
  const reportId = answer.id;

  let parsedSeconds: number | undefined;
  for (;;) {
    const { rows } = await store.query<{ status: string; completed: boolean | null }>(
      `SELECT r.status, (SELECT a.completed_at IS NOT NULL FROM aggregate_reports a WHERE a.tenant_id = r.tenant_id AND a.report_id = r.id::text) AS completed
         FROM raw_reports r WHERE r.id = $1`,
      [reportId],
    );
    const row = rows[0];
    if (row && parsedSeconds === undefined && (row.status === 'parsed' || row.status === 'aggregated')) parsedSeconds = since();
    if (row?.status === 'failed') throw new Error(`report ${reportId} failed to parse: see raw_reports.reason`);
    if (row && row.status === 'aggregated' && row.completed) return { reportId, postSeconds, parsedSeconds, seconds: since() };
    const gone = Object.entries(exited);
    if (gone.length > 0) throw new Error(`service(s) exited during the run: ${gone.map(([n, c]) => `${n} (${c})`).join(', ')}`);
    checkDeadline(`waiting for report ${reportId} to be aggregated (status ${row?.status ?? 'unknown'})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function main(): Promise<void> {
  await runMigrations(DATABASE_URL, { info: () => undefined });
  const store = new PgStore({ url: DATABASE_URL, applicationName: 'dmarc-bench-huge', poolSize: 2 });
  const tenantId = (await store.query<{ id: string }>(`INSERT INTO tenants (name) VALUES ('bench-huge') RETURNING id`)).rows[0].id;
  const { key } = await issueApiKey(store, tenantId);
  const tenants = [tenantId];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dmarc-bench-huge-'));
  const file = path.join(dir, 'huge.xml.gz');
  const services: SpawnedService[] = [];
  let sampler: Sampler | undefined;
  let dnsServer: DnsTestServer | undefined;
  const redisUrl = benchDnsRedisUrl();
  let parsedAtStart: Map<number, string> | undefined;
  try {
    const generatedAt = Date.now();
    const { xmlBytes, messages, sha256 } = await generate(file, generatedAt);
    const generateSeconds = (Date.now() - generatedAt) / 1000;
    const gzBytes = statSync(file).size;
    checkDeadline('generating the report');

    const extraEnv: Record<string, Record<string, string>> = {};
    if (DNS) {
      dnsServer = await startBenchDns((d) => d === 'example.com');
      await clearBenchDnsCache(redisUrl);
      parsedAtStart = await parsedEnds(process.env.KAFKA_BROKERS!.split(','));
      await moveBenchGroupsToEnd(process.env.KAFKA_BROKERS!.split(','));
      extraEnv.dns = dnsServiceEnv(dnsServer, redisUrl);
      extraEnv.aggregation = enrichedAggregationEnv;
    }
    for (const name of SERVICES) services.push(await spawnService(name, { ...extraEnv[name], ...benchServiceEnv('warn', name) }));
    const procs = new Map<string, number | undefined>(services.map((s, i) => [SERVICES[i], s.child.pid]));
    procs.set('bench', process.pid);
    await Promise.all(services.map((s) => waitReady(s, Math.max(1000, DEADLINE_MS - (Date.now() - started)))));
    for (const [i, s] of services.entries()) s.child.once('exit', (code, signal) => (exited[SERVICES[i]] = `${code ?? signal}`));
    const ingestion = services[0];
    const dnsService = DNS ? services[SERVICES.indexOf('dns')] : undefined;

    // The warm-up: the same report once for a throwaway tenant, through the same path, unmeasured.
    let warmup: object | undefined;
    if (DNS && DNS_CACHE === 'warm') {
      const warmTenant = (await store.query<{ id: string }>(`INSERT INTO tenants (name) VALUES ('bench-huge-warmup') RETURNING id`)).rows[0].id;
      tenants.push(warmTenant);
      const cpuWarm = services.map((s) => cpuSeconds(s.child.pid) ?? 0);
      const run = await postAndWait(store, ingestion, (await issueApiKey(store, warmTenant)).key, file, gzBytes);
      warmup = {
        seconds: round(run.seconds, 2),
        parsedSeconds: run.parsedSeconds === undefined ? null : round(run.parsedSeconds, 2),
        upstreamQueries: upstreamQueries(dnsServer!),
        cpuSeconds: Object.fromEntries(SERVICES.map((name, i) => [name, round((cpuSeconds(services[i].child.pid) ?? 0) - cpuWarm[i], 2)])),
      };
      dnsServer!.resetCounters();
    }

    const metricsBefore = dnsService ? await dnsMetrics(dnsService.base) : undefined;
    sampler = sampleRss(procs);
    const cpuBefore = services.map((s) => cpuSeconds(s.child.pid) ?? 0);
    const run = await postAndWait(store, ingestion, key, file, gzBytes);
    const seconds = run.seconds;
    sampler.stop();
    // The kernel's own peak, read while the processes still live.
    const hwm = Object.fromEntries(SERVICES.map((name, i) => [name, procStatus(services[i].child.pid, 'VmHWM') ?? 0]));
    hwm.bench = procStatus(process.pid, 'VmHWM') ?? 0;
    const cpu = Object.fromEntries(SERVICES.map((name, i) => [name, round((cpuSeconds(services[i].child.pid) ?? 0) - cpuBefore[i], 2)]));
    const dns = dnsService && dnsServer ? { upstream: upstreamQueries(dnsServer), counters: metricsDelta(await dnsMetrics(dnsService.base), metricsBefore!) } : undefined;

    const counted = await store.query<{ messages: string | null; rows: string }>(
      'SELECT sum(messages) AS messages, count(*) AS rows FROM aggregate_counters WHERE tenant_id = $1',
      [tenantId],
    );
    const reportRow = await store.query<{ messages: string; n: string }>(
      'SELECT coalesce(sum(messages), 0) AS messages, count(*) AS n FROM aggregate_reports WHERE tenant_id = $1',
      [tenantId],
    );
    const countedMessages = Number(counted.rows[0].messages ?? 0);
    const exact = countedMessages === messages && Number(reportRow.rows[0].messages) === messages && Number(reportRow.rows[0].n) === 1;

    const peakRssMb = Object.fromEntries([...sampler.peakRss].map(([name, rss]) => [name, round(rss / 1048576)]));
    const hwmMb = Object.fromEntries(Object.entries(hwm).map(([name, b]) => [name, round(b / 1048576)]));
    const worstMb = Math.max(...SERVICES.map((n) => Math.max(hwmMb[n] ?? 0, peakRssMb[n] ?? 0)));
    process.stdout.write(
      `${JSON.stringify({
        bench: 'huge',
        exact,
        seconds: round(seconds, 2),
        recordsPerSec: Math.round(RECORDS / seconds),
        records: RECORDS,
        messages,
        countedMessages,
        counterRows: Number(counted.rows[0].rows),
        compressedMb: round(gzBytes / MB),
        xmlMb: round(xmlBytes / MB),
        postSeconds: round(run.postSeconds, 2),
        parsedSeconds: run.parsedSeconds === undefined ? null : round(run.parsedSeconds, 2),
        generateSeconds: round(generateSeconds, 2),
        peakRssMb,
        vmHwmMb: hwmMb,
        cpuSeconds: cpu,
        status: 'aggregated',
        sha256,
        dnsEnrichment: DNS,
        ...(dns ? { dnsCache: DNS_CACHE, dnsUpstreamQueries: dns.upstream, dnsCacheCounters: dns.counters, ...(warmup ? { warmup } : {}) } : {}),
        targets: { seconds: TARGET.seconds, rssMb: TARGET.rssMb, met: seconds < TARGET.seconds && worstMb < TARGET.rssMb },
        machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version, load1: round(os.loadavg()[0], 2) },
      })}\n`,
    );
    if (!exact) process.exitCode = 1;
  } catch (err) {
    for (const [i, s] of services.entries()) {
      const tail = [...s.stderr.slice(-5), ...s.stdout.filter((l) => /"level":(40|50|60)/.test(l)).slice(-5)];
      if (tail.length) process.stderr.write(`--- ${SERVICES[i]} (last lines) ---\n${tail.join('\n')}\n`);
    }
    throw err;
  } finally {
    sampler?.stop();
    await Promise.all(services.map((s) => stopWithin(s, 15_000)));
    await dnsServer?.close();
    if (DNS) await clearBenchDnsCache(redisUrl).catch(() => undefined);
    if (parsedAtStart) {
      await releaseStandardAggregation(process.env.KAFKA_BROKERS!.split(','), parsedAtStart).catch((err: Error) => console.error(`bench: the aggregation group not moved past this run's chunks: ${err.message}`));
    }
    rmSync(dir, { recursive: true, force: true });
    // The tenants' rows go with them (ON DELETE CASCADE), the aggregation ledger by their report ids.
    for (const t of tenants) await removeBenchTenant(store, t).catch(() => undefined);
    await store.close();
  }
}

const exited: Record<string, string> = {};

main().catch((err: unknown) => {
  process.stderr.write(`bench:huge failed: ${err instanceof Error ? err.message : String(err)} (every service stopped)\n`);
  process.exit(1);
});
