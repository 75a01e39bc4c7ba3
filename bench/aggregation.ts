/**
 * `npx tsx bench/aggregation.ts`: how fast @dmarc/aggregates applies parsed report chunks to PostgreSQL,
 * exactly once (ledger row, counters, policy, report bookkeeping in one statement per chunk). Prints one
 * JSON line. Not a timed test: the figures depend on the machine, so it checks only that the counts are exact.
 *
 * - A realistic day: BENCH_REPORTS reports (default 5000), most of 1-10 records (median about 3), a few of
 *   hundreds, one in a hundred of thousands; source IPs drawn from a shared pool so counter rows are reused
 *   across reporters; chunks of at most 2000 records, as the parsing service cuts them.
 * - Applied with BENCH_CONCURRENCY chunks in flight (default 3: the topic's partitions), each through
 *   ReportAggregator with a publisher that does nothing, so the figure is counting + PostgreSQL only.
 * - Then every chunk again, as a redelivery after a crash would: each must hit the ledger and change nothing.
 * Needs DATABASE_URL (default: the local infrastructure's). Its tenant and rows are removed afterwards.
 */
import { randomUUID } from 'node:crypto';
import * as os from 'node:os';
import { fixtureChunks, fixtureRecord, ReportAggregator } from '@dmarc/aggregates';
import type { Publisher } from '@dmarc/bus';
import type { AggregateRecord, ReportParsed } from '@dmarc/contracts';
import { PgStore, runMigrations } from '@dmarc/store';
import { removeBenchTenant } from './bench-tenant';
import { recordsPerReport } from './report-sizes';
import { seededRandom } from './seeded-random';

const URL = process.env.DATABASE_URL ?? 'postgres://dmarc:dmarc@127.0.0.1:5432/dmarc';
const REPORTS = Number(process.env.BENCH_REPORTS ?? 5000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 3);
const CHUNK_RECORDS = 2000;
const DAY = 86_400_000;

function generate(tenantId: string): { chunks: ReportParsed[]; sizes: number[] } {
  const r = seededRandom(7);
  const ips = Array.from({ length: 5000 }, (_, i) => `198.${18 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`);
  const chunks: ReportParsed[] = [];
  const sizes: number[] = [];
  for (let i = 0; i < REPORTS; i++) {
    const domain = `domain${Math.floor(r() * 200)}.example`;
    const begin = Date.UTC(2025, 2, 1) + Math.floor(r() * 7) * DAY;
    const records: AggregateRecord[] = Array.from({ length: recordsPerReport(r) }, () => {
      const pass = r() < 0.8;
      return fixtureRecord({
        // Popular senders (the pool's head) are reported over and over.
        sourceIp: ips[Math.floor(ips.length * r() ** 3)],
        count: 1 + Math.floor(r() ** 4 * 500),
        disposition: pass ? 'none' : r() < 0.5 ? 'quarantine' : 'reject',
        dkimAligned: pass && r() < 0.9,
        spfAligned: pass,
        headerFrom: domain,
      });
    });
    sizes.push(records.length);
    for (const c of fixtureChunks(tenantId, randomUUID(), records, Math.ceil(records.length / CHUNK_RECORDS))) {
      chunks.push({ ...c, metadata: { ...c.metadata, begin, end: begin + DAY - 1000, policy: { ...c.metadata.policy, domain } } });
    }
  }
  return { chunks, sizes: sizes.sort((a, b) => a - b) };
}

async function applyAll(aggregator: ReportAggregator, chunks: ReportParsed[]): Promise<{ seconds: number; latencies: number[]; applied: number }> {
  const latencies: number[] = [];
  let next = 0;
  let applied = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < chunks.length) {
        const chunk = chunks[next++];
        const t = process.hrtime.bigint();
        if ((await aggregator.handle(chunk)).applied) applied++;
        latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
    }),
  );
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, latencies: latencies.sort((a, b) => a - b), applied };
}

const quantile = (sorted: number[], q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] * 100) / 100;
const round = (x: number) => Math.round(x);

async function main(): Promise<void> {
  await runMigrations(URL, { info: () => undefined });
  const store = new PgStore({ url: URL, applicationName: 'dmarc-bench-aggregation', poolSize: CONCURRENCY + 1 });
  const tenantId = (await store.query<{ id: string }>(`INSERT INTO tenants (name) VALUES ('bench-aggregation') RETURNING id`)).rows[0].id;
  const silent: Publisher = { publish: async () => undefined, publishRaw: async () => undefined };
  const aggregator = new ReportAggregator({ db: store, publisher: silent });
  try {
    const { chunks, sizes } = generate(tenantId);
    const records = chunks.reduce((s, c) => s + c.records.length, 0);
    const messages = chunks.reduce((s, c) => s + c.records.reduce((m, x) => m + x.count, 0), 0);

    const first = await applyAll(aggregator, chunks);
    const again = await applyAll(aggregator, chunks);
    const counted = await store.query<{ messages: string; rows: string }>('SELECT sum(messages) AS messages, count(*) AS rows FROM aggregate_counters WHERE tenant_id = $1', [tenantId]);
    const exact = Number(counted.rows[0].messages) === messages && first.applied === chunks.length && again.applied === 0;

    console.log(
      JSON.stringify({
        bench: 'aggregation',
        exact,
        reports: REPORTS,
        chunks: chunks.length,
        records,
        messages,
        medianRecordsPerReport: sizes[Math.floor(sizes.length / 2)],
        maxRecordsPerReport: sizes[sizes.length - 1],
        counterRows: Number(counted.rows[0].rows),
        concurrency: CONCURRENCY,
        seconds: Math.round(first.seconds * 100) / 100,
        reportsPerSec: round(REPORTS / first.seconds),
        chunksPerSec: round(chunks.length / first.seconds),
        recordsPerSec: round(records / first.seconds),
        chunkP50Ms: quantile(first.latencies, 0.5),
        chunkP99Ms: quantile(first.latencies, 0.99),
        chunkMaxMs: quantile(first.latencies, 1),
        redeliveredChunksPerSec: round(chunks.length / again.seconds),
        machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, loadavg1: Math.round(os.loadavg()[0] * 100) / 100 },
      }),
    );
    if (!exact) process.exitCode = 1;
  } finally {
    await removeBenchTenant(store, tenantId);
    await store.close();
  }
}

main().catch((err) => {
  console.error(`bench aggregation: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
