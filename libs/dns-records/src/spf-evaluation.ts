// Follows an SPF record through its include: and redirect= targets the way a receiver would when no
// mechanism matches (the worst case), counting what RFC 7208 §4.6.4 limits: terms that query DNS
// (at most 10) and queries that come back empty (at most 2), and each mx mechanism's 10 names.
import { CheckLookup, type DnsLookup } from './dns-lookup';
import { finding, sortFindings, type Finding } from './findings';
import { isSpfRecord, parseSpfRecord, queriesDns, type SpfMechanism, type SpfModifier, type SpfQualifier, type SpfTerm } from './spf-record';

export const SPF_MAX_LOOKUPS = 10;
export const SPF_MAX_VOID_LOOKUPS = 2;
export const SPF_MAX_MX_NAMES = 10;
/** RFC 7208 §3.4: an SPF answer should fit a 512-byte UDP response. */
export const SPF_MAX_TXT_BYTES = 512;
/** Past this many counted terms the evaluation stops following targets: the verdict is long settled. */
const FOLLOW_LIMIT = 40;

/** One record of the include/redirect tree, for display. */
export interface SpfNode {
  domain: string;
  /** how the record was reached */
  via: 'root' | 'include' | 'redirect';
  /** the qualifier of the include that reached it */
  qualifier?: SpfQualifier;
  record?: string;
  /** DNS-querying terms in this record itself (its children count their own) */
  lookups: number;
  children: SpfNode[];
  /** why the record could not be followed: no record, several, a loop, a failed lookup */
  problem?: string;
}

export interface SpfCheck {
  record?: string;
  lookups: number;
  voidLookups: number;
  findings: Finding[];
  /** include/redirect tree for display */
  tree: SpfNode;
}

export function checkSpf(domain: string, dns: DnsLookup): Promise<SpfCheck> {
  return evaluateSpf(domain, new CheckLookup(dns));
}

/** The check on a lookup shared with other checks of the same domain. */
export async function evaluateSpf(domain: string, dns: CheckLookup): Promise<SpfCheck> {
  const evaluation = new SpfEvaluation(dns);
  const tree = await evaluation.follow(domain, 'root', []);
  return evaluation.result(tree);
}

class SpfEvaluation {
  private lookups = 0;
  private readonly voids: string[] = [];
  /** the term that went over the lookup limit, and the record it is in */
  private overLimit: { term: string; domain: string } | undefined;
  private stopped = false;
  private readonly findings: Finding[] = [];

  constructor(private readonly dns: CheckLookup) {}

  result(tree: SpfNode): SpfCheck {
    const findings = this.findings;
    if (this.overLimit) {
      const total = this.stopped ? `more than ${FOLLOW_LIMIT}` : String(this.lookups);
      findings.push(
        finding(
          'error',
          'SPF_TOO_MANY_LOOKUPS',
          `Evaluating the record takes ${total} DNS lookups (include, a, mx, ptr, exists, redirect), over the limit of ${SPF_MAX_LOOKUPS}: receivers return permerror, so SPF fails for all mail. ` +
            `Lookup ${SPF_MAX_LOOKUPS + 1} is ${this.overLimit.term} in the record of ${this.overLimit.domain}.`,
          this.overLimit.term,
        ),
      );
    }
    if (this.voids.length > SPF_MAX_VOID_LOOKUPS) {
      findings.push(
        finding(
          'error',
          'SPF_TOO_MANY_VOID_LOOKUPS',
          `${this.voids.length} lookups return no answer (limit ${SPF_MAX_VOID_LOOKUPS}, RFC 7208 §4.6.4): ${this.voids.join(', ')}. Receivers return permerror.`,
        ),
      );
    }
    const check: SpfCheck = { lookups: this.lookups, voidLookups: this.voids.length, findings: sortFindings(findings), tree };
    if (tree.record !== undefined) check.record = tree.record;
    return check;
  }

