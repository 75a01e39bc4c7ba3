import type { ReportParsed, AggregateRecord } from '@dmarc/contracts';
import type { AnswerSet, AnswerType, DnsAnswers } from '../dns-answers';

/** A cached resolver from a table: `${type} ${name}` → answer set or failure; counts every question. */
export class FakeAnswers implements DnsAnswers {
  readonly asked: string[] = [];
  private readonly table = new Map<string, AnswerSet | Error>();
  inFlight = 0;
  maxInFlight = 0;
  delayMs = 0;

  txt(name: string, ...records: Array<string | string[]>): this {
    return this.set('TXT', name, { rcode: 'NOERROR', answers: records.map((r) => ({ type: 'TXT', strings: typeof r === 'string' ? [r] : r })) });
  }

  ptr(ip4: string, ...targets: string[]): this {
    const name = `${ip4.split('.').reverse().join('.')}.in-addr.arpa`;
    return this.set('PTR', name, { rcode: 'NOERROR', answers: targets.map((target) => ({ type: 'PTR', target })) });
  }

  address(type: 'A' | 'AAAA', name: string, ...addresses: string[]): this {
    return this.set(type, name, { rcode: 'NOERROR', answers: addresses.map((address) => ({ type, address })) });
  }

  set(type: AnswerType, name: string, answer: AnswerSet | Error): this {
    this.table.set(`${type} ${name}`, answer);
    return this;
  }

  count(type: AnswerType, name: string): number {
    return this.asked.filter((q) => q === `${type} ${name}`).length;
  }

  async resolve(name: string, type: AnswerType): Promise<AnswerSet> {
    this.asked.push(`${type} ${name}`);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await new Promise((r) => setTimeout(r, this.delayMs));
      const found = this.table.get(`${type} ${name}`) ?? { rcode: 'NXDOMAIN', answers: [] };
      if (found instanceof Error) throw found;
      return found;
    } finally {
      this.inFlight--;
    }
  }
}

/** FakeAnswers with a synchronous tier: what `hold` put there is answered by peek() (and counted in `peeked`). */
export class FakeAnswersWithPeek extends FakeAnswers {
  readonly peeked: string[] = [];
  private readonly held = new Map<string, AnswerSet | Error>();

  hold(type: AnswerType, name: string, answer: AnswerSet | Error): this {
    this.held.set(`${type} ${name}`, answer);
    return this;
  }

  peek(name: string, type: AnswerType): AnswerSet | undefined {
    const found = this.held.get(`${type} ${name}`);
    if (found === undefined) return undefined;
    this.peeked.push(`${type} ${name}`);
    if (found instanceof Error) throw found;
    return found;
  }
}

/** FakeAnswersWithPeek plus a shared tier: what `share` put there is answered by readMany (one call per slice, counted). */
export class FakeAnswersWithTiers extends FakeAnswersWithPeek {
  readonly readManyCalls: string[][] = [];
  private readonly shared = new Map<string, AnswerSet>();
  failReadMany = false;

  share(type: AnswerType, name: string, answer: AnswerSet): this {
    this.shared.set(`${type} ${name}`, answer);
    return this;
  }

  async readMany(names: readonly string[], type: AnswerType): Promise<Array<AnswerSet | undefined>> {
    this.readManyCalls.push([...names]);
    if (this.failReadMany) throw new Error('L2 down');
    return names.map((name) => this.peek(name, type) ?? this.shared.get(`${type} ${name}`));
  }
}

export function record(sourceIp: string, count = 1): AggregateRecord {
  return {
    sourceIp,
    count,
    disposition: 'none',
    dkimAligned: true,
    spfAligned: true,
    headerFrom: 'example.test',
    envelopeFrom: null,
    envelopeTo: null,
    reasons: [],
    dkim: [],
    spf: [],
  };
}

export function chunk(domain: string, ips: string[], chunkIndex = 0): ReportParsed {
  return {
    reportId: 'r1',
    tenantId: 't1',
    chunkIndex,
    last: true,
    recordCount: ips.length,
    duplicateOf: null,
    metadata: {
      orgName: 'Reporter',
      email: null,
      externalReportId: 'x1',
      begin: 1_700_000_000_000,
      end: 1_700_086_400_000,
      version: null,
      generator: null,
      policy: { domain, p: 'none', sp: null, np: null, pct: null, adkim: null, aspf: null, fo: null, testing: null, discoveryMethod: null },
      repairs: [],
    },
    records: ips.map((ip) => record(ip)),
    parsedAt: 1_700_100_000_000,
  };
}

/** The reverse name of an IPv4 address (tests only; the service passes @dmarc/dns-wire's reverseName). */
export function reverse4(ip: string): string {
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip)) {
    if (ip.includes(':')) return `${ip}.ip6.arpa`;
    throw new TypeError(`not an IP: ${ip}`);
  }
  return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
}

/** Last two labels: enough of a public-suffix rule for names under .test. */
export function lastTwoLabels(name: string): string | null {
  const labels = name.split('.');
  return labels.length >= 2 ? labels.slice(-2).join('.') : null;
}
