import type { RepairLog } from '../repair-log';
import type { AlignmentResult, Disposition } from './aggregate-report';

/**
 * Readers for the values of aggregate report fields. Each takes the raw element text and either returns the
 * normalised value, notes a repair and returns the value it clearly meant, or returns `undefined` for the
 * caller to refuse with its own located error.
 */

const DISPOSITIONS: ReadonlySet<string> = new Set(['none', 'quarantine', 'reject', 'pass']);
const DKIM_RESULTS: ReadonlySet<string> = new Set(['none', 'pass', 'fail', 'policy', 'neutral', 'temperror', 'permerror']);
const SPF_RESULTS: ReadonlySet<string> = new Set(['none', 'neutral', 'pass', 'fail', 'softfail', 'temperror', 'permerror']);
const POLICIES: ReadonlySet<string> = new Set(['none', 'quarantine', 'reject']);
export const REASON_TYPES: ReadonlySet<string> = new Set([
  'forwarded',
  'sampled_out',
  'trusted_forwarder',
  'mailing_list',
  'local_policy',
  'other',
  'policy_test_mode',
]);

/** Trims only when there is something to trim: most values have no surrounding whitespace. */
export function clean(raw: string): string {
  const n = raw.length;
  if (n === 0) return raw;
  return raw.charCodeAt(0) <= 32 || raw.charCodeAt(n - 1) <= 32 ? raw.trim() : raw;
}

export function optional(raw: string | null): string | null {
  if (raw === null) return null;
  const value = clean(raw);
  return value === '' ? null : value;
}

/**
 * Where a value sits, for repair notes: the field and the record number (0 in the header). Kept apart and
 * only joined into text when a note is written, so the common path builds no strings.
 */
export function place(field: string, record: number): string {
  return record === 0 ? field : `record ${record} ${field}`;
}

/**
 * The shared constant for a result word as written, or undefined. Records then hold one copy of "pass"
 * instead of a million, and the Set checks below look up strings whose hash is already known.
 */
function canonical(raw: string): string | undefined {
  switch (raw) {
    case 'pass': return 'pass';
    case 'fail': return 'fail';
    case 'none': return 'none';
    case 'softfail': return 'softfail';
    case 'neutral': return 'neutral';
    case 'quarantine': return 'quarantine';
    case 'reject': return 'reject';
    case 'temperror': return 'temperror';
    case 'permerror': return 'permerror';
    case 'policy': return 'policy';
    default: return undefined;
  }
}

/** A word from a closed set, with case and whitespace forgiven ("Pass " is "pass") and noted. */
function word(raw: string, allowed: ReadonlySet<string>, field: string, record: number, repairs: RepairLog): string | undefined {
  const exact = canonical(raw);
  if (exact !== undefined && allowed.has(exact)) return exact;
  const value = canonical(clean(raw).toLowerCase());
  if (value === undefined || !allowed.has(value)) return undefined;
  repairs.note('result-case', `result words normalised to lower case ("${clean(raw)}" in ${place(field, record)})`);
  return value;
}

export function readDisposition(raw: string, record: number, repairs: RepairLog): Disposition | undefined {
  return word(raw, DISPOSITIONS, 'policy_evaluated/disposition', record, repairs) as Disposition | undefined;
}

/**
 * policy_evaluated dkim/spf is pass or fail. Anything else a reporter writes there ("none", "softfail") is
 * not an aligned pass, so it counts as fail, with a note; so does a missing one.
 */
export function readAlignment(raw: string | null, field: string, record: number, repairs: RepairLog): AlignmentResult {
  if (raw === 'pass' || raw === 'fail') return raw;
  if (raw === null) {
    repairs.note(`missing:${field}`, `${place(field, record)} is missing; counted as fail`);
    return 'fail';
  }
  const value = word(raw, ALIGNMENT, field, record, repairs);
  if (value !== undefined) return value as AlignmentResult;
  repairs.note(`alignment:${field}`, `"${clean(raw)}" in ${place(field, record)} is not pass or fail; counted as fail`);
  return 'fail';
}
const ALIGNMENT: ReadonlySet<string> = new Set(['pass', 'fail']);

