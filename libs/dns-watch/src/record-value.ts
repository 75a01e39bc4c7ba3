import type { DnsWatchedRecordType } from '@dmarc/contracts';

/** The records the watcher follows (the schema's enum). */
export type WatchedRecordType = DnsWatchedRecordType;

/** A record as stored and published: its text with whitespace runs collapsed to one space, trimmed. */
export function collapseWhitespace(record: string): string {
  return record.replace(/\s+/g, ' ').trim();
}

// DMARC (RFC 7489 §6.4) and DKIM (RFC 6376 §3.2) records are tag lists: whitespace around `;`, `=` and
// list commas, and a trailing `;`, mean nothing. DKIM also allows whitespace anywhere in a value (the
// base64 key is often split by the publisher's DNS console). SPF (RFC 7208 §4.6.1) separates terms by
// one or more spaces, so collapsing is all it needs.
function canonicalTagList(record: string, type: 'DMARC' | 'DKIM'): string {
  const tags: string[] = [];
  for (const part of record.split(';')) {
    const spec = collapseWhitespace(part);
    if (spec === '') continue;
    const eq = spec.indexOf('=');
    if (eq < 0) {
      tags.push(spec);
      continue;
    }
    const raw = spec.slice(eq + 1);
    tags.push(`${spec.slice(0, eq).trim()}=${type === 'DKIM' ? raw.replace(/\s+/g, '') : raw.trim().replace(/\s*,\s*/g, ',')}`);
  }
  return tags.join(';');
}

/**
 * The form two records are compared in: records that differ only in whitespace the record's syntax ignores
 * (or a tag list's trailing `;`) have the same canonical form, so such a difference is no change.
 */
export function canonicalRecord(type: WatchedRecordType, record: string): string {
  return type === 'SPF' ? collapseWhitespace(record) : canonicalTagList(record, type);
}

const IS_DMARC = /^v=dmarc1(;|$)/i;
const IS_SPF = /^v=spf1( |$)/i;

function isOfType(type: WatchedRecordType, record: string): boolean {
  if (type === 'DKIM') return record !== '';
  return (type === 'DMARC' ? IS_DMARC : IS_SPF).test(canonicalRecord(type, record));
}

/**
 * The watched value in a TXT answer: the records of the type (DMARC: `v=DMARC1`, SPF: `v=spf1`, DKIM:
 * every TXT record at the selector's name), whitespace collapsed, sorted and joined by a newline; null when
 * there is none. Several records are kept, not one picked: a second DMARC or SPF record makes both invalid
 * (RFC 7489 §6.6.3, RFC 7208 §4.5), which is a change worth telling.
 *
 * `txt` holds one element per TXT record, its character-strings already joined (RFC 7208 §3.3).
 */
export function selectRecord(type: WatchedRecordType, txt: readonly string[]): string | null {
  const records = txt.map(collapseWhitespace).filter((r) => isOfType(type, r));
  return records.length === 0 ? null : [...new Set(records)].sort().join('\n');
}

/** Whether two watched values (selectRecord's, or null) hold the same records, whitespace aside. */
export function sameValue(type: WatchedRecordType, a: string | null, b: string | null): boolean {
  if (a === null || b === null) return a === b;
  const canonical = (v: string) => [...new Set(v.split('\n').map((r) => canonicalRecord(type, r)))].sort().join('\n');
  return canonical(a) === canonical(b);
}
