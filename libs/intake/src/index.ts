export { ReportIntake, type AcceptedReport, type IncomingReport, type IntakeOptions } from './intake';
export { IntakeError } from './errors';
export { reportIdOf, sha256Hex } from './report-id';
