/**
 * `npm run bench:parse`: how fast @dmarc/report-parser reads aggregate reports, and how much memory a huge one
 * takes. Prints one JSON line. Not a timed test: the figures depend on the machine, so it checks nothing.
 *
 * - mixed: a realistic day of reports (most 1-10 records, median 3, a few thousands), each read through
 *   streamReports as the parsing service reads them: reports/s and MB/s of XML, one core.
 * - large: one 100,000-record report, the same way.
 * - both are compared with a bare pass over the same bytes: UTF-8 decoding plus our XML tokenizer with no-op
 *   handlers, the floor any parse+normalise built on it can reach; ratioToBare = our time / bare time.
 * - huge: 1,000,000 records (~500 MB) generated as a stream in a child process, so its peak RSS is its own.
 * Medians over RUNS runs, ours and bare interleaved: the machine is shared and noisy.
 */
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import { streamReports } from '@dmarc/report-parser';
// The bare pass must be the very tokenizer the parser uses, with nothing behind it; it is not part of the
// library's public API, and widening that API for a benchmark would be the wrong trade.
import { XmlTokenizer, type XmlTokenHandler } from '../libs/report-parser/src/xml/xml-tokenizer';
import { seededRandom as random } from './seeded-random';
import { hugeSource, reportXml } from './synthetic-report';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
// BENCH_PARTS=mixed,large to run only some parts (the huge one takes the longest).
const PARTS = new Set((process.env.BENCH_PARTS ?? 'mixed,large,huge').split(','));
const HUGE_RECORDS = 1_000_000;
const MB = 1e6;

// --- synthetic reports (shapes in ./synthetic-report) --------------------------------------------------

/** Records per report as big receivers send them: most 1-10 (median 3), a few hundreds, a rare few thousands. */
function recordsPerReport(rnd: () => number): number {
  const r = rnd();
  if (r < 0.75) return 1 + Math.floor(rnd() * 4);
  if (r < 0.95) return 6 + Math.floor(rnd() * 45);
  if (r < 0.995) return 51 + Math.floor(rnd() * 950);
  return 1000 + Math.floor(rnd() * 4000);
}

// --- passes --------------------------------------------------------------------------------------------

const NO_OP: XmlTokenHandler = { onOpen() {}, onClose() {}, onText() {}, onLeaf() {}, onNotice() {} };
const CHUNK = 64 * 1024;

function bare(bytes: Buffer): void {
  const tokenizer = new XmlTokenizer(NO_OP, { maxTextLength: 65536, maxDepth: 64 });
  for (let i = 0; i < bytes.length; i += CHUNK) tokenizer.write(bytes.toString('utf8', i, Math.min(i + CHUNK, bytes.length)));
  tokenizer.end();
}

/**
 * CPU seconds (user + system of this process) and wall seconds of a run. The rates are computed on CPU time:
 * the machine is shared, and waiting for a core is not parsing. Wall time is reported alongside.
 */
interface Timing {
  cpu: number;
  wall: number;
}

function timed(run: () => void): Timing {
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  run();
  return finish(cpu, start);
}

async function timedAsync(run: () => Promise<void>): Promise<Timing> {
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  await run();
  return finish(cpu, start);
}

