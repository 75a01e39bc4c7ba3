/**
 * `npm run bench:cache`: dashboard reads through the tenant API during an ingestion spike, with the tiered
 * cache and without it, on the real broker, Redis and database, every service its own process. Prints one
 * JSON line. Not a timed test: the figures depend on the machine, so it fails only when a read fails or the
 * run passes its deadline.
 *
 * - BENCH_TENANTS enterprise tenants (default 4) with BENCH_DOMAINS domains each (default 5), registered
 *   through the API; ingestion, parsing, aggregation and the cache-invalidator run throughout.
 * - Two phases, each with two fresh API processes: `tiered` (the cache as deployed) and `off`
 *   (CACHE_MODE=off: every type's TTL 0, so every read goes to PostgreSQL). In each, a spike of
 *   BENCH_SPIKE_REPORTS generated reports (default 3000) is published to dmarc.reports.inbound at
 *   BENCH_SPIKE_RATE reports/s (default 300) for these tenants' domains, and while it is published
 *   BENCH_CONNECTIONS closed-loop clients (default 8, keep-alive) read summary, sources and trends of random
 *   domains from both API processes in turn (BENCH_READ_RATE > 0: that many reads/s in all, each client on a
 *   fixed schedule, latency counted from when a read was due). Aggregation announces every flush on dmarc.aggregates.updated
 *   and the invalidator drops the domain's dashboard entries, so the cache is emptied over and over during
 *   the spike, as it would be in production.
 * - Database statements per dashboard read: the API processes' own count of what they sent to PostgreSQL
 *   (dmarc_db_statements_total on /metrics, BEGIN/COMMIT included, the outbox relay's polls too), over the
 *   reads they answered. `statementsSaved` = 1 - tiered / off.
 * - Hit ratio per tier and type: dmarc_cache_reads_total{tier,type} of the API processes (tiered phase).
 * - Latency: p50/p99 of each read, as the client sees it (HTTP on loopback included), timed by readers in a
 *   worker thread of their own (bench/cache-readers.ts), so the publisher's work is not counted as read time;
 *   also by kind, and a control: /healthz of the same processes, 50 a second, timed the same way. Where the
 *   time goes: the API processes' own request histogram (from the request read to the reply sent), and how
 *   late a 20 ms timer fired in the API processes (dmarc_event_loop_lag) and in the readers' thread: the time
 *   each side could not run at all.
 * - Invalidation: BENCH_CHANGES policy changes (default 20), each sent to one API process after both have
 *   the policy cached; the time from sending the PUT until both processes answer the new policy (polled
 *   every millisecond or so), p50/p99/max.
 * BENCH_PIPELINE_NICE: the pipeline services' nice value (default 0), as ops would set it on a shared host; the
 *   spike's publishing thread gets it too while it publishes (its senders are other machines in production).
 *   `aggregatedSecondsAfterSpike` shows what it costs the pipeline: the time from the spike's last publish until
 *   all of it is aggregated. BENCH_PIPELINE_CPUS: the CPUs the pipeline services are confined to (`taskset -c`
 *   list; default any), the one-host form of giving bulk ingestion cores of its own.
 * The API's rate limit is raised for the run (RATE_LIMIT_ENTERPRISE): this measures the cache, not the
 * limiter. Tenants and their rows are removed afterwards; every process started is stopped; BENCH_TIMEOUT_S
 * (default 300) aborts the run.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { fork } from 'node:child_process';
import * as os from 'node:os';
import { createKafkaBus, type Bus } from '@dmarc/bus';
import { loadContracts } from '@dmarc/contracts';
import { PgStore, runMigrations } from '@dmarc/store';
import { createTenant } from '@dmarc/tenant-admin';
import { spawnService, waitReady, type SpawnedService } from '@dmarc/testing';
import { generateReports, type GeneratedReport } from './aggregate-reports';
import { removeBenchTenant } from './bench-tenant';
import type { ReadersInput, ReadersOutput } from './cache-readers';
import { checkNoStaleMembers, spawnBenchServices, stopBenchService } from './bench-services';
import { benchEndpoints, benchServiceEnv } from './service-env';

const { brokers: BROKERS, databaseUrl: URL } = benchEndpoints();
const TENANTS = Number(process.env.BENCH_TENANTS ?? 4);
const DOMAINS = Number(process.env.BENCH_DOMAINS ?? 5);
const SPIKE_REPORTS = Number(process.env.BENCH_SPIKE_REPORTS ?? 3000);
const SPIKE_RATE = Number(process.env.BENCH_SPIKE_RATE ?? 300);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
/** Reads per second, open loop (0: closed loop, as fast as answers come). */
const READ_RATE = Number(process.env.BENCH_READ_RATE ?? 0);
const CHANGES = Number(process.env.BENCH_CHANGES ?? 20);
const TIMEOUT_S = Number(process.env.BENCH_TIMEOUT_S ?? 300);
/**
 * The pipeline services' nice value (0: as started). On one shared host ops give the interactive API precedence
 * over bulk ingestion this way; in a cluster they would not share cores at all.
 */
