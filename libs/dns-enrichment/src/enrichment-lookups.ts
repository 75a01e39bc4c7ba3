// The lookups behind one enrichment pass (a chunk or a batch of chunks): every question asked once per
// pass however many records repeat it, and every failure turned into "no answer" so DNS can never hold
// a report back. The cache behind `answers` does the cross-pass and cross-process deduplication.
import { isIPv4, isIPv6 } from 'node:net';
import { recordsOf, normaliseDnsName, type AnswerSet, type AnswerType, type DnsAnswers } from './dns-answers';
import { joinTxt, pickDmarcRecord, pickSpfRecord } from './policy-records';

export interface EnricherOptions {
  /** The cached resolver every lookup goes through (a DnsCache). */
  readonly answers: DnsAnswers;
  /** IP → its reverse-lookup name (`reverseName` of @dmarc/dns-wire); throws for what is not an IP. */
  readonly reverseName: (ip: string) => string;
  /** Public suffix + 1 of a name, or null (`baseDomain` of @dmarc/dns-records). */
  readonly baseDomain: (name: string) => string | null;
  /** Keep a PTR name only when it resolves back to the IP (forward-confirmed reverse DNS). Default false. */
  readonly confirmPtr?: boolean;
  /** Distinct questions of one pass in flight at once, so a chunk of 2,000 new IPs is not 2,000 queries at once. Default 64. */
  readonly concurrency?: number;
  readonly now?: () => number;
}

export interface ReverseNames {
  /** PTR name of the IP (forward-confirmed when asked to), or null. */
  ptr: string | null;
  /** Public suffix + 1 of `ptr`, or null. */
  baseDomain: string | null;
}

export interface DomainRecords {
  dmarcRecord: string | null;
  spfRecord: string | null;
}

const NONE: ReverseNames = Object.freeze({ ptr: null, baseDomain: null });
/** Names per readMany call: one MGET each, small enough not to hold Redis up for others. */
const READ_MANY = 1000;

/** What one pass needs; made by `Enricher.lookups()`, thrown away after the pass. */
export class EnrichmentLookups {
  private readonly asked = new Map<string, Promise<AnswerSet | null>>();
  private readonly sources = new Map<string, Promise<ReverseNames>>();
  private readonly domains = new Map<string, Promise<DomainRecords>>();
  private active = 0;
  private readonly queue: Array<() => void> = [];

  constructor(private readonly options: Required<Omit<EnricherOptions, 'now'>>) {}

  source(ip: string): Promise<ReverseNames> {
    let found = this.sources.get(ip);
    if (!found) this.sources.set(ip, (found = this.lookUpSource(ip)));
    return found;
  }

  /**
   * The names of those IPs the cache's tiers hold fresh: what this process holds read synchronously (peek),
   * the rest from the shared tier in slices of READ_MANY names, one round trip each (readMany). An IP missing
   * from the result needs `source`. Reads nothing with forward confirmation (it needs more than the PTR
   * answer); a cache without peek or readMany skips that tier.
   */
  async sourcesHeld(ips: Iterable<string>): Promise<Map<string, ReverseNames>> {
    const found = new Map<string, ReverseNames>();
    const { answers, confirmPtr, reverseName } = this.options;
    if (confirmPtr) return found;
    const shared: Array<{ ip: string; name: string }> = [];
    for (const ip of ips) {
      const address = canonicalIp(ip);
      if (!address) {
        found.set(ip, NONE);
        continue;
      }
      const name = reverseName(address);
      let set: AnswerSet | undefined;
      try {
        set = answers.peek?.(name, 'PTR');
      } catch {
        // A remembered upstream failure: no name, as `ask` gives.
        found.set(ip, NONE);
        continue;
      }
      if (set !== undefined) found.set(ip, this.named(firstName(set)));
      else shared.push({ ip, name });
    }
    if (!answers.readMany) return found;
    for (let from = 0; from < shared.length; from += READ_MANY) {
      const slice = shared.slice(from, from + READ_MANY);
      let sets: ReadonlyArray<AnswerSet | undefined>;
      try {
        sets = await answers.readMany(
          slice.map((a) => a.name),
          'PTR',
        );
      } catch {
        continue;
      }
      slice.forEach(({ ip }, i) => {
        const set = sets[i];
        if (set !== undefined) found.set(ip, this.named(firstName(set)));
      });
    }
    return found;
  }

