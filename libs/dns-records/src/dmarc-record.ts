// One DMARC policy record (RFC 7489 §6.3, DMARCbis): tag=value pairs separated by semicolons, v=DMARC1
// first. Parsing is as lenient as receivers are (case of tags and keywords, spaces around = and ;,
// a trailing ;) and says plainly what a receiver would ignore or reject.
import { domainNameProblem } from './base-domain';
import { distinctFindings, finding, type Finding } from './findings';

export type DmarcPolicy = 'none' | 'quarantine' | 'reject';

export interface DmarcRecord {
  v: 'DMARC1';
  p: DmarcPolicy;
  sp?: DmarcPolicy;
  np?: DmarcPolicy;
  pct?: number;
  adkim?: 'r' | 's';
  aspf?: 'r' | 's';
  fo?: string;
  rf?: string;
  ri?: number;
  /** the report URIs as written, without their `!size` suffix */
  rua?: string[];
  ruf?: string[];
  t?: 'y' | 'n';
  psd?: 'y' | 'n' | 'u';
  raw: string;
}

export interface ReportUri {
  uri: string;
  scheme: string;
  /** the mailbox of a mailto: URI */
  address?: string;
  /** the domain of that mailbox, lower case */
  domain?: string;
  /** the `!size` suffix, e.g. "10m" */
  sizeLimit?: string;
}

const KNOWN_TAGS: ReadonlySet<string> = new Set(['v', 'p', 'sp', 'np', 'pct', 'adkim', 'aspf', 'fo', 'rf', 'ri', 'rua', 'ruf', 't', 'psd']);
/** Tags RFC 7489 defined and DMARCbis removed: still read, since pre-bis receivers honour them. */
const REMOVED_IN_BIS: ReadonlySet<string> = new Set(['pct', 'rf', 'ri']);
const VERSION = /^v\s*=\s*([^\s,]*)(.*)$/is;
const TAG = /^([a-z][a-z0-9_]*)\s*=\s*(.*)$/is;
const MAX_REPORT_URIS = 2;

/** True when a TXT record is meant as a DMARC record (however badly its version is written). */
export function looksLikeDmarc(txt: string): boolean {
  return /^\s*v\s*=\s*dmarc1\b/i.test(txt);
}