const PIPELINE_NICE = Number(process.env.BENCH_PIPELINE_NICE ?? 0);
/**
 * BENCH_API_OWN_GROUP=1: the API processes, and the readers (the dashboards' browsers, other machines in production),
 * each in a session of their own. The kernel schedules sessions as groups (sched_autogroup), so each gets its own
 * share of the CPUs, as the API's own CPU request gives it in the Helm chart, instead of sharing the bench's group
 * with the pipeline services and the spike's publisher. Off by default: everything the bench starts shares one group.
 */
const API_OWN_GROUP = process.env.BENCH_API_OWN_GROUP === '1';
/** The CPUs the pipeline services may run on, as `taskset -c` takes them (e.g. `1`); '' (default): any. */
const PIPELINE_CPUS = process.env.BENCH_PIPELINE_CPUS ?? '';
const PIPELINE = ['ingestion', 'parsing', 'aggregation', 'cache-invalidator'];
const GROUPS = ['ingestion', 'parsing', 'aggregation', 'cache-invalidator'];
const INBOUND = 'dmarc.reports.inbound';

interface Tenant {
  id: string;
  apiKey: string;
  domains: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const quantile = (sorted: number[], q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : null);
const round = (x: number | null, digits = 2) => (x === null ? null : Number(x.toFixed(digits)));
const percentiles = (ms: number[]) => {
  const sorted = [...ms].sort((a, b) => a - b);
  return { n: sorted.length, p50Ms: round(quantile(sorted, 0.5)), p99Ms: round(quantile(sorted, 0.99)) };
};
const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS + 4 });

