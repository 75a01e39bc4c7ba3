// One SPF record (RFC 7208 §4.6, §5, §6): "v=spf1" then terms separated by spaces, each a mechanism
// with an optional qualifier or a name=value modifier. Parsing checks the syntax of every term so a
// record's mistakes are all reported at once, not only the first one a receiver trips over.
import { isIPv4, isIPv6 } from 'node:net';
import { domainNameProblem } from './base-domain';
import { finding, type Finding } from './findings';

export type SpfQualifier = '+' | '-' | '~' | '?';
export type SpfMechanismName = 'all' | 'include' | 'a' | 'mx' | 'ptr' | 'ip4' | 'ip6' | 'exists';

export interface SpfMechanism {
  kind: 'mechanism';
  qualifier: SpfQualifier;
  mechanism: SpfMechanismName;
  /** the domain-spec of include, a, mx, ptr, exists (may hold macros), or the network of ip4/ip6 */
  value?: string;
  /** the prefix lengths of ip4/ip6 and of a/mx ("a/24//64") */
  cidr4?: number;
  cidr6?: number;
  /** true when value holds macros, which only a receiver can expand */
  macro?: boolean;
  /** the term as written */
  text: string;
}

export interface SpfModifier {
  kind: 'modifier';
  name: string;
  value: string;
  macro?: boolean;
  text: string;
}

export type SpfTerm = SpfMechanism | SpfModifier;

const MECHANISMS: ReadonlySet<string> = new Set<SpfMechanismName>(['all', 'include', 'a', 'mx', 'ptr', 'ip4', 'ip6', 'exists']);
const NEEDS_DOMAIN: ReadonlySet<string> = new Set(['include', 'exists']);
const TAKES_DOMAIN: ReadonlySet<string> = new Set(['include', 'exists', 'a', 'mx', 'ptr']);
const DNS_MECHANISMS: ReadonlySet<string> = new Set(['include', 'a', 'mx', 'ptr', 'exists']);
const MODIFIER = /^([a-z][a-z0-9_.-]*)=(.*)$/is;
const MECHANISM = /^([+\-~?]?)([a-z][a-z0-9_.-]*)(.*)$/is;
/** %{letter transformers delimiters} / %% / %_ / %- (RFC 7208 §7.1); c, r and t only in exp. */
const MACRO_EXPAND = /%(\{([slodiphcrtv])(\d*)(r?)([-.+,/_=]*)\}|%|_|-)/gi;

/** True when a TXT record is an SPF version 1 record. */
export function isSpfRecord(txt: string): boolean {
  return /^v=spf1(\s|$)/i.test(txt);
}

/** Whether a term makes a receiver query DNS (and counts toward the 10-lookup limit, RFC 7208 §4.6.4). */
export function queriesDns(term: SpfTerm): boolean {
  return term.kind === 'mechanism' ? DNS_MECHANISMS.has(term.mechanism) : term.name === 'redirect';
}

export function parseSpfRecord(txt: string): { terms?: SpfTerm[]; findings: Finding[] } {
  const findings: Finding[] = [];
  if (!isSpfRecord(txt)) {
    findings.push(finding('error', 'SPF_NOT_SPF', `The record does not start with "v=spf1" (it starts "${short(txt)}").`));
    return { findings };
  }
  // RFC 7208 §12 (ASCII only) and §4.6.1 (terms separated by spaces): receivers differ on anything else.
  if (/[^\x20-\x7e]/.test(txt.replace(/\t/g, ' '))) {
    findings.push(finding('error', 'SPF_SYNTAX', 'The record contains characters outside printable ASCII.'));
  }
  if (/\t/.test(txt) || /^\s|\s$/.test(txt)) {
    findings.push(finding('info', 'SPF_WHITESPACE', 'The record has tabs or leading/trailing spaces; RFC 7208 separates terms by single spaces.'));
  }

  const terms: SpfTerm[] = [];
  const modifiers = new Set<string>();
  for (const text of txt.trim().split(/\s+/).slice(1)) {
    const term = parseTerm(text, findings);
    if (!term) continue;
    if (term.kind === 'modifier') {
      if ((term.name === 'redirect' || term.name === 'exp') && modifiers.has(term.name)) {
        findings.push(finding('error', 'SPF_DUPLICATE_MODIFIER', `${term.name}= appears more than once (permerror).`, term.text));
        continue;
      }
      modifiers.add(term.name);
    }
    terms.push(term);
  }
  findings.push(...adviseOn(terms));
  return { terms, findings };
}

