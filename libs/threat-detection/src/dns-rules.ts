// The DNS-weakened rule: a pure function of one dmarc.dns.changes message and the tenant's settings. What counts
// is the protection a receiver applies, so the records are parsed as receivers read them (@dmarc/dns-records).
import type { DnsChange } from '@dmarc/contracts';
import { parseDmarcRecord, parseSpfRecord, type DmarcPolicy } from '@dmarc/dns-records';
import { type AlertCandidate, dedupeWindow, emptyEvidence, type Severity } from './alert-candidate';
import type { RuleSettings } from './rule-settings';

const STRENGTH: Readonly<Record<DmarcPolicy, number>> = { none: 0, quarantine: 1, reject: 2 };
const SEVERITY_RANK: Readonly<Record<Severity, number>> = { low: 0, medium: 1, high: 2, critical: 3 };

interface Weakening {
  finding: string;
  severity: Severity;
}

/**
 * An alert when the change weakened the domain's protection: its DMARC record removed or made unreadable, p or sp
 * lowered, pct cut by minPctDrop or more while the policy enforces; its SPF record removed, broken (a receiver's
 * permerror) or opened to any sender (+all, ?all). A record that was not in force before (absent, invalid) cannot
 * be weakened; DKIM changes are not this rule's. The window is the change's detection time's, so a re-delivered
 * change falls in the same window and raises nothing new.
 */
export function evaluateDnsChange(change: DnsChange, settings: RuleSettings): AlertCandidate | undefined {
  const rule = settings.dns_weakened;
  if (!rule.enabled) return undefined;
  const weakenings =
    change.recordType === 'DMARC' ? dmarcWeakenings(change, rule.thresholds.minPctDrop) : change.recordType === 'SPF' ? spfWeakenings(change) : [];
  if (weakenings.length === 0) return undefined;
  const severity = weakenings.reduce<Severity>((worst, w) => (SEVERITY_RANK[w.severity] > SEVERITY_RANK[worst] ? w.severity : worst), 'low');
  const findings = weakenings.map((w) => w.finding);
  return {
    tenantId: change.tenantId,
    domain: change.domain,
    rule: 'dns_weakened',
    severity,
    detectedAt: change.detectedAt,
    ...dedupeWindow(change.detectedAt, rule.thresholds.dedupeMinutes),
    title: `${change.recordType} protection of ${change.domain} weakened: ${findings[0]}${findings.length > 1 ? ` (+${findings.length - 1} more)` : ''}`,
    summary:
      `The ${change.recordType} record at ${change.name} changed: ${findings.join('; ')}. ` +
      'If nobody on your side meant to change it, restore the previous record (in the evidence) and check who can edit the zone.',
    evidence: {
      ...emptyEvidence(),
      dnsRecordType: change.recordType,
      dnsName: change.name,
      dnsPrevious: change.previous,
      dnsCurrent: change.current,
      findings,
      thresholds: JSON.stringify(rule.thresholds),
    },
  };
}

function dmarcWeakenings(change: DnsChange, minPctDrop: number): Weakening[] {
  const before = change.previous === null ? undefined : parseDmarcRecord(change.previous).record;
  if (!before) return [];
  if (change.current === null) return [{ finding: 'DMARC record removed', severity: 'critical' }];
  const parsed = parseDmarcRecord(change.current);
  if (!parsed.record) {
    const why = parsed.findings.find((f) => f.severity === 'error')?.message ?? 'receivers ignore it';
    return [{ finding: `DMARC record no longer valid: ${why}`, severity: 'critical' }];
  }
  const after = parsed.record;
  const out: Weakening[] = [];
  if (STRENGTH[after.p] < STRENGTH[before.p]) out.push({ finding: `p lowered from ${before.p} to ${after.p}`, severity: 'high' });
  // sp defaults to p: compare what receivers apply to subdomains, and say it only when p's line did not already.
  const spBefore = before.sp ?? before.p;
  const spAfter = after.sp ?? after.p;
  if (STRENGTH[spAfter] < STRENGTH[spBefore] && (before.sp !== undefined || after.sp !== undefined)) {
    out.push({ finding: `sp lowered from ${spBefore} to ${spAfter}`, severity: 'medium' });
  }
  // pct only matters where the policy enforces something.
  const pctBefore = before.pct ?? 100;
  const pctAfter = after.pct ?? 100;
  if (after.p !== 'none' && pctBefore - pctAfter >= minPctDrop) {
    out.push({ finding: `pct cut from ${pctBefore} to ${pctAfter}`, severity: pctAfter === 0 ? 'high' : 'medium' });
  }
  return out;
}

