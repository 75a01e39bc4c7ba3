import type { AlertEvidence, AlertSeverity, AlertSource } from '@dmarc/contracts';
import type { AlertRuleId } from './rule-settings';

export type Severity = Exclude<AlertSeverity, 'unknown'>;

/** How many sources and report ids an alert lists; the counts say how many there were. */
export const EVIDENCE_LIST_MAX = 50;

/** What a rule decided to raise, before the store deduplicates it against the window's alerts. */
export interface AlertCandidate {
  tenantId: string;
  domain: string;
  rule: AlertRuleId;
  severity: Severity;
  title: string;
  summary: string;
  evidence: AlertEvidence;
  /** The deduplication window (epoch ms, end exclusive) and its key: one alert per tenant, rule, domain and key. */
  windowStart: number;
  windowEnd: number;
  windowKey: string;
  detectedAt: number;
  /** new_source: the source keys the alert names, remembered as seen only if the alert is the window's one. */
  names?: ReadonlyArray<{ key: string; ip: string }>;
}

/** The window of `minutes` holding `at`, aligned on the epoch so every process computes the same one. */
export function dedupeWindow(at: number, minutes: number): { windowStart: number; windowEnd: number; windowKey: string } {
  const size = minutes * 60_000;
  const windowStart = Math.floor(at / size) * size;
  return { windowStart, windowEnd: windowStart + size, windowKey: new Date(windowStart).toISOString() };
}

/** Evidence with every field at its schema default; a rule fills in what it saw. */
export function emptyEvidence(): AlertEvidence {
  return {
    messages: 0,
    failingMessages: 0,
    failureRate: null,
    baselineRate: null,
    baselineMessages: null,
    thresholds: null,
    sources: [],
    sourceCount: 0,
    reportIds: [],
    days: [],
    dnsRecordType: null,
    dnsName: null,
    dnsPrevious: null,
    dnsCurrent: null,
    findings: [],
  };
}

/** Sources as evidence: most failing first, then by address, at most EVIDENCE_LIST_MAX. */
export function evidenceSources(sources: readonly AlertSource[]): AlertSource[] {
  return [...sources].sort((a, b) => b.failingMessages - a.failingMessages || b.messages - a.messages || (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0)).slice(0, EVIDENCE_LIST_MAX);
}

/** 1,250 rather than 1250: titles are read by people. */
export function count(n: number): string {
  return n.toLocaleString('en-US');
}

export function percent(rate: number): string {
  return `${(rate * 100).toFixed(1)} %`;
}
