import { collectFiles, runEmbeddedPipeline, type EmbeddedProgress, type EmbeddedResult } from '@dmarc/embedded-pipeline';
import type { CommandIO } from '../command-io';

/**
 * `dmarc analyze DIR... [--json]`: the whole flow in one process (ingestion, parsing, aggregation over
 * the in-process bus and an embedded PostgreSQL) and a per-domain summary.
 */
export async function analyze(args: string[], io: CommandIO): Promise<number> {
  const json = args.includes('--json');
  const paths = args.filter((a) => a !== '--json');
  if (paths.length === 0) {
    io.err('usage: dmarc analyze DIR... [--json]');
    return 64;
  }
  let files: string[];
  try {
    files = await collectFiles(paths);
  } catch (err) {
    io.err(`dmarc analyze: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? `${(err as { path?: string }).path ?? paths.join(' ')}: no such file or directory` : (err as Error).message}`);
    return 66;
  }
  const result = await runEmbeddedPipeline(files, { onProgress: io.progress ? (p) => io.progress!(bar(p)) : undefined });
  if (io.progress) io.progress('');
  for (const f of result.files) if (f.status === 'failed') io.err(`${f.file}: ${f.reason}`);
  if (json) io.out(JSON.stringify(result));
  else for (const line of table(result)) io.out(line);
  return result.files.some((f) => f.status === 'failed') ? 1 : 0;
}

function bar(p: EmbeddedProgress): string {
  const work = p.files + p.chunksPublished;
  const doneWork = p.parsed + (p.files - p.submitted) + p.chunksAggregated;
  const ratio = work === 0 ? 1 : Math.min(1, doneWork / work);
  const width = 30;
  const filled = Math.round(ratio * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.parsed}/${p.submitted} reports parsed, ${p.chunksAggregated}/${p.chunksPublished} chunks aggregated`;
}

const pct = (n: number, d: number) => (d === 0 ? '-' : `${((100 * n) / d).toFixed(1)}%`);

function table(result: EmbeddedResult): string[] {
  const head = ['domain', 'reports', 'messages', 'DMARC pass', 'DKIM aligned', 'SPF aligned', 'quarantined', 'rejected', 'top source', 'days'];
  const rows = result.domains.map((d) => [
    d.domain,
    String(d.reports),
    String(d.messages),
    pct(d.dmarcPass, d.messages),
    pct(d.dkimAligned, d.messages),
    pct(d.spfAligned, d.messages),
    String(d.quarantined),
    String(d.rejected),
    d.topSource ? `${d.topSource.ip} (${d.topSource.messages})` : '-',
    d.firstDay === d.lastDay ? d.firstDay : `${d.firstDay}..${d.lastDay}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === 0 || i >= 8 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  const count = (s: string) => result.files.filter((f) => f.status === s).length;
  return [
    fmt(head),
    fmt(widths.map((w) => '-'.repeat(w))),
    ...rows.map(fmt),
    '',
    `${result.files.length} files: ${count('aggregated')} aggregated, ${count('parsed')} parsed (failure/TLS reports), ${count('duplicate')} duplicates, ${count('failed')} failed`,
  ];
}
