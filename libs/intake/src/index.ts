export { ReportIntake, type AcceptedReport, type IncomingReport, type IntakeOptions, type OversizeReport } from './intake';
export { IntakeError, type IntakeErrorCode } from './errors';
export { reportIdOf, sha256Hex } from './report-id';
export { sniffReportContent, describeHead, CONTENT_TYPE_OF, SNIFF_HEAD_BYTES, type ReportContentKind } from './content-sniffing';
export { readWithinLimit, type LimitedRead, type ReadLimits } from './limited-read';
export { findReportStatus, type ReportStatus, type ReportStatusView } from './report-status';
export { readIngestionStats, type DayCounts, type InFlightReport, type IngestionStats, type StatsWindow } from './ingestion-stats';
