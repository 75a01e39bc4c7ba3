// The rules over report chunks: pure functions of what the chunks carried, what the domain's counters and
// memory say, the tenant's settings and the clock. No database, no bus: the detector loads and stores.
import type { AlertSource } from '@dmarc/contracts';
import { type AlertCandidate, count, dedupeWindow, emptyEvidence, EVIDENCE_LIST_MAX, evidenceSources, percent, type Severity } from './alert-candidate';
import type { DomainTraffic, SourceTraffic } from './chunk-traffic';
import type { AlertRuleId, RuleSettings } from './rule-settings';
import { sourceKey } from './source-identity';

/** Whether a source is approved for the domain (by address, network, or PTR base domain). */
export type SourceApproval = (source: { ip: string; baseDomain: string | null }) => boolean;

export interface DayTotals {
  messages: number;
  failing: number;
}

/** What the store knows of a domain beyond the chunks at hand. */
export interface DomainHistory {
  approved: SourceApproval;
  /** Source keys already seen for the domain (alert_seen_sources). */
  seenKeys: Pick<ReadonlySet<string>, 'has'>;
  /** The key of each of the traffic's sources, in their order, with the tenant's settings (computed when absent). */
  sourceKeys?: readonly string[];
  /** The domain brought more never-seen sources than its hourly budget: the new-source rule rests until the next hour. */
  newSourcesPaused?: boolean;
  /** The domain's new-source alert of the current window is raised: another would be swallowed, so none is built. */
  newSourceAlerted?: boolean;
  /** The same for its spoofing alert. */
  spoofingAlerted?: boolean;
  /** Per report day of the traffic: its sources with failing mail, from the counters (these chunks included). */
  failingSourcesByDay: ReadonlyMap<string, readonly SourceTraffic[]>;
  /** Per day: the domain's totals, from the earliest baseline day to the latest report day. Days without mail are absent. */
  totalsByDay: ReadonlyMap<string, DayTotals>;
}

export interface ChunkRuleInput {
  traffic: DomainTraffic;
  history: DomainHistory;
  settings: RuleSettings;
  now: number;
}

export interface ChunkRuleResult {
  alerts: AlertCandidate[];
  /** Source keys to remember as seen whatever happens to the alerts: sources that sent aligned mail. */
  seen: Array<{ key: string; ip: string }>;
}

/** Runs every enabled chunk rule over one domain's traffic. */
export function evaluateChunkRules(input: ChunkRuleInput): ChunkRuleResult {
  const alerts: AlertCandidate[] = [];
  const spoofing = input.settings.spoofing.enabled ? spoofingAlert(input) : undefined;
  if (spoofing) alerts.push(spoofing);
  const fresh = input.settings.new_source.enabled ? newSources(input) : { alert: undefined, seen: [] };
  if (fresh.alert) alerts.push(fresh.alert);
  const spike = input.settings.failure_spike.enabled ? failureSpikeAlert(input) : undefined;
  if (spike) alerts.push(spike);
  return { alerts, seen: fresh.seen };
}

/**
 * Spoofing: in a report day of these chunks, mail failing both DKIM and SPF alignment from sources not approved
 * for the domain reached minMessages. Counted over the whole day (every report so far), so a campaign spread
 * over many reports or many addresses is caught; evaluated only when these chunks carried such mail.
 */
