/** The records the watcher follows. */
export type WatchedRecordType = 'DMARC' | 'SPF' | 'DKIM';

// DMARC (RFC 7489 §6.4) and DKIM (RFC 6376 §3.2) records are tag lists: whitespace around `;`, `=` and
// list commas, and a trailing `;`, mean nothing. DKIM also allows whitespace anywhere in a value (the
// base64 key is often split by the publisher's DNS console). SPF (RFC 7208 §4.6.1) separates terms by
// one or more spaces.
function normaliseTagList(record: string, type: 'DMARC' | 'DKIM'): string {
  const tags: string[] = [];
  for (const part of record.split(';')) {
    const spec = part.replace(/\s+/g, ' ').trim();
    if (spec === '') continue;
    const eq = spec.indexOf('=');
    if (eq < 0) {
      tags.push(spec);
      continue;
    }
    const name = spec.slice(0, eq).trim();
    const raw = spec.slice(eq + 1);
    const value = type === 'DKIM' ? raw.replace(/\s+/g, '') : raw.trim().replace(/\s*,\s*/g, ',');
    tags.push(`${name}=${value}`);
  }
  return tags.join('; ');
}

/**
 * One TXT record in the form the watcher stores and compares: two records that differ only in
 * insignificant whitespace (or a trailing `;` of a tag list) normalise to the same text, so that is no change.
 */
export function normaliseRecord(type: WatchedRecordType, record: string): string {
  return type === 'SPF' ? record.replace(/\s+/g, ' ').trim() : normaliseTagList(record, type);
}

const IS_DMARC = /^v=dmarc1(;|$)/i;
const IS_SPF = /^v=spf1( |$)/i;

/**
 * The watched value in a TXT answer: the records of the type (DMARC: `v=DMARC1`, SPF: `v=spf1`, DKIM:
 * every TXT record at the selector's name), normalised, sorted and joined by a newline; null when there is
 * none. Several records are kept, not one picked: a second DMARC or SPF record makes both invalid
 * (RFC 7489 §6.6.3, RFC 7208 §4.5), which is a change worth telling.
 *
 * `txt` holds one element per TXT record, its character-strings already joined (RFC 7208 §3.3).
 */
export function selectRecord(type: WatchedRecordType, txt: readonly string[]): string | null {
  const records = txt.map((r) => normaliseRecord(type, r)).filter((r) => (type === 'DMARC' ? IS_DMARC.test(r) : type === 'SPF' ? IS_SPF.test(r) : r !== ''));
  if (records.length === 0) return null;
  return [...new Set(records)].sort().join('\n');
}

/** A stored value normalised again, so a value written by an older normalisation compares equal. */
export function normaliseValue(type: WatchedRecordType, value: string | null): string | null {
  if (value === null) return null;
  return [...new Set(value.split('\n').map((r) => normaliseRecord(type, r)))].sort().join('\n');
}