export function parseDmarcRecord(txt: string): { record?: DmarcRecord; findings: Finding[] } {
  const findings: Finding[] = [];
  if (/^\s/.test(txt)) {
    findings.push(finding('warning', 'DMARC_LEADING_WHITESPACE', 'The record starts with white space; some receivers do not recognise it as a DMARC record.'));
  }
  const parts = txt.split(';').map((part) => part.trim());
  // Receivers tolerate a trailing ";" and empty parts; only the content matters.
  const tags = parts.filter((part) => part.length > 0);
  if (tags.length === 0) {
    findings.push(finding('error', 'DMARC_EMPTY_RECORD', 'The record is empty.'));
    return { findings };
  }

  const version = VERSION.exec(tags[0]!);
  if (!version) {
    const vLater = tags.some((tag) => /^v\s*=/i.test(tag));
    findings.push(
      vLater
        ? finding('error', 'DMARC_VERSION_NOT_FIRST', 'v=DMARC1 must be the first tag; receivers ignore this record.', 'v')
        : finding('error', 'DMARC_MISSING_VERSION', `The record does not start with v=DMARC1 (it starts "${truncate(tags[0]!)}"); receivers ignore it.`, 'v'),
    );
    return { findings };
  }
  if (version[1] !== 'DMARC1') {
    findings.push(finding('error', 'DMARC_BAD_VERSION', `The version must be exactly "DMARC1", not "${version[1]}"; receivers ignore this record.`, 'v'));
    return { findings };
  }
  if (version[2]!.trim() !== '') {
    // "v=DMARC1 p=reject" or "v=DMARC1, p=reject": the version tag swallows the rest, so receivers see no policy.
    findings.push(finding('error', 'DMARC_SYNTAX', `Tags must be separated by ";": "${truncate(tags[0]!)}" is read as one version tag, and receivers ignore the record.`, 'v'));
    return { findings };
  }

  const values = new Map<string, string>();
  const order: string[] = [];
  for (const part of tags.slice(1)) {
    const match = TAG.exec(part);
    if (!match) {
      findings.push(finding('error', 'DMARC_SYNTAX', `"${truncate(part)}" is not a tag=value pair; receivers ignore it.`));
      continue;
    }
    const tag = match[1]!.toLowerCase();
    const value = match[2]!.trim();
    if (tag === 'v') {
      findings.push(finding('error', 'DMARC_DUPLICATE_TAG', 'The v tag appears more than once.', 'v'));
      continue;
    }
    if (!KNOWN_TAGS.has(tag)) {
      findings.push(finding('warning', 'DMARC_UNKNOWN_TAG', `Unknown tag "${tag}" (value "${truncate(value)}"); receivers ignore it. Is it a typo?`, tag));
      continue;
    }
    if (values.has(tag)) {
      findings.push(finding('error', 'DMARC_DUPLICATE_TAG', `The ${tag} tag appears more than once; only its first value "${truncate(values.get(tag)!)}" is used here, and receivers may reject the record.`, tag));
      continue;
    }
    values.set(tag, value);
    order.push(tag);
  }

  const record: Omit<DmarcRecord, 'p'> & { p?: DmarcPolicy } = { v: 'DMARC1', raw: txt };
  const bad = (tag: string, value: string, expected: string): void => {
    const hint = /\s[a-z]+\s*=/i.test(value) ? ' (a missing ";" before the next tag?)' : '';
    findings.push(finding('error', 'DMARC_INVALID_TAG_VALUE', `${tag}=${truncate(value)} is not valid: expected ${expected}${hint}. Receivers use the default instead.`, tag));
  };
  const keyword = <T extends string>(tag: string, allowed: readonly T[]): T | undefined => {
    const value = values.get(tag);
    if (value === undefined) return undefined;
    const lower = value.toLowerCase();
    if ((allowed as readonly string[]).includes(lower)) return lower as T;
    bad(tag, value, allowed.join(', '));
    return undefined;
  };

  const policies = ['none', 'quarantine', 'reject'] as const;
  const pValue = values.get('p');
  const p = keyword('p', policies);
  const sp = keyword('sp', policies);
  const np = keyword('np', policies);
  if (sp) record.sp = sp;
  if (np) record.np = np;
  const adkim = keyword('adkim', ['r', 's'] as const);
  if (adkim) record.adkim = adkim;
  const aspf = keyword('aspf', ['r', 's'] as const);
  if (aspf) record.aspf = aspf;
  const t = keyword('t', ['y', 'n'] as const);
  if (t) record.t = t;
  const psd = keyword('psd', ['y', 'n', 'u'] as const);
  if (psd) record.psd = psd;

  const pct = values.get('pct');
  if (pct !== undefined) {
    if (/^\d{1,3}$/.test(pct) && Number(pct) <= 100) record.pct = Number(pct);
    else bad('pct', pct, 'an integer from 0 to 100');
  }
  const ri = values.get('ri');
  if (ri !== undefined) {
    if (/^\d{1,10}$/.test(ri) && Number(ri) <= 0xffffffff) record.ri = Number(ri);
    else bad('ri', ri, 'a number of seconds (a non-negative integer)');
  }
  const fo = values.get('fo');
  if (fo !== undefined) {
    const options = fo.split(':').map((option) => option.trim().toLowerCase());
    const wrong = options.filter((option) => !['0', '1', 'd', 's'].includes(option));
    if (wrong.length > 0) bad('fo', fo, 'a colon-separated list of 0, 1, d and s');
    else if (options.includes('0') && options.includes('1')) bad('fo', fo, '0 or 1, not both');
    else record.fo = options.join(':');
  }
  const rf = values.get('rf');
  if (rf !== undefined) {
    const formats = rf.split(':').map((format) => format.trim().toLowerCase());
    if (formats.every((format) => /^[a-z][a-z0-9-]*$/.test(format))) {
      record.rf = formats.join(':');
      if (!formats.includes('afrf')) {
        findings.push(finding('warning', 'DMARC_UNSUPPORTED_REPORT_FORMAT', `rf=${truncate(rf)}: afrf is the only failure report format receivers produce.`, 'rf'));
      }
    } else {
      bad('rf', rf, 'a colon-separated list of report formats (afrf)');
    }
  }

  for (const tag of ['rua', 'ruf'] as const) {
    const value = values.get(tag);
    if (value === undefined) continue;
    const uris = parseReportUris(tag, value, findings);
    if (uris.length > 0) record[tag] = uris.map((uri) => uri.uri);
    if (uris.length > MAX_REPORT_URIS) {
      findings.push(finding('info', 'DMARC_MANY_REPORT_URIS', `${tag} lists ${uris.length} URIs; some receivers send to the first ${MAX_REPORT_URIS} only.`, tag));
    }
  }

  let policy = p;
  if (!policy) {
    const what = pValue === undefined ? 'has no p tag' : `has an invalid p tag`;
    if (record.rua && record.rua.length > 0) {
      // RFC 7489 §6.6.3: a record with a valid rua but no valid p is applied as p=none, so reports still flow.
      findings.push(finding('warning', 'DMARC_MISSING_POLICY', `The record ${what}; since it has a valid rua, receivers treat it as p=none (RFC 7489 §6.6.3).`, 'p'));
      policy = 'none';
    } else {
      findings.push(finding('error', 'DMARC_MISSING_POLICY', `The record ${what} and no valid rua; RFC 7489 receivers ignore it (DMARCbis receivers treat it as p=none).`, 'p'));
      return { findings };
    }
  }
  const full: DmarcRecord = { ...record, p: policy };
  findings.push(...adviseOn(full, order));
  return { record: full, findings: distinctFindings(findings) };
}