  domain(domain: string): Promise<DomainRecords> {
    const name = normaliseDnsName(domain);
    let found = this.domains.get(name);
    if (!found) this.domains.set(name, (found = this.lookUpDomain(name)));
    return found;
  }

  private async lookUpSource(ip: string): Promise<ReverseNames> {
    const address = canonicalIp(ip);
    if (!address) return NONE;
    const set = await this.ask(this.options.reverseName(address), 'PTR');
    if (!set) return NONE;
    return this.named(this.options.confirmPtr ? await this.firstConfirmed(ptrNames(set), address) : firstName(set));
  }

  /** A PTR name and its base domain; NONE for none. */
  private named(ptr: string | null): ReverseNames {
    return ptr ? { ptr, baseDomain: this.options.baseDomain(ptr) } : NONE;
  }

  // FCrDNS: a PTR name anyone can publish for their own addresses only counts when the name points back.
  private async firstConfirmed(names: readonly string[], address: string): Promise<string | null> {
    const type: AnswerType = isIPv4(address) ? 'A' : 'AAAA';
    for (const name of names) {
      const set = await this.ask(name, type);
      if (set && recordsOf(set, type).some((r) => r.address !== undefined && canonicalIp(r.address) === address)) return name;
    }
    return null;
  }

  private async lookUpDomain(domain: string): Promise<DomainRecords> {
    if (!domain) return { dmarcRecord: null, spfRecord: null };
    const [dmarc, spf] = await Promise.all([this.ask(`_dmarc.${domain}`, 'TXT'), this.ask(domain, 'TXT')]);
    return {
      dmarcRecord: dmarc ? pickDmarcRecord(joinTxt(recordsOf(dmarc, 'TXT'))) : null,
      spfRecord: spf ? pickSpfRecord(joinTxt(recordsOf(spf, 'TXT'))) : null,
    };
  }

  /** One question per pass; null when it could not be answered (the field stays null, the chunk goes on). */
  private ask(name: string, type: AnswerType): Promise<AnswerSet | null> {
    const key = `${type}:${name}`;
    let found = this.asked.get(key);
    if (!found) {
      found = this.limited(() => this.options.answers.resolve(name, type)).catch(() => null);
      this.asked.set(key, found);
    }
    return found;
  }

  private async limited<T>(run: () => Promise<T>): Promise<T> {
    if (this.active >= this.options.concurrency) await new Promise<void>((wake) => this.queue.push(wake));
    this.active++;
    try {
      return await run();
    } finally {
      this.active--;
      this.queue.shift()?.();
    }
  }
}

/** The PTR names of an answer set, normalised, in order. */
function ptrNames(set: AnswerSet): string[] {
  return recordsOf(set, 'PTR')
    .map((r) => (r.target ? normaliseDnsName(r.target) : ''))
    .filter((n) => n.length > 0);
}

function firstName(set: AnswerSet): string | null {
  return ptrNames(set)[0] ?? null;
}

/** The IP in one spelling (IPv6 compressed, lower case), so the forward check compares like with like; null for a non-IP. */
export function canonicalIp(ip: string): string | null {
  const text = ip.trim();
  if (isIPv4(text)) return text;
  if (!isIPv6(text) || text.includes('%')) return null;
  // WHATWG URL serialises an IPv6 host in its canonical (RFC 5952) form.
  return new URL(`http://[${text}]/`).hostname.slice(1, -1);
}
