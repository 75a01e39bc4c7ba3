/**
 * `npm run bench:parsing-stage`: the parsing service's per-message work in this process, without Kafka or
 * PostgreSQL: the same generated gzip aggregate reports bench:pipeline publishes (bench/aggregate-reports.ts,
 * 10,000 by default: median 3 records, one in a hundred of thousands), handed to ParsingStage as the service
 * hands them (batches of 100 to handleMany, what it leaves to handle()), every message it publishes Avro-encoded
 * with the contracts as the Kafka bus encodes it. The store answers the stage's statements in memory (every
 * identity claimed anew). Prints one JSON line: CPU-ms per report (user + system of this process, median of
 * BENCH_RUNS runs after one warm-up), MB/s of XML, the share of GC time (main-thread pauses over CPU time), and
 * a digest of every encoded message so two builds can be checked to publish the same bytes. Not a test: it checks the counts only.
 */
import { createHash } from 'node:crypto';
import * as os from 'node:os';
import { performance, PerformanceObserver } from 'node:perf_hooks';
import { gunzipSync } from 'node:zlib';
import type { EncodedMessage, OutgoingMessage, Publisher } from '@dmarc/bus';
import { loadContracts, type ReportReceivedV1 } from '@dmarc/contracts';
import { ParsingStage, type BatchItem } from '@dmarc/report-parsing';
import type { Store } from '@dmarc/store';
import { generateReports } from './aggregate-reports';

const REPORTS = Number(process.env.BENCH_REPORTS ?? 10_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
// The service's defaults: BATCH_MAX_MESSAGES and CHUNK_RECORDS.
const BATCH = 100;
const CHUNK_RECORDS = 4000;
const TENANT = '00000000-0000-4000-8000-000000000001';

const contracts = loadContracts();

/** The statements the stage runs, answered in memory: every claim wins (owner = the claiming report). */
const store = {
  driver: 'pg',
  async query(_sql: string, params?: unknown[]) {
    const claimedBy = params?.[2];
    return { rows: Array.isArray(claimedBy) ? claimedBy.map((owner) => ({ owner })) : [], rowCount: 0 };
  },
} as unknown as Store;

interface Sink {
  messages: number;
  bytes: number;
  /**
   * One digest per message (the warm-up run only, so hashing is not measured): compared as a sorted set,
   * since which path publishes a report changes the order.
   */
  digests: string[] | null;
}

/** Encodes as the Kafka bus does (contracts.encode per message); keeps only a digest and counts. */
function encodingPublisher(sink: Sink): Publisher {
  return {
    async publish(topic: string, messages: ReadonlyArray<OutgoingMessage<unknown> | EncodedMessage>) {
      for (const m of messages) {
        const value = 'encoded' in m ? m.encoded.value : contracts.encode(topic, m.value as never).value;
        sink.messages++;
        sink.bytes += value.length;
        sink.digests?.push(createHash('sha256').update(topic).update('\0').update(String(m.key ?? '')).update('\0').update(value).digest('hex'));
      }
    },
    async publishRaw() {
      throw new Error('not used by the parsing stage');
    },
  } as Publisher;
}

// GC pauses of the main thread, as they are reported (asynchronously): summed per run by their start time.
const gcPauses: Array<{ start: number; ms: number }> = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcPauses.push({ start: entry.startTime, ms: entry.duration });
}).observe({ entryTypes: ['gc'] });

async function run(items: BatchItem[], digest = false) {
  const sink: Sink = { messages: 0, bytes: 0, digests: digest ? [] : null };
  const stage = new ParsingStage({ store, publisher: encodingPublisher(sink), chunkRecords: CHUNK_RECORDS, now: () => 1_700_000_000_000 });
  let records = 0;
  let left = 0;
  const from = performance.now();
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  for (let i = 0; i < items.length; i += BATCH) {
    const batch = items.slice(i, i + BATCH);
    const results = await stage.handleMany(batch);
    for (let k = 0; k < batch.length; k++) {
      const result = results[k] ?? (left++, await stage.handle(batch[k].received));
      records += result.records;
    }
  }
  const used = process.cpuUsage(cpu);
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  const to = performance.now();
  await new Promise((r) => setTimeout(r, 100));
  const gcMs = gcPauses.filter((p) => p.start >= from && p.start < to).reduce((n, p) => n + p.ms, 0);
  return { cpuMs: (used.user + used.system) / 1000, wallMs, gcMs, records, left, sink };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (x: number, digits = 1) => Number(x.toFixed(digits));

async function main(): Promise<void> {
  // The reports are dated from "now": a fixed one, so the output digest is comparable from one day to the next.
  const now = Date.now;
  Date.now = () => Date.UTC(2026, 0, 15);
  const generated = generateReports('bench-parsing-stage', REPORTS, (r) => `domain${Math.floor(r() * 200)}.example`);
  Date.now = now;
  const xmlBytes = generated.reduce((n, g) => n + gunzipSync(g.payload).length, 0);
  const expectedRecords = generated.reduce((n, g) => n + g.records, 0);
  const items: BatchItem[] = generated.map((g, i) => {
    const received: ReportReceivedV1 = {
      reportId: `00000000-0000-4000-8000-${String(i + 1).padStart(12, '0')}`,
      tenantId: TENANT,
      sha256: 'x',
      sizeBytes: g.payload.length,
      contentType: 'application/gzip',
      filename: `${g.id}.xml.gz`,
      raw: g.payload,
      receivedAt: 0,
    };
    return { received };
  });

  // Warm-up (JIT, the generated reports' first touch), and the digest of what is published.
  const warmUp = await run(items, true);
  const outputDigest = createHash('sha256').update(warmUp.sink.digests!.sort().join('\n')).digest('hex');
  const runs = [];
  for (let i = 0; i < RUNS; i++) runs.push(await run(items));
  for (const r of [warmUp, ...runs]) {
    if (r.records !== expectedRecords) throw new Error(`parsed ${r.records} records, generated ${expectedRecords}`);
    if (r.sink.bytes !== warmUp.sink.bytes) throw new Error('runs published different bytes');
  }
  const cpuMs = median(runs.map((r) => r.cpuMs));
  process.stdout.write(
    `${JSON.stringify({
      bench: 'parsing-stage',
      machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version, load1: round(os.loadavg()[0], 2) },
      reports: REPORTS,
      records: expectedRecords,
      runs: RUNS,
      cpuMsPerReport: round(cpuMs / REPORTS, 4),
      cpuMsPerReportRuns: runs.map((r) => round(r.cpuMs / REPORTS, 4)),
      cpuSecondsPer10k: round((cpuMs / REPORTS) * 10, 2),
      xmlMbPerSec: round(xmlBytes / 1e6 / (cpuMs / 1000)),
      wallMsPerReport: round(median(runs.map((r) => r.wallMs)) / REPORTS, 4),
      gcShare: round(median(runs.map((r) => r.gcMs / r.cpuMs)), 3),
      leftToHandle: runs[0].left,
      messages: runs[0].sink.messages,
      encodedBytes: runs[0].sink.bytes,
      outputDigest,
    })}\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:parsing-stage failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