function parseTerm(text: string, findings: Finding[]): SpfTerm | undefined {
  const modifier = MODIFIER.exec(text);
  if (modifier) {
    const name = modifier[1]!.toLowerCase();
    const value = modifier[2]!;
    const term: SpfModifier = { kind: 'modifier', name, value, text };
    if (name === 'redirect' || name === 'exp') {
      const problem = domainSpecProblem(value, name === 'exp');
      if (problem) {
        findings.push(finding('error', 'SPF_INVALID_DOMAIN', `${text}: ${problem} (permerror).`, text));
        return undefined;
      }
      if (value.includes('%')) term.macro = true;
    } else {
      findings.push(finding('warning', 'SPF_UNKNOWN_MODIFIER', `Unknown modifier "${name}="; receivers ignore it. Is it a typo?`, text));
    }
    return term;
  }

  const match = MECHANISM.exec(text);
  const name = match?.[2]?.toLowerCase();
  if (!match || !name || !MECHANISMS.has(name)) {
    findings.push(finding('error', 'SPF_UNKNOWN_MECHANISM', `"${short(text)}" is not an SPF mechanism or modifier (permerror).`, text));
    return undefined;
  }
  const mechanism = name as SpfMechanismName;
  const term: SpfMechanism = { kind: 'mechanism', qualifier: (match[1] || '+') as SpfQualifier, mechanism, text };
  const rest = match[3]!;
  const invalid = (code: string, why: string): undefined => {
    findings.push(finding('error', code, `${text}: ${why} (permerror).`, text));
    return undefined;
  };

  if (mechanism === 'all') return rest === '' ? term : invalid('SPF_SYNTAX', '"all" takes no argument');

  if (mechanism === 'ip4' || mechanism === 'ip6') {
    if (!rest.startsWith(':')) return invalid('SPF_SYNTAX', `${mechanism} needs an address, as in ${mechanism}:${mechanism === 'ip4' ? '192.0.2.0/24' : '2001:db8::/32'}`);
    const [network = '', length, extra] = rest.slice(1).split('/');
    const max = mechanism === 'ip4' ? 32 : 128;
    const isFamily = mechanism === 'ip4' ? isIPv4 : isIPv6;
    if (!isFamily(network)) {
      const hint = mechanism === 'ip4' && isIPv6(network) ? ' (an IPv6 address: use ip6:)' : mechanism === 'ip6' && isIPv4(network) ? ' (an IPv4 address: use ip4:)' : '';
      return invalid(mechanism === 'ip4' ? 'SPF_INVALID_IP4' : 'SPF_INVALID_IP6', `"${short(network)}" is not an IPv${mechanism === 'ip4' ? 4 : 6} address${hint}`);
    }
    term.value = network;
    if (extra !== undefined) return invalid('SPF_INVALID_CIDR', 'more than one prefix length');
    if (length !== undefined) {
      const cidr = prefixLength(length, max);
      if (cidr === undefined) return invalid('SPF_INVALID_CIDR', `"/${short(length)}" is not a prefix length from 0 to ${max}`);
      if (mechanism === 'ip4') term.cidr4 = cidr;
      else term.cidr6 = cidr;
    }
    return term;
  }

  // include, exists, a, mx, ptr: [":" domain-spec] then, for a and mx, [ip4-cidr]["//" ip6-cidr].
  let spec = rest;
  if (mechanism === 'a' || mechanism === 'mx') {
    const dual = /(?:\/(\d+))?(?:\/\/(\d+))?$/.exec(spec)!;
    if (dual[0] !== '') {
      spec = spec.slice(0, dual.index);
      if (dual[1] !== undefined) {
        const cidr = prefixLength(dual[1], 32);
        if (cidr === undefined) return invalid('SPF_INVALID_CIDR', `"/${dual[1]}" is not an IPv4 prefix length (0 to 32)`);
        term.cidr4 = cidr;
      }
      if (dual[2] !== undefined) {
        const cidr = prefixLength(dual[2], 128);
        if (cidr === undefined) return invalid('SPF_INVALID_CIDR', `"//${dual[2]}" is not an IPv6 prefix length (0 to 128)`);
        term.cidr6 = cidr;
      }
    }
  }
  if (spec === '') {
    if (NEEDS_DOMAIN.has(mechanism)) return invalid('SPF_SYNTAX', `${mechanism} needs a domain, as in ${mechanism}:example.com`);
    return term;
  }
  if (!spec.startsWith(':') || !TAKES_DOMAIN.has(mechanism)) return invalid('SPF_SYNTAX', `unexpected "${short(spec)}" after ${mechanism}`);
  const domain = spec.slice(1);
  const problem = domainSpecProblem(domain, false);
  if (problem) return invalid('SPF_INVALID_DOMAIN', problem);
  term.value = domain.includes('%') ? domain : domain.toLowerCase().replace(/\.$/, '');
  if (domain.includes('%')) term.macro = true;
  return term;
}