function spfWeakenings(change: DnsChange): Weakening[] {
  if (change.previous === null || !spfHealth(change.previous).valid) return [];
  if (change.current === null) return [{ finding: 'SPF record removed', severity: 'high' }];
  const now = spfHealth(change.current);
  if (!now.valid) return [{ finding: `SPF record broken: ${now.error}`, severity: 'high' }];
  if (now.allowsAll && !spfHealth(change.previous).allowsAll) return [{ finding: `SPF record allows any sender (${now.allowsAll})`, severity: 'high' }];
  return [];
}

function spfHealth(text: string): { valid: boolean; error?: string; allowsAll?: string } {
  const parsed = parseSpfRecord(text);
  const error = parsed.findings.find((f) => f.severity === 'error');
  if (!parsed.terms || error) return { valid: false, error: error?.message ?? 'not an SPF record' };
  const all = parsed.terms.find((t) => t.kind === 'mechanism' && t.mechanism === 'all' && (t.qualifier === '+' || t.qualifier === '?'));
  return { valid: true, allowsAll: all?.text };
}

/** A DNS update the platform made for a domain that failed for good (the DNS autopilot's last attempt). */
export interface DnsUpdateFailure {
  tenantId: string;
  domain: string;
  severity: Severity;
  /** One line for a person: what failed. */
  summary: string;
  /** What a person needs to act, one short line each: the job, the server, the error. */
  findings: string[];
  recordType?: 'DMARC' | 'SPF';
  dnsName?: string | null;
  /** The record in DNS, and the one the update tried to write. */
  dnsPrevious?: string | null;
  dnsCurrent?: string | null;
  /** When it failed (epoch ms): the dedupe window is this time's. */
  failedAt: number;
}

/**
 * The DNS autopilot's alert of an update that failed for good (@dmarc/dns-update's DnsAlert: its evidence names the
 * record, what it tried to write and the error) as the failure the dns_update_failed rule raises: every evidence field
 * a finding line, the record a DMARC record at `_dmarc.<domain>` unless the evidence names it.
 */
export function dnsUpdateFailureOf(
  alert: { tenantId: string; domain: string; severity: Severity; summary: string; evidence: Readonly<Record<string, unknown>> },
  failedAt: number,
): DnsUpdateFailure {
  const e = alert.evidence as { name?: string; record?: string };
  return {
    tenantId: alert.tenantId,
    domain: alert.domain,
    severity: alert.severity,
    summary: alert.summary,
    findings: Object.entries(alert.evidence)
      .filter(([, v]) => v !== null && v !== undefined)
      .map(([k, v]) => `${k}: ${String(v)}`),
    recordType: 'DMARC',
    dnsName: e.name ?? `_dmarc.${alert.domain}`,
    dnsCurrent: e.record ?? null,
    failedAt,
  };
}

/** The dns_update_failed alert of a failure, unless the tenant disabled the rule; deduplicated like the others. */
export function dnsUpdateFailedAlert(failure: DnsUpdateFailure, settings: RuleSettings): AlertCandidate | undefined {
  const rule = settings.dns_update_failed;
  if (!rule.enabled) return undefined;
  return {
    tenantId: failure.tenantId,
    domain: failure.domain,
    rule: 'dns_update_failed',
    severity: failure.severity,
    detectedAt: failure.failedAt,
    ...dedupeWindow(failure.failedAt, rule.thresholds.dedupeMinutes),
    title: `DNS update of ${failure.domain} failed`,
    summary: failure.summary,
    evidence: {
      ...emptyEvidence(),
      dnsRecordType: failure.recordType ?? 'DMARC',
      dnsName: failure.dnsName ?? null,
      dnsPrevious: failure.dnsPrevious ?? null,
      dnsCurrent: failure.dnsCurrent ?? null,
      findings: failure.findings,
      thresholds: JSON.stringify(rule.thresholds),
    },
  };
}
