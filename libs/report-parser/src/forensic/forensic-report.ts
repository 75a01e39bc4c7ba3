import type { RepairLog } from '../repair-log';
import { MimeHeaders } from '../mime/mime-headers';
import { parseMimeMessage, type MimePart } from '../mime/mime-part';

/**
 * A failure (forensic) report, normalised from an RFC 6591 ARF e-mail (with the RFC 9991 fields), or from
 * the plain-text failure mails some MTAs send instead. Absent fields are null; multi-valued fields lists.
 */
export interface ForensicReport {
  readonly kind: 'forensic';
  /** "arf": read from a message/feedback-report part; "text": read from a plain-text body. */
  readonly format: 'arf' | 'text';
  readonly feedbackType: string | null;
  readonly userAgent: string | null;
  readonly version: string | null;
  readonly originalEnvelopeId: string | null;
  readonly originalMailFrom: string | null;
  readonly originalRcptTo: readonly string[];
  /** ISO 8601 UTC. */
  readonly arrivalDate: string | null;
  readonly reportingMta: string | null;
  readonly reportedDomain: string | null;
  readonly sourceIp: string | null;
  readonly incidents: number | null;
  readonly authenticationResults: string | null;
  /** RFC 9991 Identity-Alignment: "none", or the aligned mechanisms ("dkim", "spf"), lower case. */
  readonly identityAlignment: readonly string[] | null;
  readonly deliveryResult: string | null;
  readonly authFailure: readonly string[];
  readonly dkimDomain: string | null;
  readonly dkimIdentity: string | null;
  readonly dkimSelector: string | null;
  readonly spfDns: string | null;
  /** The reported message's own headers, when the report carries them. */
  readonly originalHeaders: OriginalHeaders;
  readonly repairs: readonly string[];
}

export interface OriginalHeaders {
  readonly subject: string | null;
  readonly from: string | null;
  readonly to: string | null;
  readonly messageId: string | null;
  /** ISO 8601 UTC when the Date header parses, else as written. */
  readonly date: string | null;
}

const NO_HEADERS: OriginalHeaders = { subject: null, from: null, to: null, messageId: null, date: null };

/** The parts of a report e-mail, not descending into the attached original message. */
export function reportParts(message: MimePart): MimePart[] {
  const parts: MimePart[] = [];
  const walk = (part: MimePart): void => {
    parts.push(part);
    if (part.type !== 'message/rfc822') part.children.forEach(walk);
  };
  walk(message);
  return parts;
}

/** Reads an ARF report from the message holding `feedbackPart` (a message/feedback-report part). */
export function readArfReport(message: MimePart, feedbackPart: MimePart, repairs: RepairLog): ForensicReport {
  if (message.type !== 'multipart/report') {
    repairs.note('arf-container', `feedback report sent as ${message.type} instead of multipart/report`);
  }
  const fields = MimeHeaders.parse(feedbackPart.text().replace(/^\s+/, ''));
  const value = (name: string): string | null => emptyToNull(fields.text(name));
  const rcptTo = fields.getAll('original-rcpt-to').map(unbracket).filter((v): v is string => v !== null);
  const incidents = value('incidents');
  return {
    kind: 'forensic',
    format: 'arf',
    feedbackType: value('feedback-type')?.toLowerCase() ?? null,
    userAgent: value('user-agent'),
    version: value('version'),
    originalEnvelopeId: value('original-envelope-id'),
    originalMailFrom: unbracket(value('original-mail-from')),
    originalRcptTo: rcptTo,
    arrivalDate: isoDate(value('arrival-date') ?? value('received-date'), 'Arrival-Date', repairs),
    reportingMta: value('reporting-mta'),
    reportedDomain: value('reported-domain')?.toLowerCase() ?? null,
    sourceIp: value('source-ip'),
    incidents: incidents !== null && /^\d+$/.test(incidents) ? Number(incidents) : null,
    authenticationResults: value('authentication-results'),
    identityAlignment: wordList(value('identity-alignment')),
    deliveryResult: value('delivery-result')?.toLowerCase() ?? null,
    authFailure: fields.getAll('auth-failure').flatMap((v) => wordList(v) ?? []),
    dkimDomain: value('dkim-domain'),
    dkimIdentity: value('dkim-identity'),
    dkimSelector: value('dkim-selector'),
    spfDns: value('spf-dns'),
    originalHeaders: originalHeaders(message, repairs),
    repairs: repairs.list(),
  };
}

function originalHeaders(message: MimePart, repairs: RepairLog): OriginalHeaders {
  const original = reportParts(message).find((part) =>
    ['message/rfc822', 'text/rfc822-headers', 'message/rfc822-headers'].includes(part.type),
  );
  if (!original) return NO_HEADERS;
  return headersOf(parseMimeMessage(original.body()).headers, repairs);
}

/** The five headers a failure report is read for, from the reported message's header block. */
export function headersOf(headers: MimeHeaders, repairs: RepairLog): OriginalHeaders {
  const value = (name: string): string | null => emptyToNull(headers.text(name));
  const date = value('date');
  return {
    subject: value('subject'),
    from: value('from'),
    to: value('to'),
    messageId: value('message-id'),
    date: date === null ? null : (isoDate(date, 'original Date', repairs) ?? date),
  };
}

export function isoDate(text: string | null, what: string, repairs: RepairLog): string | null {
  if (text === null) return null;
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) {
    repairs.note(`date:${what}`, `${what} "${text.slice(0, 60)}" is not a date; left out`);
    return null;
  }
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

export function wordList(text: string | null | undefined): string[] | null {
  if (!text) return null;
  const words = text.split(/[\s,]+/).map((w) => w.toLowerCase()).filter((w) => w !== '');
  return words.length === 0 ? null : words;
}

export function emptyToNull(text: string | undefined): string | null {
  if (text === undefined) return null;
  const trimmed = text.trim();
  return trimmed === '' ? null : trimmed;
}

function unbracket(text: string | null): string | null {
  if (text === null) return null;
  const inner = text.replace(/^<(.*)>$/, '$1').trim();
  return inner === '' ? null : inner;
}
