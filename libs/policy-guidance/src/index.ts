export type { CurrentPolicy, DomainFigures, PolicyValue, SourceFigures } from './domain-figures';
export { PolicyGuidanceError, type PolicyGuidanceErrorCode } from './errors';
export { domainGuidance, domainProposals, guidanceWindow, loadWindowFigures, type GuidanceQuery, type WindowFigures } from './guidance-queries';
export {
  DEFAULT_ALIGNED_RATE,
  DEFAULT_HIGH_VOLUME_SHARE,
  DEFAULT_MIN_DAYS,
  DEFAULT_MIN_MESSAGES,
  DEFAULT_PROPOSAL_DKIM_RATE,
  DEFAULT_PROPOSAL_MIN_DAYS,
  DEFAULT_PROPOSAL_MIN_MESSAGES,
  DEFAULT_THRESHOLDS,
  DEFAULT_WINDOW_DAYS,
  resolveThresholds,
  type GuidanceThresholds,
} from './guidance-thresholds';
export { evaluateGuidance, type DomainGuidance, type GuidanceInput, type PolicyStep, type Reason, type ReasonCode, type StepVerdict } from './policy-evaluator';
export { approveProposal, type ApprovalInput, type ApprovalResult } from './source-approval';
export type { SourceEvidence } from './source-evidence';
export { ApprovedSourceMatcher, sourceIpOf, type ApprovedKind, type ApprovedSourceRef, type SourceIdentity } from './source-matching';
export { proposeSources, type DomainProposals, type ProposalInput, type SourceProposal } from './source-proposals';
