/**
 * @dmarc/report-parser: DMARC aggregate (RFC 7489, RFC 9990, draft), failure (RFC 6591 ARF, RFC 9991, plain
 * text) and SMTP TLS (RFC 8460) reports, from XML, JSON, gzip, zip or whole e-mails, streamed with bounded
 * memory and safe against hostile input. Pure logic: no I/O beyond the bytes it is given.
 */
export { streamReports, type ReportEvent } from './report-stream';
export { parseReport, parseReports, type Report } from './parse-report';
export { reportIdentity } from './report-identity';
export { sniffContent, SNIFF_BYTES, type ContentKind } from './input/content-kind';
export { ReportError, isReportError, type ReportErrorCode, type ReportErrorDetails } from './errors';
export { DEFAULT_PARSE_LIMITS, resolveParseOptions, type ParseOptions, type ResolvedParseOptions } from './parse-options';
export type { ReportInput } from './input/byte-reader';
export type {
  AggregateFormat,
  AggregateHeader,
  AggregateRecord,
  AggregateReport,
  AggregateSummary,
  AlignmentResult,
  DkimAuthResult,
  Disposition,
  PolicyOverrideReason,
  PolicyPublished,
  SpfAuthResult,
} from './aggregate/aggregate-report';
export type { ForensicReport, OriginalHeaders } from './forensic/forensic-report';
export type { TlsFailureDetail, TlsPolicy, TlsReport } from './tls/tls-report';