  /** Fetches and walks the record at domain. path: the domains above it, to catch loops. */
  async follow(domain: string, via: SpfNode['via'], path: readonly string[], qualifier?: SpfQualifier): Promise<SpfNode> {
    const node: SpfNode = { domain, via, lookups: 0, children: [] };
    if (qualifier) node.qualifier = qualifier;
    const context = via === 'root' ? '' : `${domain}: `;

    const txt = await this.dns.txt(domain, this.findings);
    if (!txt) {
      node.problem = 'lookup failed';
      return node;
    }
    const records = txt.filter(isSpfRecord);
    const bytes = txt.reduce((sum, record) => sum + Buffer.byteLength(record), 0);
    if (records.length > 0 && bytes > SPF_MAX_TXT_BYTES) {
      this.findings.push(
        finding('warning', 'SPF_TXT_TOO_LARGE', `${context}The TXT records at ${domain} total ${bytes} bytes, over ${SPF_MAX_TXT_BYTES}: the answer may not fit a UDP response, and some receivers fail on TCP fallback.`),
      );
    }
    if (records.length === 0) {
      if (via !== 'root' && txt.length === 0) this.voids.push(domain);
      node.problem = 'no SPF record';
      this.findings.push(noRecord(domain, via, txt.length));
      return node;
    }
    if (records.length > 1) {
      node.problem = 'several SPF records';
      this.findings.push(finding('error', 'SPF_MULTIPLE_RECORDS', `${domain} has ${records.length} SPF records; a domain must have exactly one, and receivers return permerror.`, domain));
      return node;
    }
    node.record = records[0]!;
    const parsed = parseSpfRecord(node.record);
    for (const f of parsed.findings) {
      // In an included record, "?all" or no "all" only means "not matched here": harmless to the includer.
      if (via === 'include' && (f.code === 'SPF_NEUTRAL_ALL' || f.code === 'SPF_NO_ALL')) continue;
      this.findings.push(context ? { ...f, message: context + f.message } : f);
    }
    await this.walk(node, parsed.terms ?? [], [...path, domain]);
    return node;
  }

  private async walk(node: SpfNode, terms: readonly SpfTerm[], path: readonly string[]): Promise<void> {
    let sawAll = false;
    for (const term of terms) {
      if (term.kind === 'modifier') continue;
      // A receiver stops at "all" (it always matches): what follows is never evaluated or counted.
      if (term.mechanism === 'all') {
        sawAll = true;
        break;
      }
      await this.mechanism(node, term, path);
    }
    const redirect = terms.find((term): term is SpfModifier => term.kind === 'modifier' && term.name === 'redirect');
    if (redirect && !sawAll) await this.redirect(node, redirect, path);
  }

  private async mechanism(node: SpfNode, term: SpfMechanism, path: readonly string[]): Promise<void> {
    if (!queriesDns(term)) return;
    if (!this.count(node, term.text)) return;
    if (term.macro) {
      this.findings.push(finding('info', 'SPF_MACRO_NOT_EVALUATED', `${term.text} uses macros, expanded per message by the receiver; its lookups are counted but not followed here.`, term.text));
      return;
    }
    const target = term.value ?? node.domain;
    switch (term.mechanism) {
      case 'include': {
        if (path.includes(target)) {
          this.findings.push(finding('error', 'SPF_INCLUDE_LOOP', `${term.text} in the record of ${node.domain} includes a record that includes it (${[...path, target].join(' → ')}): receivers return permerror.`, term.text));
          node.children.push({ domain: target, via: 'include', qualifier: term.qualifier, lookups: 0, children: [], problem: 'loop' });
          return;
        }
        node.children.push(await this.follow(target, 'include', path, term.qualifier));
        return;
      }
      case 'a':
      case 'exists': {
        const addresses = await this.dns.addresses(target, this.findings);
        if (addresses && addresses.length === 0) this.void(node, term, target, 'has no A/AAAA address');
        return;
      }
      case 'mx':
        await this.mx(node, term, target);
        return;
      case 'ptr':
        // Its lookups depend on the sender's address; nothing to ask here.
        return;
      default:
        return;
    }
  }

