// Everything the platform checks about one domain's published records: its DMARC policy (with the
// organizational domain's as fallback) and its SPF record. Every question goes through one
// CheckLookup, so a name the two checks share is asked once, and nothing here throws.
import { baseDomain, domainNameProblem, normaliseDomain } from './base-domain';
import { looksLikeDmarc, parseDmarcRecord, parseReportUri, truncate, type DmarcRecord } from './dmarc-record';
import { CheckLookup, type DnsLookup } from './dns-lookup';
import { distinctFindings, finding, sortFindings, type Finding } from './findings';
import { evaluateSpf, type SpfCheck } from './spf-evaluation';
import { isSpfRecord } from './spf-record';

export interface DmarcCheck {
  /** where the record that applies was found (the organizational domain's on fallback) */
  name: string;
  record?: DmarcRecord;
  /** the DMARC TXT records found at name */
  raw: string[];
  findings: Finding[];
}

export interface DnsCheck {
  domain: string;
  dmarc: DmarcCheck;
  spf: SpfCheck;
  /** all, most severe first */
  findings: Finding[];
  checkedAt: number;
}

export async function checkDomainDns(domain: string, dns: DnsLookup, now: () => number = Date.now): Promise<DnsCheck> {
  const name = normaliseDomain(domain);
  const problem = domainNameProblem(name);
  if (problem) {
    const invalid = finding('error', 'DOMAIN_INVALID', `"${truncate(domain)}" is not a domain name: ${problem}.`);
    return {
      domain: name,
      dmarc: { name: `_dmarc.${name}`, raw: [], findings: [] },
      spf: { lookups: 0, voidLookups: 0, findings: [], tree: { domain: name, via: 'root', lookups: 0, children: [], problem: 'invalid domain' } },
      findings: [invalid],
      checkedAt: now(),
    };
  }
  const lookup = new CheckLookup(dns);
  const [dmarc, spf] = await Promise.all([checkDmarc(name, lookup), evaluateSpf(name, lookup)]);
  dmarc.findings = sortFindings(dmarc.findings);
  spf.findings = sortFindings(spf.findings);
  return { domain: name, dmarc, spf, findings: distinctFindings(sortFindings([...dmarc.findings, ...spf.findings])), checkedAt: now() };
}

/** RFC 7489 §6.6.3 policy discovery, then checks on the record that applies. */
export async function checkDmarc(domain: string, lookup: CheckLookup): Promise<DmarcCheck> {
  const findings: Finding[] = [];
  const name = `_dmarc.${domain}`;
  const found = await dmarcRecordsAt(name, lookup, findings);
  if (!found) return { name, raw: [], findings };
  if (found.length > 1) return { name, raw: found, findings };
  if (found.length === 1) {
    const { record, findings: parsed } = parseDmarcRecord(found[0]!);
    findings.push(...parsed);
    const check: DmarcCheck = { name, raw: found, findings };
    if (record) {
      check.record = record;
      await checkReportDestinations(domain, record, lookup, findings);
    }
    return check;
  }

  await checkMisplacedRecord(domain, lookup, findings);
  const org = baseDomain(domain);
  if (!org || org === domain) {
    findings.push(finding('error', 'DMARC_MISSING', `No DMARC record at ${name}: receivers apply no DMARC policy and send no reports.`));
    return { name, raw: [], findings };
  }
  const orgName = `_dmarc.${org}`;
  const orgFindings: Finding[] = [];
  const orgFound = await dmarcRecordsAt(orgName, lookup, orgFindings);
  findings.push(...orgFindings);
  if (!orgFound) return { name, raw: [], findings };
  if (orgFound.length === 0) {
    findings.push(finding('error', 'DMARC_MISSING', `No DMARC record at ${name} nor at the organizational domain's ${orgName}: receivers apply no DMARC policy and send no reports.`));
    return { name, raw: [], findings };
  }
  if (orgFound.length > 1) return { name: orgName, raw: orgFound, findings };

  const { record, findings: parsed } = parseDmarcRecord(orgFound[0]!);
  findings.push(...parsed.map((f) => ({ ...f, message: `${orgName}: ${f.message}` })));
  const check: DmarcCheck = { name: orgName, raw: orgFound, findings };
  if (record) {
    const applied = record.sp ?? record.p;
    findings.push(
      finding(
        'info',
        'DMARC_ORG_FALLBACK',
        `No DMARC record at ${name}; the organizational domain's record at ${orgName} applies, with ${record.sp ? 'its sp' : 'its p'}=${applied} for this subdomain.`,
      ),
    );
    check.record = record;
    await checkReportDestinations(org, record, lookup, findings);
  }
  return check;
}

