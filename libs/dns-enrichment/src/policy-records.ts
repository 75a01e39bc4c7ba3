// Picking the DMARC and SPF records out of a name's TXT records. A TXT record is one or more
// character-strings; RFC 7208 §3.3 and RFC 7489 §6.4 read them concatenated without separators.

/** Each TXT record as one string. */
export function joinTxt(records: ReadonlyArray<{ readonly strings?: readonly string[] }>): string[] {
  return records.map((r) => (r.strings ?? []).join(''));
}

// "v=DMARC1" must be the first tag (RFC 7489 §6.4); whitespace around '=' and before ';' is allowed.
const DMARC_START = /^v\s*=\s*DMARC1\s*(;|$)/i;
// "v=spf1" followed by a space or the end (RFC 7208 §4.5): "v=spf10" is not an SPF record.
const SPF_START = /^v=spf1(\s|$)/i;

/**
 * The one record that starts with the version tag, or null when there is none or more than one: with
 * several, neither applies (RFC 7489 §6.6.3 step 5; RFC 7208 §4.5 permerror), so there is no record to
 * report; the dns-check endpoint explains why.
 */
function single(txts: readonly string[], start: RegExp): string | null {
  const found = txts.filter((t) => start.test(t.trimStart()));
  return found.length === 1 ? found[0] : null;
}

export function pickDmarcRecord(txts: readonly string[]): string | null {
  return single(txts, DMARC_START);
}

export function pickSpfRecord(txts: readonly string[]): string | null {
  return single(txts, SPF_START);
}
