// Sources worth approving: unapproved senders whose mail carries the domain's own DKIM signature (aligned DKIM)
// steadily. Only someone holding the domain's private key signs that way, so such a sender is the tenant's own
// (or forwards the tenant's mail unchanged: its SPF rate, in the evidence, tells the two apart).
import type { DomainFigures } from './domain-figures';
import { resolveThresholds, type GuidanceThresholds } from './guidance-thresholds';
import { evidenceOf, type SourceEvidence } from './source-evidence';
import { ApprovedSourceMatcher, type ApprovedSourceRef } from './source-matching';

/** A source proposed for approval: approving it approves this IP address. */
export interface SourceProposal extends Omit<SourceEvidence, 'approvedBy'> {
  /** What approving it adds to the approved sources. */
  source: string;
  kind: 'ip';
}

export interface DomainProposals {
  domain: string;
  from: string;
  to: string;
  thresholds: Pick<GuidanceThresholds, 'windowDays' | 'proposalDkimRate' | 'proposalMinDays' | 'proposalMinMessages'>;
  /** Most messages first. */
  proposals: SourceProposal[];
}

export interface ProposalInput {
  figures: DomainFigures;
  approved: readonly ApprovedSourceRef[];
  thresholds?: Partial<GuidanceThresholds>;
}

/**
 * Unapproved sources with at least `proposalDkimRate` of their messages DKIM-aligned over the window, on at least
 * `proposalMinDays` days and `proposalMinMessages` messages. A source an approval already covers (by IP, CIDR or
 * host) is never proposed.
 */
export function proposeSources(input: ProposalInput): DomainProposals {
  const t = resolveThresholds(input.thresholds);
  const matcher = new ApprovedSourceMatcher(input.approved);
  const { figures } = input;
  const total = figures.sources.reduce((sum, s) => sum + s.messages, 0);
  const proposals: SourceProposal[] = [];
  for (const s of figures.sources) {
    if (s.messages < Math.max(1, t.proposalMinMessages) || s.days < t.proposalMinDays) continue;
    if (s.dkimAligned / s.messages < t.proposalDkimRate || matcher.match(s)) continue;
    const { approvedBy: _none, ...evidence } = evidenceOf(s, total, null);
    proposals.push({ source: s.sourceIp, kind: 'ip', ...evidence });
  }
  proposals.sort((a, b) => b.messages - a.messages || (a.source < b.source ? -1 : 1));
  return {
    domain: figures.domain,
    from: figures.from,
    to: figures.to,
    thresholds: { windowDays: t.windowDays, proposalDkimRate: t.proposalDkimRate, proposalMinDays: t.proposalMinDays, proposalMinMessages: t.proposalMinMessages },
    proposals,
  };
}
