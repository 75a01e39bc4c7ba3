// The only way the checks reach DNS. The DNS service adapts its cache to DnsLookup; the checks wrap it
// so that one check asks each question once and a failed lookup becomes a finding, never a throw.
import { describeFailure, finding, type Finding, type Severity } from './findings';

/** What the checks ask DNS. The DNS service adapts its cache to it. Names lower-case without trailing dot. */
export interface DnsLookup {
  /** TXT records at name, each record's strings joined; [] for NXDOMAIN or NODATA. Rejects on an upstream failure (SERVFAIL/timeout). */
  txt(name: string): Promise<string[]>;
  /** A and AAAA addresses at name; [] when none. */
  addresses(name: string): Promise<string[]>;
  /** MX exchange names at name; [] when none. */
  mx(name: string): Promise<string[]>;
}

type LookupType = keyof DnsLookup;
const TYPE_NAMES: Record<LookupType, string> = { txt: 'TXT', addresses: 'A/AAAA', mx: 'MX' };

/** An answer, or undefined after the failure has been recorded as a finding. */
export type Answer = string[] | undefined;

/**
 * One check's view of DNS: each (type, name) asked once however often the check needs it (the SPF and
 * DMARC checks both read the domain's TXT), and failures turned into DNS_LOOKUP_FAILED findings.
 */
export class CheckLookup {
  private readonly answers = new Map<string, Promise<{ ok: string[] } | { failed: string }>>();

  constructor(private readonly dns: DnsLookup) {}

  txt(name: string, findings: Finding[], severity: Severity = 'error'): Promise<Answer> {
    return this.ask('txt', name, findings, severity);
  }

  addresses(name: string, findings: Finding[], severity: Severity = 'error'): Promise<Answer> {
    return this.ask('addresses', name, findings, severity);
  }

  mx(name: string, findings: Finding[], severity: Severity = 'error'): Promise<Answer> {
    return this.ask('mx', name, findings, severity);
  }

  private async ask(type: LookupType, name: string, findings: Finding[], severity: Severity): Promise<Answer> {
    const key = `${type} ${name}`;
    let answer = this.answers.get(key);
    if (!answer) {
      // Promise.resolve().then: a lookup that throws synchronously is a failure like any other.
      answer = Promise.resolve()
        .then(() => this.dns[type](name))
        .then(
          (records) => ({ ok: Array.isArray(records) ? records : [] }),
          (reason: unknown) => ({ failed: describeFailure(reason) }),
        );
      this.answers.set(key, answer);
    }
    const result = await answer;
    if ('ok' in result) return result.ok;
    findings.push(finding(severity, 'DNS_LOOKUP_FAILED', `The ${TYPE_NAMES[type]} lookup for ${name} failed (${result.failed}); the check is incomplete.`, name));
    return undefined;
  }
}