/** Why a domain-spec (RFC 7208 §7.1) is unusable, or undefined. Without macros it must be a host name. */
function domainSpecProblem(spec: string, isExp: boolean): string | undefined {
  if (spec === '') return 'the domain is empty';
  if (spec.includes('%')) {
    const literal = spec.replace(MACRO_EXPAND, (whole: string, _inner: string, letter?: string) =>
      letter && !isExp && /[crt]/i.test(letter) ? '\u0000' : whole.length > 0 ? 'x' : '',
    );
    if (literal.includes('\u0000')) return `"${short(spec)}" uses the %{c}, %{r} or %{t} macro, allowed only in exp=`;
    if (literal.includes('%')) return `"${short(spec)}" has a malformed macro (a "%" must start %{...}, %%, %_ or %-)`;
    return undefined;
  }
  const name = spec.toLowerCase().replace(/\.$/, '');
  const problem = domainNameProblem(name);
  return problem ? `"${short(spec)}" is not a valid domain: ${problem}` : undefined;
}

function prefixLength(text: string, max: number): number | undefined {
  // RFC 7208 §5.6: no leading zeros ("0" / %x31-39 0*1DIGIT).
  if (!/^(0|[1-9]\d{0,2})$/.test(text)) return undefined;
  const value = Number(text);
  return value <= max ? value : undefined;
}

/** Observations on a syntactically valid list of terms. */
function adviseOn(terms: readonly SpfTerm[]): Finding[] {
  const advice: Finding[] = [];
  const allIndex = terms.findIndex((term) => term.kind === 'mechanism' && term.mechanism === 'all');
  const all = allIndex >= 0 ? (terms[allIndex] as SpfMechanism) : undefined;
  const redirect = terms.find((term): term is SpfModifier => term.kind === 'modifier' && term.name === 'redirect');
  for (const term of terms) {
    if (term.kind === 'mechanism' && term.mechanism === 'ptr') {
      advice.push(finding('warning', 'SPF_PTR_DEPRECATED', `${term.text}: the ptr mechanism is slow and unreliable; RFC 7208 §5.5 says not to use it, and some receivers ignore it.`, term.text));
    }
  }
  if (all && all.qualifier === '+') {
    advice.push(finding('warning', 'SPF_PASS_ALL', `${all.text}: every host on the Internet passes SPF for this domain.`, all.text));
  } else if (all && all.qualifier === '?') {
    advice.push(finding('warning', 'SPF_NEUTRAL_ALL', `${all.text}: mail from any host gets "neutral", so SPF gives no protection.`, all.text));
  }
  if (all) {
    const after = terms.slice(allIndex + 1).filter((term) => term.kind === 'mechanism');
    if (after.length > 0) {
      advice.push(finding('warning', 'SPF_TERMS_AFTER_ALL', `Mechanisms after "${all.text}" are never evaluated: ${after.map((term) => term.text).join(' ')}.`, all.text));
    }
    if (redirect) {
      advice.push(finding('warning', 'SPF_REDIRECT_IGNORED', `${redirect.text} is ignored because the record has an "all" mechanism (RFC 7208 §6.1).`, redirect.text));
    }
  } else if (!redirect) {
    advice.push(finding('info', 'SPF_NO_ALL', 'The record has no "all" mechanism and no redirect=: mail from unlisted hosts gets "neutral". End it with ~all or -all.'));
  }
  return advice;
}

function short(text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
