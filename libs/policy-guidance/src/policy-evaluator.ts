// Whether a domain can move its DMARC policy one step further (none → quarantine → reject) without losing
// legitimate mail, from its figures alone. Pure: the same input always gives the same guidance.
import type { CurrentPolicy, DomainFigures, PolicyValue } from './domain-figures';
import { resolveThresholds, type GuidanceThresholds } from './guidance-thresholds';
import { evidenceOf, percent, type SourceEvidence } from './source-evidence';
import { ApprovedSourceMatcher, type ApprovedSourceRef } from './source-matching';

export type StepVerdict = 'applied' | 'safe' | 'blocked' | 'not_enough_data';

export type ReasonCode =
  | 'STEP_APPLIED'
  | 'PREVIOUS_STEP_FIRST'
  | 'PCT_BELOW_100'
  | 'NOT_ENOUGH_DAYS'
  | 'NOT_ENOUGH_MESSAGES'
  | 'NO_LEGITIMATE_TRAFFIC'
  | 'SOURCE_BELOW_ALIGNED_RATE'
  | 'UNAPPROVED_HIGH_VOLUME'
  | 'ALL_CHECKS_PASSED';

export interface Reason {
  code: ReasonCode;
  /** Whether it keeps the step from being safe. */
  blocking: boolean;
  message: string;
  /** The source IPs it is about, when it is about sources. */
  sources?: string[];
}

export interface PolicyStep {
  from: PolicyValue;
  to: PolicyValue;
  verdict: StepVerdict;
  reasons: Reason[];
}

export interface DomainGuidance {
  domain: string;
  from: string;
  to: string;
  currentPolicy: CurrentPolicy;
  thresholds: GuidanceThresholds;
  data: { windowDays: number; daysWithData: number; messages: number; sources: number };
  /** none → quarantine, then quarantine → reject. */
  steps: PolicyStep[];
  /** Every source an approval covers that sent in the window, most messages first. */
  legitimateSources: SourceEvidence[];
  /** Unapproved sources at or above the high-volume share, most messages first. */
  unapprovedHighVolume: SourceEvidence[];
  /** All unapproved sources together. */
  unapproved: { sources: number; messages: number; dmarcPass: number; share: number | null };
}

export interface GuidanceInput {
  figures: DomainFigures;
  approved: readonly ApprovedSourceRef[];
  policy: CurrentPolicy;
  thresholds?: Partial<GuidanceThresholds>;
}

const RANK: Record<PolicyValue, number> = { none: 0, quarantine: 1, reject: 2 };
const STEPS: ReadonlyArray<[PolicyValue, PolicyValue]> = [
  ['none', 'quarantine'],
  ['quarantine', 'reject'],
];

/**
 * The guidance of one domain. A step is safe when the window holds enough data, at least one approved source
 * sent mail, every approved ("legitimate") source passed DMARC on at least `alignedRate` of its messages, and no
 * unapproved source sent `highVolumeShare` or more of the domain's messages. A step already in force is
 * `applied`; quarantine → reject waits for none → quarantine to be in force (at pct=100).
 */