/** One HTTP request on the keep-alive agent: status and body. */
function call(base: string, method: string, path: string, apiKey: string, body?: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      `${base}${path}`,
      {
        method,
        agent,
        headers: { authorization: `Bearer ${apiKey}`, ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}) },
      },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (data += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function expectOk(base: string, method: string, path: string, apiKey: string, body?: unknown): Promise<string> {
  const res = await call(base, method, path, apiKey, body);
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${res.body.slice(0, 300)}`);
  return res.body;
}

/** Sum of a metric's samples on a service's /metrics, by label set (the Prometheus text format). */
async function metric(base: string, name: string, suffixes = ['', '_total']): Promise<Array<{ labels: Record<string, string>; value: number }>> {
  const res = await call(base, 'GET', '/metrics', '');
  const names = new Set(suffixes.map((suffix) => `${name}${suffix}`));
  const out: Array<{ labels: Record<string, string>; value: number }> = [];
  for (const line of res.body.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? (\S+)/.exec(line);
    if (!m || !names.has(m[1])) continue;
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    out.push({ labels, value: Number(m[3]) });
  }
  return out;
}

/**
 * One of the API processes' own histograms over their lifetime, bucket counts summed across processes: le (ms) →
 * cumulative count. `route`: only the samples of routes it matches (the request histogram's dashboard routes).
 */
async function histogramBuckets(apis: SpawnedService[], name: string, route?: RegExp): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const api of apis) {
    for (const { labels, value } of await metric(api.base, name, ['_bucket', '_milliseconds_bucket'])) {
      if (route && !route.test(labels.route ?? '')) continue;
      const bound = labels.le === '+Inf' ? Infinity : Number(labels.le);
      out.set(bound, (out.get(bound) ?? 0) + value);
    }
  }
  return out;
}

/** dmarc_http_server_duration of the dashboard routes (request read to reply sent) and dmarc_event_loop_lag. */
const serverBuckets = async (apis: SpawnedService[]) => ({
  requests: await histogramBuckets(apis, 'dmarc_http_server_duration', /^\/v1\/domains\/:domain\/(summary|sources|trends)$/),
  loopLag: await histogramBuckets(apis, 'dmarc_event_loop_lag'),
});

/** The bucket bound under which a share q of the requests between two readings fell (an upper bound). */
function bucketQuantile(before: Map<number, number>, after: Map<number, number>, q: number): number | null {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0);
  if (total <= 0) return null;
  for (const b of bounds) if ((after.get(b) ?? 0) - (before.get(b) ?? 0) >= q * total) return b;
  return null;
}

const statementsOf = async (apis: SpawnedService[]) =>
  (await Promise.all(apis.map((a) => metric(a.base, 'dmarc_db_statements_total')))).flat().reduce((s, p) => s + p.value, 0);



/**
 * BENCH_PIPELINE_NICE and BENCH_PIPELINE_CPUS applied to a pipeline service: every thread it has (Linux keeps a
 * nice value per thread, so renicing the process id alone left its GC helpers and libuv pool at 0; threads it
 * starts later inherit from their creator).
 */
function confinePipeline(pid: number): void {
  if (PIPELINE_NICE !== 0) for (const tid of readdirSync(`/proc/${pid}/task`)) os.setPriority(Number(tid), PIPELINE_NICE);
  if (PIPELINE_CPUS) execFileSync('taskset', ['-a', '-p', '-c', PIPELINE_CPUS, String(pid)], { stdio: 'ignore' });
}

/** This phase's spike, generated before anything is timed: reports for the tenants' domains. */
function spikeReports(tenants: Tenant[], runId: string, seed: number): { reports: GeneratedReport[]; owner: Map<string, string> } {
  const owner = new Map<string, string>();
  const domains = tenants.flatMap((t) => t.domains.map((d) => (owner.set(d, t.id), d)));
  return { reports: generateReports(runId, SPIKE_REPORTS, (r) => domains[Math.floor(r() * domains.length)], seed), owner };
}

/** The spike published at SPIKE_RATE. */
async function publishSpike(bus: Bus, { reports, owner }: { reports: GeneratedReport[]; owner: Map<string, string> }): Promise<void> {
  const started = Date.now();
  let sent = 0;
  const inFlight: Promise<void>[] = [];
  while (sent < reports.length) {
    const due = Math.min(reports.length, Math.floor(((Date.now() - started) / 1000) * SPIKE_RATE) + 1);
    for (; sent < due; sent++) {
      const g = reports[sent];
      const tenantId = owner.get(g.domain)!;
      const now = Date.now();
      inFlight.push(
        bus.publish(INBOUND, [
          { key: g.id, tenantId, value: { tenantId, payload: g.payload, filename: `${g.id}.xml.gz`, contentType: 'application/gzip', source: 'bench-cache', submittedAt: now } },
        ]),
      );
    }
    await sleep(5);
  }
  await Promise.all(inFlight);
}

/**
 * The readers (bench/cache-readers.ts) in a worker thread, started before `spike` is called and stopped when
 * what it returns settles. With BENCH_PIPELINE_NICE the publishing thread (this one: the spike's senders,
 * which in production are other machines) runs at the pipeline's nice value while it publishes, the readers'
 * thread at the normal one: Linux keeps a nice value per thread, and the worker's is taken at its creation.
 */
async function readLoad(apis: SpawnedService[], tenants: Tenant[], spike: () => Promise<void>): Promise<{ reads: ReadersOutput; publisherNice: number }> {
  const input: ReadersInput = { bases: apis.map((a) => a.base), tenants: tenants.map((t) => ({ apiKey: t.apiKey, domains: t.domains })), connections: CONNECTIONS, rate: READ_RATE };
  const readers = startReaders(input);
  const result = readers.result;
  const publisherNice = PIPELINE_NICE !== 0 ? setThreadNice(PIPELINE_NICE) : 0;
  try {
    await spike();
  } finally {
    if (publisherNice !== 0) restoreThreadNice();
    readers.stop();
  }
  const reads = await result;
  await readers.end();
  return { reads, publisherNice };
}

/**
 * The readers in a worker thread, or (BENCH_API_OWN_GROUP) in a process of their own, in a session of its own: out
 * of the bench's scheduling group, as clients on other machines are.
 */
function startReaders(input: ReadersInput): { result: Promise<ReadersOutput>; stop(): void; end(): Promise<void> } {
  const execArgv = ['--require', require.resolve('tsx/cjs')];
  const file = join(__dirname, 'cache-readers.ts');
  if (API_OWN_GROUP) {
    const child = fork(file, [], { execArgv, detached: true, serialization: 'advanced' });
    child.send(input);
    const result = new Promise<ReadersOutput>((resolve, reject) => {
      child.once('message', (out) => resolve(out as ReadersOutput));
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`the readers' process exited (${code}) before answering`)));
    });
    return {
      result,
      stop: () => child.send('stop'),
      end: async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill();
      },
    };
  }
  const worker = new Worker(file, { workerData: input, execArgv });
  const result = new Promise<ReadersOutput>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return { result, stop: () => worker.postMessage('stop'), end: () => worker.terminate().then(() => undefined) };
}