function finish(cpu: NodeJS.CpuUsage, start: bigint): Timing {
  const used = process.cpuUsage(cpu);
  return { cpu: (used.user + used.system) / 1e6, wall: Number(process.hrtime.bigint() - start) / 1e9 };
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const round = (value: number, digits = 1): number => Number(value.toFixed(digits));

async function mixed(): Promise<object> {
  const rnd = random(42);
  const reports = Array.from({ length: 2000 }, (_, i) => reportXml(i, recordsPerReport(rnd), rnd));
  const bytes = reports.reduce((sum, r) => sum + r.length, 0);
  let records = 0;
  const ours: Timing[] = [];
  const floor: Timing[] = [];
  for (let run = 0; run < RUNS; run++) {
    records = 0;
    ours.push(
      await timedAsync(async () => {
        for (const report of reports) {
          for await (const event of streamReports(report)) if (event.type === 'records') records += event.records.length;
        }
      }),
    );
    floor.push(timed(() => reports.forEach(bare)));
  }
  return {
    reports: reports.length,
    records,
    medianRecordsPerReport: median(reports.map((r) => (r.toString('latin1').match(/<record>/g) ?? []).length)),
    mb: round(bytes / MB),
    reportsPerSec: Math.round(reports.length / median(ours.map((t) => t.cpu))),
    ...rates(bytes, ours, floor),
  };
}

/** MB/s on CPU time and on wall time, ours and bare, and the ratio of the median times. */
function rates(bytes: number, ours: Timing[], floor: Timing[]): object {
  const cpu = median(ours.map((t) => t.cpu));
  const bareCpu = median(floor.map((t) => t.cpu));
  return {
    mbPerSec: round(bytes / MB / cpu),
    bareMbPerSec: round(bytes / MB / bareCpu),
    ratioToBare: round(cpu / bareCpu, 2),
    wallMbPerSec: round(bytes / MB / median(ours.map((t) => t.wall))),
    wallRatioToBare: round(median(ours.map((t) => t.wall)) / median(floor.map((t) => t.wall)), 2),
  };
}

async function large(): Promise<object> {
  const rnd = random(7);
  const report = reportXml(1, 100_000, rnd);
  const ours: Timing[] = [];
  const floor: Timing[] = [];
  for (let run = 0; run < RUNS; run++) {
    ours.push(
      await timedAsync(async () => {
        for await (const event of streamReports(report)) void event;
      }),
    );
    floor.push(timed(() => bare(report)));
  }
  return { records: 100_000, mb: round(report.length / MB), ...rates(report.length, ours, floor) };
}

/** Runs in its own process (`--huge`): one line of JSON with the time and the peak memory. */
async function hugeChild(): Promise<void> {
  let bytes = 0;
  const generateOnly = await timedAsync(async () => {
    for await (const chunk of hugeSource(HUGE_RECORDS)) bytes += (chunk as Buffer).length;
  });
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  let records = 0;
  let messages = 0;
  const total = await timedAsync(async () => {
    for await (const event of streamReports(hugeSource(HUGE_RECORDS))) {
      if (event.type === 'records') {
        records += event.records.length;
        for (const record of event.records) messages += record.count;
        peak = Math.max(peak, process.memoryUsage().rss);
      }
    }
  });
  clearInterval(sampler);
  process.stdout.write(
    `${JSON.stringify({
      records,
      messages,
      mb: round(bytes / MB),
      seconds: round(total.wall, 2),
      cpuSeconds: round(total.cpu, 2),
      generatorOnlyCpuSeconds: round(generateOnly.cpu, 2),
      peakRssMb: round(peak / 1048576),
      maxRssMb: round(process.resourceUsage().maxRSS / 1024),
    })}\n`,
  );
}

function huge(): object {
  type Run = { seconds: number; cpuSeconds: number; generatorOnlyCpuSeconds: number; mb: number; peakRssMb: number; maxRssMb: number };
  const runs = Array.from({ length: Math.max(1, Math.min(RUNS, 3)) }, () => {
    const out = execFileSync(process.execPath, [...process.execArgv, __filename, '--huge'], { encoding: 'utf8', maxBuffer: 1 << 20 });
    return JSON.parse(out.trim().split('\n').pop()!) as Run;
  });
  const pick = (key: keyof Run): number => median(runs.map((r) => r[key]));
  // The stream is generated in the same process: its own cost, measured apart, is taken out of the rate.
  const parseCpu = pick('cpuSeconds') - pick('generatorOnlyCpuSeconds');
  return {
    ...runs[0],
    runs: runs.length,
    seconds: pick('seconds'),
    cpuSeconds: pick('cpuSeconds'),
    generatorOnlyCpuSeconds: pick('generatorOnlyCpuSeconds'),
    parseMbPerSec: round(runs[0].mb / parseCpu),
    peakRssMb: pick('peakRssMb'),
    maxRssMb: pick('maxRssMb'),
  };
}

async function main(): Promise<void> {
  if (process.argv.includes('--huge')) return hugeChild();
  const result = {
    bench: 'parse',
    machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version, load1: round(os.loadavg()[0], 2) },
    runs: RUNS,
    mixed: PARTS.has('mixed') ? await mixed() : null,
    large: PARTS.has('large') ? await large() : null,
    huge: PARTS.has('huge') ? huge() : null,
    targets: { mbPerSec: 50, ratioToBare: 1.5, hugeRssMb: 300 },
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:parse failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