export function readDkimResult(raw: string, record: number, repairs: RepairLog): string {
  return readAuthResult(raw, DKIM_RESULTS, 'auth_results/dkim/result', record, repairs);
}

export function readSpfResult(raw: string, record: number, repairs: RepairLog): string {
  const field = 'auth_results/spf/result';
  const value = word(raw, SPF_RESULTS, field, record, repairs);
  if (value !== undefined) return value;
  // "hardfail" is what some SPF libraries call fail.
  if (clean(raw).toLowerCase() === 'hardfail') {
    repairs.note('spf-hardfail', `SPF result "hardfail" read as "fail" (${place(field, record)})`);
    return 'fail';
  }
  return readAuthResult(raw, SPF_RESULTS, field, record, repairs);
}

function readAuthResult(raw: string, allowed: ReadonlySet<string>, field: string, record: number, repairs: RepairLog): string {
  const value = word(raw, allowed, field, record, repairs);
  if (value !== undefined) return value;
  const kept = clean(raw).toLowerCase();
  repairs.note(`auth-result:${field}:${kept}`, `unknown result "${kept}" in ${place(field, record)} kept as given`);
  return kept;
}

/** p, sp, np: informational, so an unknown value is kept as null with a note rather than refused. */
export function readPolicy(raw: string | null, where: string, repairs: RepairLog): string | null {
  if (raw === null || clean(raw) === '') return null;
  const value = word(raw, POLICIES, where, 0, repairs);
  if (value !== undefined) return value;
  repairs.note(`policy:${where}`, `unknown policy "${clean(raw)}" in ${where} ignored`);
  return null;
}

export function readLowerWord(raw: string | null): string | null {
  const value = optional(raw);
  return value === null ? null : value.toLowerCase();
}

export function readPercent(raw: string | null, where: string, repairs: RepairLog): number | null {
  const value = optional(raw);
  if (value === null) return null;
  const n = Number(value);
  if (Number.isInteger(n) && n >= 0 && n <= 100) return n;
  repairs.note(`pct:${where}`, `"${value}" in ${where} is not a percentage; ignored`);
  return null;
}

/**
 * Whether a source_ip can be an address: only address characters (digits, hex, dots, colons, a zone's %),
 * and either a colon (IPv6) or three dots (IPv4). Only a repair note depends on it, so it trades node:net's
 * full regular expressions (a measurable share of the parse) for one scan.
 */
export function looksLikeIp(value: string): boolean {
  const n = value.length;
  if (n < 2 || n > 64) return false;
  let dots = 0;
  let colons = 0;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c === 46) dots++;
    else if (c === 58) colons++;
    else if (!(c < 128 && IP_CHARS[c] === 1)) return false;
  }
  return colons > 0 || dots === 3;
}
const IP_CHARS = new Uint8Array(128);
for (const ch of '0123456789abcdefABCDEF%') IP_CHARS[ch.charCodeAt(0)] = 1;

/** A message count: a non-negative integer, digits only (the common case) read without Number(). */
export function readCount(raw: string): number | undefined {
  const value = clean(raw);
  const n = value.length;
  if (n === 0 || n > 15) return undefined;
  let result = 0;
  for (let i = 0; i < n; i++) {
    const d = value.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return undefined;
    result = result * 10 + d;
  }
  return result;
}

/**
 * A date_range bound, seconds since the epoch, as ISO 8601 UTC. Milliseconds (13 digits) and ISO dates are
 * what a few reporters send instead; both are clear, so read and noted.
 */
export function readTimestamp(raw: string, where: string, repairs: RepairLog): string | undefined {
  const value = clean(raw);
  if (value === '') return undefined;
  let seconds = Number(value);
  if (!Number.isFinite(seconds)) {
    const parsed = Date.parse(value);
    if (Number.isNaN(parsed)) return undefined;
    repairs.note(`date:${where}`, `${where} "${value}" is a date, not epoch seconds; read as a date`);
    seconds = parsed / 1000;
  } else if (seconds > 1e11) {
    repairs.note(`date:${where}`, `${where} "${value}" is in milliseconds, not seconds; divided by 1000`);
    seconds /= 1000;
  }
  if (seconds < 0 || seconds > 253402300799) return undefined;
  return new Date(Math.floor(seconds) * 1000).toISOString().replace('.000Z', 'Z');
}
