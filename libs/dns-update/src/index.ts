export { type AlertSeverity, type AlertSink, type DnsAlert } from './alert-sink';
export {
  DEFAULT_RECORD_TTL,
  deleteAutopilot,
  getAutopilot,
  MAX_SECRET_BYTES,
  MIN_SECRET_BYTES,
  parseAutopilotSettings,
  PROVIDERS,
  putAutopilot,
  RECORD_TTL_RANGE,
  type AutopilotSettings,
  type AutopilotSettingsInput,
  type AutopilotView,
  type ProviderName,
} from './autopilot-settings';
export { AUTOPILOT_ACTOR, AutopilotWorker, rfc2136Provider, type AutopilotLogger, type AutopilotWorkerOptions, type VerifiedChange } from './autopilot-worker';
export { dmarcRecordText, KEPT_TAGS, type ApprovedPolicy } from './dmarc-txt';
export type { DnsProvider } from './dns-provider';
export { DnsUpdateError, type DnsUpdateErrorCode } from './errors';
export { MemoryDnsProvider } from './memory-provider';
export { Rfc2136Provider, type Rfc2136Options } from './rfc2136-provider';
export { isInternalAddress, serverHostProblem } from './server-address';
export { signMessage, splitTsig, TSIG_ALGORITHMS, TSIG_FUDGE, tsigMac, type TsigAlgorithm, type TsigKey, type TsigRecord } from './tsig';
export { claimDueJobs, listJobs, type ClaimedJob, type JobStatus, type ProviderSettings, type UpdateJobView } from './update-jobs';
export { encodeTxtReplacement, rcodeName, txtStrings } from './update-message';