function spoofingAlert({ traffic, history, settings, now }: ChunkRuleInput): AlertCandidate | undefined {
  const { minMessages, dedupeMinutes } = settings.spoofing.thresholds;
  if (history.spoofingAlerted || !traffic.sources.some((s) => s.failing > 0 && !history.approved(s))) return undefined;
  let worst: { day: string; sources: SourceTraffic[]; failing: number } | undefined;
  for (const day of traffic.failingDays) {
    const sources = (history.failingSourcesByDay.get(day) ?? []).filter((s) => s.failing > 0 && !history.approved(s));
    const failing = sources.reduce((sum, s) => sum + s.failing, 0);
    if (failing >= minMessages && (!worst || failing > worst.failing)) worst = { day, sources, failing };
  }
  if (!worst) return undefined;
  const evidence = {
    ...emptyEvidence(),
    messages: worst.sources.reduce((sum, s) => sum + s.messages, 0),
    failingMessages: worst.failing,
    sources: evidenceSources(worst.sources.map((s) => asEvidence(s))),
    sourceCount: worst.sources.length,
    reportIds: traffic.reportIds.slice(0, EVIDENCE_LIST_MAX),
    days: [worst.day],
    thresholds: JSON.stringify(settings.spoofing.thresholds),
  };
  const severity: Severity = worst.failing >= 10 * minMessages ? 'critical' : 'high';
  const n = worst.sources.length;
  return candidate(traffic, 'spoofing', severity, now, dedupeMinutes, {
    title: `Spoofing of ${traffic.domain}: ${count(worst.failing)} failing messages from ${count(n)} unapproved source${n === 1 ? '' : 's'} on ${worst.day}`,
    summary:
      `Reports for ${worst.day} show ${count(worst.failing)} messages claiming ${traffic.domain} that failed both DKIM and SPF alignment, ` +
      `sent from ${count(n)} source${n === 1 ? '' : 's'} not approved for the domain (threshold ${count(minMessages)}). ` +
      'If these are your own senders, approve them and fix their DKIM signing or SPF; otherwise a DMARC policy of quarantine or reject stops them.',
    evidence,
  });
}

/**
 * New source: a source (provider, PTR base domain or network; see sourceKey) neither approved nor seen before for
 * the domain, whose mail in these chunks failed alignment, minMessages or more. A source that sent any aligned
 * mail is legitimate and remembered at once; a failing one is remembered once an alert names it, so a source
 * whose alert was swallowed by the dedupe window is still new in the next window.
 */
function newSources({ traffic, history, settings, now }: ChunkRuleInput): { alert?: AlertCandidate; seen: Array<{ key: string; ip: string }> } {
  if (history.newSourcesPaused) return { seen: [] };
  const thresholds = settings.new_source.thresholds;
  const byKey = new Map<string, SourceTraffic[]>();
  for (let i = 0; i < traffic.sources.length; i++) {
    const s = traffic.sources[i];
    if (history.approved(s)) continue;
    const key = history.sourceKeys?.[i] ?? sourceKey(s, thresholds);
    if (history.seenKeys.has(key)) continue;
    const sources = byKey.get(key);
    if (sources) sources.push(s);
    else byKey.set(key, [s]);
  }
  const seen: Array<{ key: string; ip: string }> = [];
  const named: Array<{ key: string; ip: string }> = [];
  const listed: AlertSource[] = [];
  let messages = 0;
  let failing = 0;
  for (const [key, sources] of byKey) {
    const sent = sources.reduce((sum, s) => sum + s.messages, 0);
    const failed = sources.reduce((sum, s) => sum + s.failing, 0);
    if (failed < sent) seen.push({ key, ip: sources[0].ip });
    else if (failed > 0 && failed >= thresholds.minMessages) {
      named.push({ key, ip: sources[0].ip });
      listed.push(...sources.map((s) => asEvidence(s, key)));
      messages += sent;
      failing += failed;
    }
  }
  if (named.length === 0 || history.newSourceAlerted) return { seen };
  const keys = named.map((n) => n.key);
  const shown = keys.slice(0, 5).join(', ') + (keys.length > 5 ? `, and ${keys.length - 5} more` : '');
  const alert = candidate(traffic, 'new_source', 'medium', now, thresholds.dedupeMinutes, {
    title: `New unapproved source${keys.length === 1 ? '' : 's'} sending as ${traffic.domain}: ${shown}`,
    summary:
      `${count(keys.length)} source${keys.length === 1 ? '' : 's'} never seen before for ${traffic.domain} sent ${count(failing)} messages failing DKIM and SPF alignment ` +
      `(${shown}). Approve ${keys.length === 1 ? 'it' : 'them'} if ${keys.length === 1 ? 'it is' : 'they are'} yours (and fix alignment); otherwise this may be the start of spoofing.`,
    evidence: {
      ...emptyEvidence(),
      messages,
      failingMessages: failing,
      sources: evidenceSources(listed),
      sourceCount: listed.length,
      reportIds: traffic.reportIds.slice(0, EVIDENCE_LIST_MAX),
      days: [...traffic.days].sort(),
      thresholds: JSON.stringify(thresholds),
      findings: keys.slice(0, EVIDENCE_LIST_MAX),
    },
  });
  return { alert: { ...alert, names: named }, seen };
}

