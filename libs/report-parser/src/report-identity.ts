import type { AggregateHeader } from './aggregate/aggregate-report';
import type { ForensicReport } from './forensic/forensic-report';
import type { TlsReport } from './tls/tls-report';

/**
 * A stable key for "the same report", whatever bytes it came in (re-sent, re-zipped, forwarded): for an
 * aggregate report its policy domain, reporting organisation and report id (RFC 7489 §7.2.1.1 makes the id
 * unique per organisation). Names compare without case and surrounding whitespace; ids are opaque, so only
 * trimmed (lower-casing one could merge two different reports and lose one). The parts are escaped, so no
 * value can forge another's key. Takes the stream's header event too, so a duplicate is known before any
 * record is read.
 */
export function reportIdentity(report: AggregateHeader | TlsReport | ForensicReport): string {
  switch (report.kind) {
    case 'aggregate':
      return key('aggregate', name(report.policy.domain), name(report.orgName), report.reportId.trim());
    case 'tls':
      return key('tls', name(report.organizationName), report.reportId.trim());
    case 'forensic':
      // Failure reports carry no id: the reported message, where it came from and when, identify one.
      return key(
        'forensic',
        name(report.reportedDomain ?? ''),
        name(report.sourceIp ?? ''),
        report.arrivalDate ?? report.originalHeaders.date ?? '',
        (report.originalHeaders.messageId ?? '').trim(),
      );
  }
}

function name(text: string): string {
  return text.trim().replace(/\s+/g, ' ').toLowerCase();
}

function key(kind: string, ...parts: string[]): string {
  return [kind, ...parts.map(encodeURIComponent)].join('/');
}
