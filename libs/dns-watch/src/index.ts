export { DnsWatcher, type DnsWatcherLogger, type DnsWatcherOptions, type RoundSummary, type TxtResolver } from './dns-watcher';
export { recordSelectors, SelectorRecorder, type SelectorRecorderOptions } from './selectors';
export { decideChange, observe, type ChangeDecision, type DecisionOptions, type DnsChangeKind, type LookupOutcome, type Observation, type WatchState } from './change-decision';
export { canonicalRecord, collapseWhitespace, sameValue, selectRecord, type WatchedRecordType } from './record-value';
export { changeMessage, DNS_CHANGES_TOPIC, type DnsChangeMessage } from './change-message';
export { monitoredDomains, type MonitoredDomain, type StoredChange } from './watch-store';
export { DnsWatchError, type DnsWatchErrorCode } from './errors';