/**
 * Failure spike: a report day of these chunks (one with failing mail) has minMessages or more and a DMARC failure
 * rate at least minIncrease above, and factor times, the rate of the baselineDays before it (which must hold
 * baselineMinMessages). Without a baseline there is nothing to rise above: no alert.
 */
function failureSpikeAlert({ traffic, history, settings, now }: ChunkRuleInput): AlertCandidate | undefined {
  const t = settings.failure_spike.thresholds;
  let worst: { day: string; rate: number; baseline: number; totals: DayTotals; baselineMessages: number } | undefined;
  for (const day of traffic.failingDays) {
    const totals = history.totalsByDay.get(day);
    if (!totals || totals.messages < t.minMessages) continue;
    let baseMessages = 0;
    let baseFailing = 0;
    for (let back = 1; back <= t.baselineDays; back++) {
      const before = history.totalsByDay.get(addDays(day, -back));
      baseMessages += before?.messages ?? 0;
      baseFailing += before?.failing ?? 0;
    }
    if (baseMessages < t.baselineMinMessages) continue;
    const rate = totals.failing / totals.messages;
    const baseline = baseFailing / baseMessages;
    const spiked = rate - baseline >= t.minIncrease - 1e-12 && rate >= baseline * t.factor;
    if (spiked && (!worst || rate - baseline > worst.rate - worst.baseline)) worst = { day, rate, baseline, totals, baselineMessages: baseMessages };
  }
  if (!worst) return undefined;
  return candidate(traffic, 'failure_spike', worst.rate >= 0.5 ? 'high' : 'medium', now, t.dedupeMinutes, {
    title: `DMARC failures of ${traffic.domain} at ${percent(worst.rate)} on ${worst.day} (baseline ${percent(worst.baseline)})`,
    summary:
      `On ${worst.day}, ${count(worst.totals.failing)} of ${count(worst.totals.messages)} messages claiming ${traffic.domain} failed DMARC (${percent(worst.rate)}), ` +
      `against ${percent(worst.baseline)} over the ${t.baselineDays} day${t.baselineDays === 1 ? '' : 's'} before. ` +
      'A sender lost its DKIM key or SPF entry, or someone started sending as the domain: see the failing sources of that day.',
    evidence: {
      ...emptyEvidence(),
      messages: worst.totals.messages,
      failingMessages: worst.totals.failing,
      failureRate: worst.rate,
      baselineRate: worst.baseline,
      baselineMessages: worst.baselineMessages,
      sources: evidenceSources(traffic.sources.filter((s) => s.failing > 0).map((s) => asEvidence(s))),
      sourceCount: traffic.sources.filter((s) => s.failing > 0).length,
      reportIds: traffic.reportIds.slice(0, EVIDENCE_LIST_MAX),
      days: [worst.day],
      thresholds: JSON.stringify(t),
    },
  });
}

function candidate(
  traffic: DomainTraffic,
  rule: AlertRuleId,
  severity: Severity,
  now: number,
  dedupeMinutes: number,
  text: Pick<AlertCandidate, 'title' | 'summary' | 'evidence'>,
): AlertCandidate {
  return { tenantId: traffic.tenantId, domain: traffic.domain, rule, severity, detectedAt: now, ...dedupeWindow(now, dedupeMinutes), ...text };
}

function asEvidence(s: SourceTraffic, key: string | null = null): AlertSource {
  return { ip: s.ip, ptr: s.ptr, baseDomain: s.baseDomain, sourceKey: key, messages: s.messages, failingMessages: s.failing };
}

/** YYYY-MM-DD plus n days (UTC). */
export function addDays(day: string, n: number): string {
  const [y, m, d] = day.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d + n)).toISOString().slice(0, 10);
}
