export { baseDomain, domainNameProblem, normaliseDomain } from './base-domain';
export { looksLikeDmarc, parseDmarcRecord, parseReportUri, type DmarcPolicy, type DmarcRecord, type ReportUri } from './dmarc-record';
export { checkDmarc, checkDomainDns, type DmarcCheck, type DnsCheck } from './domain-check';
export { CheckLookup, type DnsLookup } from './dns-lookup';
export { distinctFindings, hasErrors, sortFindings, type Finding, type Severity } from './findings';
export {
  checkSpf,
  evaluateSpf,
  SPF_MAX_LOOKUPS,
  SPF_MAX_MX_NAMES,
  SPF_MAX_TXT_BYTES,
  SPF_MAX_VOID_LOOKUPS,
  type SpfCheck,
  type SpfNode,
} from './spf-evaluation';
export {
  isSpfRecord,
  parseSpfRecord,
  queriesDns,
  type SpfMechanism,
  type SpfMechanismName,
  type SpfModifier,
  type SpfQualifier,
  type SpfTerm,
} from './spf-record';
