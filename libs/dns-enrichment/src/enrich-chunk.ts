import type { ChunkDns, ReportParsed, SourceNames } from '@dmarc/contracts';
import { EnrichmentLookups, type EnricherOptions, type ReverseNames } from './enrichment-lookups';

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
 * What DNS adds to a parsed chunk: the fields dmarc.reports.enriched has after the parsed ones (`sources`,
 * `dns`), so the service writes the chunk as the parsed bytes it read plus these (ValueExtension of
 * @dmarc/contracts) and the records are never re-encoded.
 */
export interface ChunkEnrichment {
  /** One per distinct source IP of the chunk, in the order of first appearance. */
  sources: SourceNames[];
  dns: ChunkDns;
}

/**
 * The enrichment of each chunk, in order. Names shared by the chunks (the same IP in many records, the same
 * domain in every chunk of a report) are asked once. Never rejects for DNS: an answer that could not be had
 * is null.
 */
export async function enrichChunks(chunks: readonly ReportParsed[], enricher: Enricher): Promise<ChunkEnrichment[]> {
  const lookups = enricher.lookups();
  // Distinct IPs per chunk, in order; a record's IP is looked at once per record, here and nowhere else.
  const chunkIps = chunks.map((chunk) => {
    const seen = new Set<string>();
    for (const record of chunk.records) seen.add(record.sourceIp);
    return seen;
  });
  const ips = new Set<string>();
  for (const seen of chunkIps) for (const ip of seen) ips.add(ip);
  const domains = new Set(chunks.map((chunk) => chunk.metadata.policy.domain));
  // What the cache holds in this process is read without a promise per IP, what the shared tier holds in
  // one round trip per thousand names; only the rest takes a lookup (and maybe an upstream query) each.
  const names = new Map<string, ReverseNames>();
  const resolveRest = async () => {
    for (const [ip, held] of await lookups.sourcesHeld(ips)) names.set(ip, held);
    const missing = [...ips].filter((ip) => !names.has(ip));
    await Promise.all(missing.map(async (ip) => names.set(ip, await lookups.source(ip))));
  };
  const [, records] = await Promise.all([
    resolveRest(),
    Promise.all([...domains].map(async (d) => [d, await lookups.domain(d)] as const)).then((pairs) => new Map(pairs)),
  ]);
  const resolvedAt = enricher.timestamp();
  return chunks.map((chunk, i) => ({
    sources: [...chunkIps[i]].map((ip) => ({ ip, ...names.get(ip)! })),
    dns: { ...records.get(chunk.metadata.policy.domain)!, resolvedAt },
  }));
}

/** One chunk's enrichment (see enrichChunks). */
export async function enrichChunk(chunk: ReportParsed, enricher: Enricher): Promise<ChunkEnrichment> {
  const [enrichment] = await enrichChunks([chunk], enricher);
  return enrichment;
}