/** The DMARC records at name, or undefined when the lookup failed (already reported). */
async function dmarcRecordsAt(name: string, lookup: CheckLookup, findings: Finding[]): Promise<string[] | undefined> {
  const txt = await lookup.txt(name, findings);
  if (!txt) return undefined;
  const records = txt.filter(looksLikeDmarc);
  const unrelated = txt.filter((record) => !looksLikeDmarc(record));
  if (unrelated.some(isSpfRecord)) {
    findings.push(finding('warning', 'DMARC_SPF_AT_DMARC', `${name} has an SPF record where the DMARC record belongs; usually a wildcard or CNAME answers for _dmarc.`));
  } else if (unrelated.length > 0) {
    findings.push(finding('warning', 'DMARC_UNRELATED_TXT', `${name} has ${unrelated.length} TXT record(s) that are not DMARC ("${truncate(unrelated[0]!)}"); some receivers do not expect them.`));
  }
  if (records.length > 1) {
    findings.push(finding('error', 'DMARC_MULTIPLE_RECORDS', `${name} has ${records.length} DMARC records; receivers ignore them all (RFC 7489 §6.6.3) and apply no policy.`));
  }
  return records;
}

/** A v=DMARC1 record at the domain itself instead of _dmarc.<domain> is a common mistake worth naming. */
async function checkMisplacedRecord(domain: string, lookup: CheckLookup, findings: Finding[]): Promise<void> {
  const txt = await lookup.txt(domain, findings, 'warning');
  if (txt?.some(looksLikeDmarc)) {
    findings.push(finding('error', 'DMARC_WRONG_LOCATION', `${domain} publishes a DMARC record at the domain itself; it must be at _dmarc.${domain}, where receivers look.`));
  }
}

/**
 * RFC 7489 §7.1: reports go to a domain outside the policy's organization only if that domain
 * publishes <policy domain>._report._dmarc.<its domain>. And a mailbox needs a domain that takes mail.
 */
async function checkReportDestinations(policyDomain: string, record: DmarcRecord, lookup: CheckLookup, findings: Finding[]): Promise<void> {
  const destinations = new Map<string, Set<string>>();
  for (const tag of ['rua', 'ruf'] as const) {
    for (const uri of record[tag] ?? []) {
      const parsed = parseReportUri(uri);
      if (typeof parsed === 'string' || !parsed.domain) continue;
      const tags = destinations.get(parsed.domain) ?? new Set<string>();
      tags.add(tag);
      destinations.set(parsed.domain, tags);
    }
  }
  const policyOrg = baseDomain(policyDomain) ?? policyDomain;
  await Promise.all(
    [...destinations].map(async ([destination, tags]) => {
      const field = [...tags].join(',');
      if ((baseDomain(destination) ?? destination) !== policyOrg) {
        const authorization = `${policyDomain}._report._dmarc.${destination}`;
        if (!domainNameProblem(authorization)) {
          const txt = await lookup.txt(authorization, findings, 'warning');
          if (txt && !txt.some(looksLikeDmarc)) {
            findings.push(
              finding(
                'warning',
                'DMARC_REPORT_DESTINATION_UNVERIFIED',
                `${destination} has not authorized reports for ${policyDomain}: no v=DMARC1 record at ${authorization} (RFC 7489 §7.1), so receivers will not send ${field} reports there.`,
                field,
              ),
            );
          }
        }
      }
      const exchanges = await lookup.mx(destination, findings, 'warning');
      if (exchanges && exchanges.length === 0) {
        // No MX: mail still goes to the domain's own address (RFC 5321 §5.1), if it has one.
        const addresses = await lookup.addresses(destination, findings, 'warning');
        if (addresses && addresses.length === 0) {
          findings.push(finding('warning', 'DMARC_REPORT_DOMAIN_NO_MAIL', `${destination}, the domain of a ${field} address, has no MX record and no address: reports cannot be delivered.`, field));
        }
      }
    }),
  );
}