/** Observations on a record that parses: policies that do not protect, tags receivers drop, missing reports. */
function adviseOn(record: DmarcRecord, order: readonly string[]): Finding[] {
  const advice: Finding[] = [];
  if (order.includes('p') && order[0] !== 'p') {
    advice.push(finding('info', 'DMARC_POLICY_NOT_SECOND', 'p is not the tag right after v; RFC 7489 requires that order and some older receivers rely on it.', 'p'));
  }
  if (record.p === 'none') {
    advice.push(finding('warning', 'DMARC_POLICY_NONE', 'p=none: receivers take no action on mail that fails DMARC (monitoring only).', 'p'));
  }
  if (record.sp === 'none' && record.p !== 'none') {
    advice.push(finding('warning', 'DMARC_SUBDOMAIN_POLICY_NONE', `sp=none leaves subdomains unprotected although p=${record.p}.`, 'sp'));
  }
  if (record.np === 'none' && record.p !== 'none') {
    advice.push(finding('warning', 'DMARC_NONEXISTENT_POLICY_NONE', `np=none leaves non-existent subdomains unprotected although p=${record.p}.`, 'np'));
  }
  if (record.pct !== undefined && record.pct < 100) {
    advice.push(finding('warning', 'DMARC_PARTIAL_PCT', `pct=${record.pct}: RFC 7489 receivers apply the policy to ${record.pct}% of failing mail only; DMARCbis removed pct (use t=y to test).`, 'pct'));
  }
  for (const tag of REMOVED_IN_BIS) {
    if (order.includes(tag)) advice.push(finding('info', 'DMARC_TAG_REMOVED', `The ${tag} tag was removed in DMARCbis; newer receivers ignore it.`, tag));
  }
  if (record.t === 'y' && record.p !== 'none') {
    advice.push(finding('info', 'DMARC_TEST_MODE', `t=y: receivers are asked not to apply p=${record.p} yet (test mode).`, 't'));
  }
  if (!record.rua) {
    advice.push(finding('warning', 'DMARC_NO_RUA', 'No rua tag: no aggregate reports will be sent, so there is nothing to monitor.', 'rua'));
  }
  if (record.fo !== undefined && !record.ruf) {
    advice.push(finding('info', 'DMARC_FO_WITHOUT_RUF', 'fo has no effect without a ruf tag.', 'fo'));
  }
  if (record.ruf) {
    advice.push(finding('info', 'DMARC_RUF_LIMITED', 'Few receivers send failure (ruf) reports, and those carry message content: check it is wanted.', 'ruf'));
  }
  return advice;
}

/** Splits a rua/ruf value into URIs (RFC 7489 §6.2: URI [ "!" size [k|m|g|t] ]), reporting the ones receivers cannot use. */
export function parseReportUris(tag: string, value: string, findings: Finding[]): ReportUri[] {
  const uris: ReportUri[] = [];
  if (value.trim() === '') {
    findings.push(finding('error', 'DMARC_INVALID_REPORT_URI', `${tag} is empty.`, tag));
    return uris;
  }
  for (const item of value.split(',')) {
    const text = item.trim();
    const parsed = parseReportUri(text);
    if (typeof parsed === 'string') {
      findings.push(finding('error', 'DMARC_INVALID_REPORT_URI', `${tag} URI "${truncate(text)}" is not valid: ${parsed}.`, tag));
      continue;
    }
    if (parsed.sizeLimit) {
      findings.push(finding('info', 'DMARC_REPORT_SIZE_LIMIT', `${tag} URI "${truncate(text)}": DMARCbis dropped the !size limit; older receivers may still send reports cut short or none.`, tag));
    }
    if (parsed.scheme !== 'mailto') {
      findings.push(finding('warning', 'DMARC_REPORT_URI_NOT_MAILTO', `${tag} URI "${truncate(text)}" uses ${parsed.scheme}:; receivers only have to support mailto:, so most will not send there.`, tag));
    }
    uris.push(parsed);
  }
  return uris;
}

/** One report URI, or the reason it is not one. */
export function parseReportUri(text: string): ReportUri | string {
  if (text === '') return 'it is empty';
  let uri = text;
  let sizeLimit: string | undefined;
  const size = /!(\d+[kmgt]?)$/i.exec(uri);
  if (size) {
    sizeLimit = size[1]!.toLowerCase();
    uri = uri.slice(0, size.index);
  } else if (uri.includes('!')) {
    return 'a "!" must be followed by a size such as 10m';
  }
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(uri);
  if (!scheme) return 'it has no scheme (write mailto:address)';
  if (/\s/.test(uri)) return 'it contains white space';
  const result: ReportUri = { uri, scheme: scheme[1]!.toLowerCase() };
  if (sizeLimit) result.sizeLimit = sizeLimit;
  if (result.scheme !== 'mailto') return result;

  const address = safeDecode(uri.slice(scheme[0].length).split('?', 1)[0]!);
  if (address === undefined) return 'it has a broken %-escape';
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return `"${truncate(address)}" is not a mail address`;
  const domain = address.slice(at + 1).toLowerCase().replace(/\.$/, '');
  const problem = domainNameProblem(domain);
  if (problem) return `the domain "${truncate(domain)}" is not valid: ${problem}`;
  result.address = address;
  result.domain = domain;
  return result;
}

function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

export function truncate(text: string, max = 60): string {
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}
