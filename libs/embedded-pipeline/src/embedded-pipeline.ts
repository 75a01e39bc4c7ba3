import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ReportAggregator } from '@dmarc/aggregates';
import { createInProcessBus, isRetriable } from '@dmarc/bus';
import { loadContracts, type ReportParsed, type ReportReceivedV1, TOPICS } from '@dmarc/contracts';
import { IntakeError, ReportIntake } from '@dmarc/intake';
import { ParsingStage } from '@dmarc/report-parsing';
import { migrate, PgliteStore } from '@dmarc/store';
import { domainTotals, type DomainTotals } from './domain-totals';

export interface EmbeddedProgress {
  files: number;
  submitted: number;
  parsed: number;
  chunksPublished: number;
  chunksAggregated: number;
}

export interface FileOutcome {
  file: string;
  status: 'aggregated' | 'parsed' | 'duplicate' | 'failed';
  reason?: string;
}

export interface EmbeddedResult {
  domains: DomainTotals[];
  files: FileOutcome[];
}

export interface EmbeddedOptions {
  /** Called as work advances (a progress bar). */
  onProgress?: (p: EmbeddedProgress) => void;
  /** Largest report file read. Default 256 MiB. */
  maxReportBytes?: number;
}

/** Every regular file under the given paths, recursively, in a stable order. */
export async function collectFiles(paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  const walk = async (p: string): Promise<void> => {
    const info = await stat(p);
    if (info.isDirectory()) {
      for (const entry of (await readdir(p)).sort()) if (!entry.startsWith('.')) await walk(path.join(p, entry));
    } else if (info.isFile()) out.push(p);
  };
  for (const p of paths) await walk(p);
  return out;
}

/**
 * The whole flow in one process, with no Kafka, Redis or server: the same intake, parsing and
 * aggregation code the services run, over the in-process bus and an embedded PostgreSQL (PGlite).
 */
export async function runEmbeddedPipeline(files: readonly string[], options: EmbeddedOptions = {}): Promise<EmbeddedResult> {
  const store = await PgliteStore.open();
  const bus = createInProcessBus({ contracts: loadContracts() });
  const progress: EmbeddedProgress = { files: files.length, submitted: 0, parsed: 0, chunksPublished: 0, chunksAggregated: 0 };
  const report = () => options.onProgress?.({ ...progress });
  try {
    await migrate(store);
    const tenantId = (await store.query<{ id: string }>(`INSERT INTO tenants (name) VALUES ('local') RETURNING id`)).rows[0].id;
    const maxBytes = options.maxReportBytes ?? 256 * 1024 * 1024;
    // Everything travels inline: there is no broker message limit in process.
    const intake = new ReportIntake({ store, publisher: bus, maxBytes, inlineMaxBytes: maxBytes });
    const stage = new ParsingStage({ store, publisher: bus });
    const aggregator = new ReportAggregator({ db: store, publisher: bus });

    let settle: () => void = () => undefined;
    const done = () => progress.parsed === progress.submitted && progress.chunksAggregated === progress.chunksPublished;
    const advance = () => {
      report();
      if (done()) settle();
    };
    const subs = [
      await bus.consume({
        groupId: 'parsing',
        topics: [TOPICS.received],
        handler: async (m) => {
          try {
            const r = await stage.handle(m.value as ReportReceivedV1);
            progress.chunksPublished += r.chunks;
          } catch (err) {
            // Not retriable: the bus dead-letters it and the report's row says why; it is done.
            if (!isRetriable(err)) {
              progress.parsed++;
              advance();
            }
            throw err;
          }
          progress.parsed++;
          advance();
        },
      }),
      await bus.consume({
        groupId: 'aggregation',
        topics: [TOPICS.parsed],
        handler: async (m) => {
          await aggregator.handle(m.value as ReportParsed);
          progress.chunksAggregated++;
          advance();
        },
      }),
    ];

    const outcomes: Array<FileOutcome & { reportId?: string }> = [];
    for (const file of files) {
      try {
        const payload = await readFile(file);
        const accepted = await intake.accept({ tenantId, payload, filename: path.basename(file), source: 'cli' });
        if (accepted.duplicate) outcomes.push({ file, status: 'duplicate' });
        else {
          progress.submitted++;
          outcomes.push({ file, status: 'parsed', reportId: accepted.reportId });
        }
      } catch (err) {
        if (!(err instanceof IntakeError) && !(err as NodeJS.ErrnoException).code) throw err;
        outcomes.push({ file, status: 'failed', reason: err instanceof Error ? err.message.split('\n')[0] : String(err) });
      }
      report();
    }
    if (!done()) await new Promise<void>((resolve) => (settle = resolve));
    for (const s of subs) await s.close();

    const { rows } = await store.query<{ id: string; status: string; reason: string | null }>('SELECT id, status, reason FROM raw_reports WHERE tenant_id = $1', [tenantId]);
    const byId = new Map(rows.map((r) => [r.id, r]));
    // The same report through other bytes (gzip of an XML already read, say) was parsed but not counted.
    const dupRows = await store.query<{ report_id: string }>('SELECT report_id FROM aggregate_reports WHERE tenant_id = $1 AND duplicate_of IS NOT NULL', [tenantId]);
    const duplicates = new Set(dupRows.rows.map((r) => r.report_id));
    return {
      domains: await domainTotals(store, tenantId),
      files: outcomes.map(({ reportId, ...o }) => {
        const row = reportId ? byId.get(reportId) : undefined;
        if (!row) return o;
        if (duplicates.has(reportId!)) return { ...o, status: 'duplicate' };
        return row.status === 'failed' ? { ...o, status: 'failed', reason: row.reason ?? 'failed' } : { ...o, status: row.status === 'aggregated' ? 'aggregated' : 'parsed' };
      }),
    };
  } finally {
    await bus.close();
    await store.close();
  }
}
