import type { ReportEnrichedInput, ReportParsed } from '@dmarc/contracts';
import { EnrichmentLookups, type EnricherOptions } from './enrichment-lookups';

/**
 * Adds DNS to parsed report chunks: per record the source IP's PTR name and its base domain, per chunk the
 * policy domain's DMARC and SPF records. Holds the options; each pass gets fresh lookups.
 */
export class Enricher {
  private readonly resolved: Required<Omit<EnricherOptions, 'now'>>;
  private readonly now: () => number;

  constructor(options: EnricherOptions) {
    const concurrency = options.concurrency ?? 64;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be an integer >= 1, got ${concurrency}`);
    this.resolved = {
      answers: options.answers,
      reverseName: options.reverseName,
      baseDomain: options.baseDomain,
      confirmPtr: options.confirmPtr ?? false,
      concurrency,
    };
    this.now = options.now ?? Date.now;
  }

  /** Lookups for one pass: each question asked once in it. */
  lookups(): EnrichmentLookups {
    return new EnrichmentLookups(this.resolved);
  }

  /** When a pass's records were read. */
  timestamp(): number {
    return this.now();
  }
}

/**
 * The enriched chunks, in order. Names shared by the chunks (the same IP in many records, the same domain in
 * every chunk of a report) are asked once. Never rejects for DNS: an answer that could not be had is null.
 */
export async function enrichChunks(chunks: readonly ReportParsed[], enricher: Enricher): Promise<ReportEnrichedInput[]> {
  const lookups = enricher.lookups();
  const ips = new Set<string>();
  const domains = new Set<string>();
  for (const chunk of chunks) {
    domains.add(chunk.metadata.policy.domain);
    for (const record of chunk.records) ips.add(record.sourceIp);
  }
  const [sources, records] = await Promise.all([
    Promise.all([...ips].map(async (ip) => [ip, await lookups.source(ip)] as const)).then((pairs) => new Map(pairs)),
    Promise.all([...domains].map(async (d) => [d, await lookups.domain(d)] as const)).then((pairs) => new Map(pairs)),
  ]);
  const resolvedAt = enricher.timestamp();
  return chunks.map((chunk) => ({
    ...chunk,
    records: chunk.records.map((record) => ({ ...record, ...sources.get(record.sourceIp)! })),
    dns: { ...records.get(chunk.metadata.policy.domain)!, resolvedAt },
  }));
}

/** One chunk enriched (see enrichChunks). */
export async function enrichChunk(chunk: ReportParsed, enricher: Enricher): Promise<ReportEnrichedInput> {
  const [enriched] = await enrichChunks([chunk], enricher);
  return enriched;
}