/** This thread's nice value set (the main thread's id is the process id); what it is now. */
function setThreadNice(nice: number): number {
  os.setPriority(process.pid, nice);
  return os.getPriority(process.pid);
}

/** Back to 0 for what follows (the next phase's readers inherit it); lowering a nice value needs CAP_SYS_NICE. */
function restoreThreadNice(): void {
  try {
    os.setPriority(process.pid, 0);
  } catch (err) {
    throw new Error(`cannot restore the publishing thread's nice value to 0 (${(err as Error).message}): run as root or without BENCH_PIPELINE_NICE`);
  }
}

/** Waits until every report of the phase is aggregated, so the next phase starts from a quiet pipeline. */
async function waitAggregated(store: PgStore, tenants: Tenant[], count: number, deadline: number): Promise<number> {
  const ids = tenants.map((t) => t.id);
  for (;;) {
    const n = Number((await store.query<{ n: string }>('SELECT count(*) AS n FROM aggregate_reports WHERE tenant_id = ANY($1::uuid[]) AND completed_at IS NOT NULL', [ids])).rows[0].n);
    if (n >= count || Date.now() > deadline) return n;
    await sleep(250);
  }
}

async function startApis(mode: 'tiered' | 'off'): Promise<SpawnedService[]> {
  const env = { ...benchServiceEnv('warn', 'api'), CACHE_MODE: mode, RATE_LIMIT_ENTERPRISE: '1000000' };
  const apis = [await spawnService('api', env, { detached: API_OWN_GROUP }), await spawnService('api', env, { detached: API_OWN_GROUP })];
  await Promise.all(apis.map((a) => waitReady(a, 60_000)));
  return apis;
}

