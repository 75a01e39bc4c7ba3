import { ReportError } from '../errors';
import type { RepairLog } from '../repair-log';

/** An SMTP TLS report (RFC 8460 §4), normalised: camelCase names, lists always lists, absent fields null. */
export interface TlsReport {
  readonly kind: 'tls';
  readonly organizationName: string;
  readonly dateRange: { readonly begin: string; readonly end: string };
  readonly contactInfo: string | null;
  readonly reportId: string;
  readonly policies: readonly TlsPolicy[];
  readonly repairs: readonly string[];
}

export interface TlsPolicy {
  /** sts, tlsa, or no-policy-found. */
  readonly policyType: string;
  readonly policyString: readonly string[];
  readonly policyDomain: string;
  readonly mxHost: readonly string[];
  readonly totalSuccessfulSessionCount: number;
  readonly totalFailureSessionCount: number;
  readonly failureDetails: readonly TlsFailureDetail[];
}

export interface TlsFailureDetail {
  readonly resultType: string;
  readonly sendingMtaIp: string | null;
  readonly receivingMxHostname: string | null;
  readonly receivingMxHelo: string | null;
  readonly receivingIp: string | null;
  readonly failedSessionCount: number;
  readonly additionalInformation: string | null;
  readonly failureReasonCode: string | null;
}

type Json = Record<string, unknown>;

/** Parses the JSON text of a TLS report; JSON that is not one is refused as unsupported, not as invalid. */
export function parseTlsReport(text: string, repairs: RepairLog): TlsReport {
  let doc: unknown;
  try {
    doc = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (err) {
    throw new ReportError('REPORT_JSON_INVALID', `JSON does not parse: ${(err as Error).message}`, { cause: err });
  }
  if (!isObject(doc) || (!('policies' in doc) && !('organization-name' in doc))) {
    throw new ReportError('REPORT_UNSUPPORTED_CONTENT', 'JSON is not an SMTP TLS report (no "policies", no "organization-name")');
  }
  const dateRange = object(doc, 'date-range', 'date-range');
  const policies = list(doc, 'policies', 'policies');
  return {
    kind: 'tls',
    organizationName: requiredString(doc, 'organization-name', 'organization-name'),
    dateRange: {
      begin: dateTime(dateRange, 'start-datetime', 'date-range.start-datetime'),
      end: dateTime(dateRange, 'end-datetime', 'date-range.end-datetime'),
    },
    contactInfo: optionalString(doc, 'contact-info', 'contact-info'),
    reportId: requiredString(doc, 'report-id', 'report-id'),
    policies: policies.map((entry, i) => readPolicy(entry, `policies[${i}]`)),
    repairs: repairs.list(),
  };
}

function readPolicy(entry: unknown, where: string): TlsPolicy {
  if (!isObject(entry)) throw invalid(where, 'is not an object');
  const policy = object(entry, 'policy', `${where}.policy`);
  const summary = object(entry, 'summary', `${where}.summary`);
  const details = entry['failure-details'] === undefined ? [] : list(entry, 'failure-details', `${where}.failure-details`);
  return {
    policyType: requiredString(policy, 'policy-type', `${where}.policy.policy-type`),
    policyString: stringList(policy, 'policy-string', `${where}.policy.policy-string`),
    policyDomain: requiredString(policy, 'policy-domain', `${where}.policy.policy-domain`).toLowerCase(),
    mxHost: stringList(policy, 'mx-host', `${where}.policy.mx-host`),
    totalSuccessfulSessionCount: count(summary, 'total-successful-session-count', `${where}.summary`),
    totalFailureSessionCount: count(summary, 'total-failure-session-count', `${where}.summary`),
    failureDetails: details.map((detail, i) => readFailure(detail, `${where}.failure-details[${i}]`)),
  };
}

function readFailure(detail: unknown, where: string): TlsFailureDetail {
  if (!isObject(detail)) throw invalid(where, 'is not an object');
  return {
    resultType: requiredString(detail, 'result-type', `${where}.result-type`),
    sendingMtaIp: optionalString(detail, 'sending-mta-ip', `${where}.sending-mta-ip`),
    receivingMxHostname: optionalString(detail, 'receiving-mx-hostname', `${where}.receiving-mx-hostname`),
    receivingMxHelo: optionalString(detail, 'receiving-mx-helo', `${where}.receiving-mx-helo`),
    receivingIp: optionalString(detail, 'receiving-ip', `${where}.receiving-ip`),
    failedSessionCount: count(detail, 'failed-session-count', where),
    additionalInformation: optionalString(detail, 'additional-information', `${where}.additional-information`),
    failureReasonCode: optionalString(detail, 'failure-reason-code', `${where}.failure-reason-code`),
  };
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function object(doc: Json, key: string, where: string): Json {
  const value = doc[key];
  if (value === undefined) throw missing(where);
  if (!isObject(value)) throw invalid(where, 'is not an object');
  return value;
}

function list(doc: Json, key: string, where: string): unknown[] {
  const value = doc[key];
  if (value === undefined) throw missing(where);
  if (!Array.isArray(value)) throw invalid(where, 'is not a list');
  return value;
}

function requiredString(doc: Json, key: string, where: string): string {
  const value = optionalString(doc, key, where);
  if (value === null) throw missing(where);
  return value;
}

function optionalString(doc: Json, key: string, where: string): string | null {
  const value = doc[key];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw invalid(where, 'is not a string');
  const trimmed = value.trim();
  return trimmed === '' ? null : trimmed;
}

/** Always a list: RFC 8460's own example writes mx-host as one string, its schema as a list. */
function stringList(doc: Json, key: string, where: string): string[] {
  const value = doc[key];
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') return [value];
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) throw invalid(where, 'is not a list of strings');
  return value as string[];
}

function count(doc: Json, key: string, where: string): number {
  const value = doc[key];
  if (value === undefined) throw missing(`${where}.${key}`);
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalid(`${where}.${key}`, 'is not a whole number');
  }
  return value;
}

function dateTime(doc: Json, key: string, where: string): string {
  const text = requiredString(doc, key, where);
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw invalid(where, `"${text.slice(0, 40)}" is not a date-time`);
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

function missing(where: string): ReportError {
  return new ReportError('REPORT_FIELD_MISSING', `TLS report field ${where} is missing`, { field: where });
}

function invalid(where: string, reason: string): ReportError {
  return new ReportError('REPORT_FIELD_INVALID', `TLS report field ${where} ${reason}`, { field: where });
}
