// What enrichment needs from the DNS cache, as a shape rather than an import: this library is domain
// logic (type:domain) and may not depend on the cache's data-access package. `DnsCache` from
// @dmarc/dns-cache satisfies it as is; tests pass a fake.

/** The record types enrichment asks for. */
export type AnswerType = 'TXT' | 'PTR' | 'A' | 'AAAA' | 'MX';

/** One answer record, only the fields enrichment reads (a @dmarc/dns-wire DnsRecord fits). */
export interface AnswerRecord {
  readonly type: string;
  /** TXT: the record's character-strings. */
  readonly strings?: readonly string[];
  /** PTR / CNAME: the target name. */
  readonly target?: string;
  /** A / AAAA. */
  readonly address?: string;
  /** MX. */
  readonly exchange?: string;
}

export interface AnswerSet {
  /** NOERROR with answers, or NXDOMAIN / NOERROR without answers (negative). */
  readonly rcode: string;
  /** The records of the asked type; empty when negative. */
  readonly answers: readonly AnswerRecord[];
}

/**
 * A cached resolver: answers a question or rejects (upstream failed with nothing stale to serve, invalid
 * name). Every lookup enrichment makes goes through it.
 */
export interface DnsAnswers {
  resolve(name: string, type: AnswerType): Promise<AnswerSet>;
  /**
   * The answer if this process holds a servable one, without awaiting anything; undefined when `resolve`
   * would have to ask L2 or the upstream. Throws as `resolve` rejects. Optional: without it every lookup
   * awaits `resolve`.
   */
  peek?(name: string, type: AnswerType): AnswerSet | undefined;
  /**
   * Many names from the cache's tiers in one go (one L2 round trip), never the upstream: an answer where a
   * tier holds a fresh one, undefined where `resolve` is needed. Optional.
   */
  readMany?(names: readonly string[], type: AnswerType): Promise<ReadonlyArray<AnswerSet | undefined>>;
}

/** The records of `type` in a set (CNAMEs the cache chased are not among them, but be strict anyway). */
export function recordsOf(set: AnswerSet, type: AnswerType): readonly AnswerRecord[] {
  return set.answers.filter((r) => r.type === type);
}

/** A DNS name as the platform stores it: lower case, no root dot. */
export function normaliseDnsName(name: string): string {
  const lower = name.trim().toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}