async function phase(mode: 'tiered' | 'off', bus: Bus, store: PgStore, tenants: Tenant[], runId: string, seed: number, aggregatedBefore: number, deadline: number) {
  const apis = await startApis(mode);
  try {
    // Every dashboard read once from each process first: the cache starts as dashboards in use find it, not empty.
    for (const a of apis) for (const t of tenants) for (const d of t.domains) for (const kind of ['summary', 'sources', 'trends']) await expectOk(a.base, 'GET', `/v1/domains/${d}/${kind}`, t.apiKey);
    const before = await statementsOf(apis);
    const serverBefore = await serverBuckets(apis);
    const reports = spikeReports(tenants, `${runId}-${mode}`, seed);
    const t0 = Date.now();
    const { reads, publisherNice } = await readLoad(apis, tenants, () => publishSpike(bus, reports));
    const spikeEnd = Date.now();
    const seconds = (spikeEnd - t0) / 1000;
    // Started now, so the time the pipeline takes to finish the spike is measured from its last publish.
    const drained = waitAggregated(store, tenants, aggregatedBefore + SPIKE_REPORTS, deadline).then((n) => ({ n, at: Date.now() }));
    const statements = (await statementsOf(apis)) - before;
    const serverAfter = await serverBuckets(apis);
    const hits = mode === 'tiered' ? (await Promise.all(apis.map((a) => metric(a.base, 'dmarc_cache_reads_total')))).flat() : [];
    const { n: aggregated, at: drainedAt } = await drained;
    const sorted = reads.latencies.sort((a, b) => a - b);
    return {
      apis,
      figures: {
        reads: reads.reads,
        failed: reads.failed,
        statuses: reads.statuses,
        readsPerSec: Math.round(reads.reads / seconds),
        p50Ms: round(quantile(sorted, 0.5)),
        p99Ms: round(quantile(sorted, 0.99)),
        maxMs: round(quantile(sorted, 1)),
        byKind: Object.fromEntries(Object.entries(reads.byKind).map(([kind, ms]) => [kind, percentiles(ms)])),
        // /healthz of the same processes from the readers' thread, 50 a second: the wait a trivial request sees.
        control: percentiles(reads.control),
        // The same reads as the API processes timed them (request read to reply sent), as histogram bucket bounds:
        // the rest of the client's time is the machine (run queues) and loopback.
        serverP50MsAtMost: bucketQuantile(serverBefore.requests, serverAfter.requests, 0.5),
        serverP99MsAtMost: bucketQuantile(serverBefore.requests, serverAfter.requests, 0.99),
        // How late the API processes' 20 ms loop probe fired (dmarc_event_loop_lag), and the readers' own thread's:
        // time each side could not run at all (busy, or waiting for a CPU), as bucket bounds / measured.
        apiLoopLagP50MsAtMost: bucketQuantile(serverBefore.loopLag, serverAfter.loopLag, 0.5),
        apiLoopLagP99MsAtMost: bucketQuantile(serverBefore.loopLag, serverAfter.loopLag, 0.99),
        readersLoopLag: percentiles(reads.loopLag),
        dbStatements: statements,
        dbStatementsPerRead: round(statements / Math.max(1, reads.reads), 4),
        ...(mode === 'tiered' ? { hitRatio: hitRatio(hits) } : {}),
        spikeSeconds: round(seconds, 1),
        aggregatedAfter: aggregated - aggregatedBefore,
        // From the spike's last publish until every one of its reports was aggregated (polled every 250 ms).
        aggregatedSecondsAfterSpike: round((drainedAt - spikeEnd) / 1000, 1),
        publisherNice,
      },
    };
  } catch (err) {
    await Promise.all(apis.map(stopBenchService));
    throw err;
  }
}

/** Per data type and overall: the share of reads each tier answered. */
function hitRatio(points: Array<{ labels: Record<string, string>; value: number }>): object {
  const byType: Record<string, Record<string, number>> = {};
  for (const p of points) {
    const t = (byType[p.labels.type] ??= { l1: 0, l2: 0, source: 0 });
    t[p.labels.tier] = (t[p.labels.tier] ?? 0) + p.value;
  }
  const share = (t: Record<string, number>) => {
    const total = t.l1 + t.l2 + t.source;
    return { reads: total, l1: round(t.l1 / Math.max(1, total), 4), l2: round(t.l2 / Math.max(1, total), 4), source: round(t.source / Math.max(1, total), 4) };
  };
  const all = Object.values(byType).reduce((s, t) => ({ l1: s.l1 + t.l1, l2: s.l2 + t.l2, source: s.source + t.source }), { l1: 0, l2: 0, source: 0 });
  return { all: share(all), ...Object.fromEntries(Object.entries(byType).map(([type, t]) => [type, share(t)])) };
}

