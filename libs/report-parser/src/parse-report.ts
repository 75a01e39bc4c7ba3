import type { AggregateReport, AggregateRecord } from './aggregate/aggregate-report';
import { ReportError } from './errors';
import type { ForensicReport } from './forensic/forensic-report';
import type { ReportInput } from './input/byte-reader';
import type { ParseOptions } from './parse-options';
import { streamReports } from './report-stream';
import type { TlsReport } from './tls/tls-report';

export type Report = AggregateReport | ForensicReport | TlsReport;

/**
 * Every report in `input`, each whole. For inputs of ordinary size: an aggregate report's records are all held
 * in memory, so a huge one wants `streamReports` instead.
 */
export async function parseReports(input: ReportInput, options?: ParseOptions): Promise<Report[]> {
  const reports: Report[] = [];
  let records: AggregateRecord[] = [];
  let header: Omit<AggregateReport, 'records' | 'repairs'> | null = null;
  for await (const event of streamReports(input, options)) {
    switch (event.type) {
      case 'header':
        header = event.report;
        records = [];
        break;
      case 'records':
        for (const record of event.records) records.push(record);
        break;
      case 'end':
        if (header) reports.push({ ...header, records, repairs: event.summary.repairs });
        header = null;
        break;
      case 'report':
        reports.push(event.report);
        break;
    }
  }
  return reports;
}

/** The one report in `input`; an input holding several (an e-mail with two attachments) is refused. */
export async function parseReport(input: ReportInput, options?: ParseOptions): Promise<Report> {
  const reports = await parseReports(input, options);
  if (reports.length !== 1) {
    throw new ReportError('REPORT_MULTIPLE', `input holds ${reports.length} reports; use parseReports to read them all`);
  }
  return reports[0];
}
