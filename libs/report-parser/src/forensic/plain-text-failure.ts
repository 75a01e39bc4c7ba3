import type { RepairLog } from '../repair-log';
import { MimeHeaders } from '../mime/mime-headers';
import type { MimePart } from '../mime/mime-part';
import { emptyToNull, headersOf, isoDate, reportParts, type ForensicReport } from './forensic-report';

// The labels of the plain-text failure reports MTAs write instead of ARF (Exim's is the common one).
const LABELS: Readonly<Record<string, string>> = {
  'sender domain': 'domain',
  'sender ip address': 'ip',
  'received date': 'date',
  'spf alignment': 'spf',
  'dkim alignment': 'dkim',
  'dmarc results': 'results',
};
const HEADER_COPY = /^-+\s*This is a copy of the headers.*$/im;
const ACTIONS: Readonly<Record<string, string>> = { accept: 'delivered', reject: 'reject', quarantine: 'spam' };

/**
 * A failure report with no message/feedback-report part, read from the labelled lines of its text body and
 * the header copy below them. Null when the text is not such a report.
 */
export function readPlainTextFailure(message: MimePart, repairs: RepairLog): ForensicReport | null {
  for (const part of reportParts(message)) {
    if (part.type !== 'text/plain') continue;
    const text = part.text();
    const found = labelledLines(text);
    if (found.domain === undefined && found.ip === undefined) continue;
    repairs.note('not-arf', 'no ARF (message/feedback-report) part: fields read from the plain-text body');

    const copy = HEADER_COPY.exec(text);
    const headers = copy ? MimeHeaders.parse(text.slice(copy.index + copy[0].length).replace(/^\s+/, '')) : null;
    const [policy, action] = (found.results ?? '').split(',').map((w) => w.trim().toLowerCase());
    const deliveryResult = action ? (ACTIONS[action] ?? 'other') : null;
    if (deliveryResult !== null) {
      repairs.note('delivery-result', `delivery result "${deliveryResult}" inferred from "DMARC Results: ${found.results}"`);
    }
    return {
      kind: 'forensic',
      format: 'text',
      feedbackType: 'auth-failure',
      userAgent: null,
      version: null,
      originalEnvelopeId: null,
      originalMailFrom: null,
      originalRcptTo: [],
      arrivalDate: isoDate(found.date ?? null, 'Received date', repairs),
      reportingMta: null,
      reportedDomain: found.domain?.toLowerCase() ?? null,
      sourceIp: found.ip ?? null,
      incidents: null,
      authenticationResults: headers ? emptyToNull(headers.text('authentication-results')) : null,
      identityAlignment: alignment(found.spf, found.dkim),
      deliveryResult,
      authFailure: policy !== undefined || found.spf !== undefined || found.dkim !== undefined ? ['dmarc'] : [],
      dkimDomain: null,
      dkimIdentity: null,
      dkimSelector: null,
      spfDns: null,
      originalHeaders: headers
        ? headersOf(headers, repairs)
        : { subject: null, from: null, to: null, messageId: null, date: null },
      repairs: repairs.list(),
    };
  }
  return null;
}

function labelledLines(text: string): Record<string, string | undefined> {
  const found: Record<string, string | undefined> = {};
  const end = HEADER_COPY.exec(text)?.index ?? text.length;
  for (const line of text.slice(0, end).split(/\r?\n/)) {
    const match = /^\s*([A-Za-z][A-Za-z ]*?)\s*:\s*(.+?)\s*$/.exec(line);
    const key = match ? LABELS[match[1].toLowerCase()] : undefined;
    if (match && key !== undefined && found[key] === undefined) found[key] = match[2];
  }
  return found;
}

/** RFC 9991 Identity-Alignment from "SPF Alignment: yes/no" and "DKIM Alignment: yes/no". */
function alignment(spf: string | undefined, dkim: string | undefined): string[] | null {
  if (spf === undefined && dkim === undefined) return null;
  const aligned: string[] = [];
  if (dkim !== undefined && /^(yes|pass|true)$/i.test(dkim)) aligned.push('dkim');
  if (spf !== undefined && /^(yes|pass|true)$/i.test(spf)) aligned.push('spf');
  return aligned.length === 0 ? ['none'] : aligned;
}