  private async mx(node: SpfNode, term: SpfMechanism, target: string): Promise<void> {
    const names = await this.dns.mx(target, this.findings);
    if (!names) return;
    if (names.length === 0) {
      this.void(node, term, target, 'has no MX record');
      return;
    }
    if (names.length > SPF_MAX_MX_NAMES) {
      this.findings.push(
        finding('error', 'SPF_TOO_MANY_MX', `${term.text} in the record of ${node.domain}: ${target} has ${names.length} MX names, over the limit of ${SPF_MAX_MX_NAMES} (RFC 7208 §4.6.4): receivers return permerror.`, term.text),
      );
    }
    // A receiver resolves each MX name to match the sender's address: names without one are dead weight.
    const hosts = names.slice(0, SPF_MAX_MX_NAMES).filter((name) => name !== '' && name !== '.');
    const answers = await Promise.all(hosts.map((host) => this.dns.addresses(host, this.findings, 'warning')));
    const empty = hosts.filter((_, index) => answers[index]?.length === 0);
    if (empty.length > 0) {
      this.findings.push(finding('warning', 'SPF_MX_NO_ADDRESS', `${term.text} in the record of ${node.domain}: the MX name(s) ${empty.join(', ')} have no A/AAAA address.`, term.text));
    }
  }

  private async redirect(node: SpfNode, redirect: SpfModifier, path: readonly string[]): Promise<void> {
    if (!this.count(node, redirect.text)) return;
    if (redirect.macro) {
      this.findings.push(finding('info', 'SPF_MACRO_NOT_EVALUATED', `${redirect.text} uses macros, expanded per message by the receiver; it is counted but not followed here.`, redirect.text));
      return;
    }
    const target = redirect.value.toLowerCase().replace(/\.$/, '');
    if (path.includes(target)) {
      this.findings.push(finding('error', 'SPF_REDIRECT_LOOP', `${redirect.text} in the record of ${node.domain} leads back to a record above it (${[...path, target].join(' → ')}): receivers return permerror.`, redirect.text));
      node.children.push({ domain: target, via: 'redirect', lookups: 0, children: [], problem: 'loop' });
      return;
    }
    node.children.push(await this.follow(target, 'redirect', path));
  }

  /** A term whose lookup came back empty: it can never match, and it counts toward the void limit. */
  private void(node: SpfNode, term: SpfMechanism, target: string, what: string): void {
    this.voids.push(`${term.text} (${target})`);
    this.findings.push(finding('warning', 'SPF_VOID_LOOKUP', `${term.text} in the record of ${node.domain}: ${target} ${what}, so it never matches; it counts toward the limit of ${SPF_MAX_VOID_LOOKUPS} void lookups.`, term.text));
  }

  /** Counts one DNS-querying term; false once following further would be pointless. */
  private count(node: SpfNode, term: string): boolean {
    if (this.lookups >= FOLLOW_LIMIT) {
      this.stopped = true;
      return false;
    }
    this.lookups++;
    node.lookups++;
    if (this.lookups === SPF_MAX_LOOKUPS + 1) this.overLimit = { term, domain: node.domain };
    return true;
  }
}

function noRecord(domain: string, via: SpfNode['via'], txtCount: number): Finding {
  const why = txtCount === 0 ? 'has no TXT record' : 'has TXT records but none starts with v=spf1';
  if (via === 'root') return finding('error', 'SPF_MISSING', `${domain} ${why}: receivers get SPF "none" and cannot authenticate its mail by SPF.`);
  if (via === 'include') return finding('error', 'SPF_INCLUDE_NO_RECORD', `include:${domain}: ${domain} ${why}; receivers return permerror.`, `include:${domain}`);
  return finding('error', 'SPF_REDIRECT_NO_RECORD', `redirect=${domain}: ${domain} ${why}; receivers return permerror.`, `redirect=${domain}`);
}
