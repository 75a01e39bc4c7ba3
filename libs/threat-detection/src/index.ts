export { type AlertCandidate, dedupeWindow, emptyEvidence, EVIDENCE_LIST_MAX, type Severity } from './alert-candidate';
export { ALERTS_TOPIC, alertMessage, publishPending, relayUnpublished, traceRefOf, type PublishOptions } from './alert-publisher';
export { listAlertRules, putAlertRule, type AlertRuleInput, type AlertRuleView } from './alert-rule-store';
export { listAlerts, type AlertQuery, type StoredAlert, type TraceRef } from './alert-store';
export { evaluateChunkRules, type ChunkRuleInput, type ChunkRuleResult, type DayTotals, type DomainHistory, type SourceApproval } from './chunk-rules';
export { trafficByDomain, type DomainTraffic, type SourceTraffic } from './chunk-traffic';
export { dnsUpdateFailedAlert, dnsUpdateFailureOf, evaluateDnsChange, type DnsUpdateFailure } from './dns-rules';
export { InvalidRuleSettingError, ThreatDetectionError, type ThreatDetectionErrorCode } from './errors';
export {
  ALERT_RULE_IDS,
  defaultThresholds,
  isAlertRuleId,
  resolveRuleSettings,
  THRESHOLD_SPECS,
  validateThresholds,
  type AlertRuleId,
  type RuleSetting,
  type RuleSettings,
  type StoredRule,
  type Thresholds,
} from './rule-settings';
export { networkOf, providerOf, sourceKey, type SourceKeyOptions } from './source-identity';
export { ThreatDetector, type DetectionOutcome, type ThreatDetectorOptions } from './threat-detector';