/** Policy changes sent to one API process; ms until both answer the new policy. */
async function invalidationTimes(apis: SpawnedService[], tenant: Tenant): Promise<number[]> {
  const domain = tenant.domains[0];
  const times: number[] = [];
  await expectOk(apis[0].base, 'PUT', `/v1/domains/${domain}/policy`, tenant.apiKey, { p: 'quarantine', sp: 'none', pct: 100, adkim: 'r', aspf: 'r' });
  for (let k = 0; k < CHANGES; k++) {
    const pct = k % 2 === 0 ? 50 : 100;
    for (const a of apis) await expectOk(a.base, 'GET', `/v1/domains/${domain}/policy`, tenant.apiKey);
    const t0 = process.hrtime.bigint();
    const put = expectOk(apis[k % 2].base, 'PUT', `/v1/domains/${domain}/policy`, tenant.apiKey, { p: 'quarantine', sp: 'none', pct, adkim: 'r', aspf: 'r' });
    const seen = apis.map(async (a) => {
      for (let tries = 0; tries < 20_000; tries++) {
        const res = await call(a.base, 'GET', `/v1/domains/${domain}/policy`, tenant.apiKey);
        if (res.status === 200 && (JSON.parse(res.body) as { pct?: number }).pct === pct) return;
        await sleep(1);
      }
      throw new Error(`${a.base} never answered pct ${pct}`);
    });
    await Promise.all([put, ...seen]);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return times;
}

async function main(): Promise<void> {
  const deadline = Date.now() + TIMEOUT_S * 1000;
  const runId = `bench-cache-${Date.now().toString(36)}-${randomUUID().slice(0, 6)}`;
  await runMigrations(URL, { info: () => undefined });
  await checkNoStaleMembers(BROKERS, GROUPS, 'dmarc-bench-cache');
  const store = new PgStore({ url: URL, applicationName: 'dmarc-bench-cache', poolSize: 2 });
  const tenants: Tenant[] = [];
  const services: SpawnedService[] = [];
  let bus: Bus | undefined;
  try {
    for (let i = 0; i < TENANTS; i++) {
      const t = await createTenant(store, { name: `${runId}-${i}`, tier: 'enterprise', actor: 'bench:cache' });
      tenants.push({ id: t.id, apiKey: t.apiKey, domains: Array.from({ length: DOMAINS }, (_, j) => `d${j}.t${i}.${runId}.example`) });
    }
    await spawnBenchServices('cache', PIPELINE, (name) => benchServiceEnv('warn', name), TIMEOUT_S, services);
    for (const s of services) if (s.child.pid) confinePipeline(s.child.pid);
    await Promise.all(services.map((s) => waitReady(s, 60_000)));
    bus = await createKafkaBus({ brokers: BROKERS, clientId: 'dmarc-bench-cache', contracts: loadContracts() });
    await bus.ensureTopics([{ topic: INBOUND }]);

    const first = await startApis('tiered');
    for (const t of tenants) for (const d of t.domains) await expectOk(first[0].base, 'POST', '/v1/domains', t.apiKey, { name: d });
    await Promise.all(first.map(stopBenchService));

    const tiered = await phase('tiered', bus, store, tenants, runId, 21, 0, deadline);
    const invalidation = (await invalidationTimes(tiered.apis, tenants[0])).sort((a, b) => a - b);
    await Promise.all(tiered.apis.map(stopBenchService));
    const off = await phase('off', bus, store, tenants, runId, 22, tiered.figures.aggregatedAfter, deadline);
    await Promise.all(off.apis.map(stopBenchService));

    const saved = 1 - tiered.figures.dbStatementsPerRead! / Math.max(1e-9, off.figures.dbStatementsPerRead!);
    console.log(
      JSON.stringify({
        bench: 'cache',
        tenants: TENANTS,
        domainsPerTenant: DOMAINS,
        connections: CONNECTIONS,
        readRate: READ_RATE || 'closed loop',
        pipelineNice: PIPELINE_NICE,
        apiOwnGroup: API_OWN_GROUP,
        pipelineCpus: PIPELINE_CPUS || 'any',
        spike: { reports: SPIKE_REPORTS, rate: SPIKE_RATE },
        tiered: tiered.figures,
        off: off.figures,
        dbStatementsSaved: round(saved, 4),
        invalidation: { changes: invalidation.length, p50Ms: round(quantile(invalidation, 0.5)), p99Ms: round(quantile(invalidation, 0.99)), maxMs: round(quantile(invalidation, 1)) },
        targets: { dbStatementsSaved: 0.95, p99Ms: 10, invalidationMs: 100 },
        machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, loadavg1: Math.round(os.loadavg()[0] * 100) / 100 },
      }),
    );
  } finally {
    await bus?.close().catch(() => undefined);
    await Promise.all(services.map(stopBenchService));
    agent.destroy();
    for (const t of tenants) await removeBenchTenant(store, t.id).catch(() => undefined);
    await store.close();
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(`bench cache: ${err.message}`);
    process.exit(1);
  },
);