export function evaluateGuidance(input: GuidanceInput): DomainGuidance {
  const thresholds = resolveThresholds(input.thresholds);
  const { figures, policy } = input;
  const matcher = new ApprovedSourceMatcher(input.approved);
  const total = figures.sources.reduce((sum, s) => sum + s.messages, 0);

  const legitimate: SourceEvidence[] = [];
  const highVolume: SourceEvidence[] = [];
  const unapproved = { sources: 0, messages: 0, dmarcPass: 0, share: null as number | null };
  for (const source of figures.sources) {
    if (source.messages <= 0) continue;
    const approvedBy = matcher.match(source) ?? null;
    const evidence = evidenceOf(source, total, approvedBy);
    if (approvedBy) {
      legitimate.push(evidence);
      continue;
    }
    unapproved.sources++;
    unapproved.messages += source.messages;
    unapproved.dmarcPass += source.dmarcPass;
    if (evidence.share >= thresholds.highVolumeShare) highVolume.push(evidence);
  }
  unapproved.share = total === 0 ? null : unapproved.messages / total;

  const shortOfData = dataReasons(figures, total, thresholds);
  const findings = sourceReasons(legitimate, highVolume, thresholds);
  const steps: PolicyStep[] = [];
  for (const [from, to] of STEPS) {
    if (applied(policy, to)) {
      steps.push({ from, to, verdict: 'applied', reasons: [{ code: 'STEP_APPLIED', blocking: false, message: `the domain is at p=${policy.p} pct=${policy.pct}: this step is in force` }] });
      continue;
    }
    const reasons: Reason[] = [];
    if (RANK[from] > 0 && !applied(policy, from)) {
      reasons.push({ code: 'PREVIOUS_STEP_FIRST', blocking: true, message: `move to p=${from} (pct=100) first and watch its effect before p=${to}` });
    }
    if (policy.p === to && policy.pct < 100) {
      reasons.push({ code: 'PCT_BELOW_100', blocking: false, message: `p=${to} applies to ${policy.pct} % of failing mail; the step is complete at pct=100` });
    }
    reasons.push(...shortOfData, ...findings);
    const verdict: StepVerdict = shortOfData.length > 0 ? 'not_enough_data' : reasons.some((r) => r.blocking) ? 'blocked' : 'safe';
    if (verdict === 'safe') reasons.push({ code: 'ALL_CHECKS_PASSED', blocking: false, message: `every approved source passed DMARC on ${percent(thresholds.alignedRate)} or more of its messages and no unapproved source sent ${percent(thresholds.highVolumeShare)} or more` });
    steps.push({ from, to, verdict, reasons });
  }

  return {
    domain: figures.domain,
    from: figures.from,
    to: figures.to,
    currentPolicy: policy,
    thresholds,
    data: { windowDays: thresholds.windowDays, daysWithData: figures.daysWithData, messages: total, sources: figures.sources.length },
    steps,
    legitimateSources: legitimate,
    unapprovedHighVolume: highVolume,
    unapproved,
  };
}

/** Whether the policy already enforces `target`: a stricter p, or p=target on all failing mail. */
function applied(policy: CurrentPolicy, target: PolicyValue): boolean {
  return RANK[policy.p] > RANK[target] || (policy.p === target && policy.pct >= 100);
}

function dataReasons(figures: DomainFigures, total: number, t: GuidanceThresholds): Reason[] {
  const reasons: Reason[] = [];
  if (figures.daysWithData < t.minDays) {
    reasons.push({ code: 'NOT_ENOUGH_DAYS', blocking: true, message: `reports on ${figures.daysWithData} of the last ${t.windowDays} days; at least ${t.minDays} are needed` });
  }
  if (total < t.minMessages) {
    reasons.push({ code: 'NOT_ENOUGH_MESSAGES', blocking: true, message: `${total} messages in the last ${t.windowDays} days; at least ${t.minMessages} are needed` });
  }
  return reasons;
}

function sourceReasons(legitimate: SourceEvidence[], highVolume: SourceEvidence[], t: GuidanceThresholds): Reason[] {
  const reasons: Reason[] = [];
  if (legitimate.length === 0) {
    reasons.push({ code: 'NO_LEGITIMATE_TRAFFIC', blocking: true, message: 'no approved source sent mail in the window: approve the domain’s sending sources first, so there is something to judge' });
  }
  const below = legitimate.filter((s) => s.alignedRate < t.alignedRate);
  if (below.length > 0) {
    const list = listed(below.map((s) => `${s.sourceIp} ${percent(s.alignedRate)} of ${s.messages}`));
    reasons.push({ code: 'SOURCE_BELOW_ALIGNED_RATE', blocking: true, message: `approved sources passing DMARC on less than ${percent(t.alignedRate)} of their messages: ${list}`, sources: below.map((s) => s.sourceIp) });
  }
  if (highVolume.length > 0) {
    const list = listed(highVolume.map((s) => `${s.sourceIp} ${percent(s.share)} of the domain’s messages, ${percent(s.alignedRate)} passing`));
    reasons.push({
      code: 'UNAPPROVED_HIGH_VOLUME',
      blocking: true,
      message: `unapproved sources sending ${percent(t.highVolumeShare)} or more of the domain’s mail (approve them if they are yours, and get them aligned): ${list}`,
      sources: highVolume.map((s) => s.sourceIp),
    });
  }
  return reasons;
}

// A message stays readable with thousands of sources: the full list is in `sources` and the evidence.
const LISTED = 10;
function listed(items: string[]): string {
  const shown = items.slice(0, LISTED).join(', ');
  return items.length > LISTED ? `${shown} and ${items.length - LISTED} more` : shown;
}
