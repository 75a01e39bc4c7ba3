// The DNS UPDATE message (RFC 2136) that replaces one name's TXT records, through dns-packet, the codec
// @dmarc/dns-wire uses: zone section = the zone's SOA question, no prerequisite, update section = "delete
// the TXT RRset at the name" (class ANY, TTL 0, no data, §2.5.2) then "add this TXT" (class IN, §2.5.1). The
// server applies the update section atomically, so no reader ever sees the name with no DMARC record.
import * as packet from 'dns-packet';

const OPCODE_UPDATE = 5;
/** A TXT character-string holds at most 255 bytes (RFC 1035 §3.3); longer records are split. */
const MAX_STRING = 255;

/** The RCODE names of RFC 1035 and RFC 2136 (and RFC 8945's TSIG errors, which reach the header only through EDNS). */
const RCODE_NAMES: Record<number, string> = {
  0: 'NOERROR',
  1: 'FORMERR',
  2: 'SERVFAIL',
  3: 'NXDOMAIN',
  4: 'NOTIMP',
  5: 'REFUSED',
  6: 'YXDOMAIN',
  7: 'YXRRSET',
  8: 'NXRRSET',
  9: 'NOTAUTH',
  10: 'NOTZONE',
};

export const rcodeName = (rcode: number): string => RCODE_NAMES[rcode] ?? `RCODE ${rcode}`;

export interface TxtReplacement {
  readonly id: number;
  /** The zone the name is in (the SOA the server must be primary for). */
  readonly zone: string;
  /** The owner name, inside the zone. */
  readonly name: string;
  readonly ttl: number;
  /** The record's text, split here into character-strings of at most 255 bytes. */
  readonly text: string;
}

/** Splits a TXT record's text into character-strings of at most 255 bytes, never inside a UTF-8 sequence. */
export function txtStrings(text: string): Buffer[] {
  const bytes = Buffer.from(text, 'utf8');
  const out: Buffer[] = [];
  let at = 0;
  while (at < bytes.length) {
    let end = Math.min(at + MAX_STRING, bytes.length);
    // Back off continuation bytes (10xxxxxx) so a character is not cut in two.
    while (end < bytes.length && end > at && (bytes[end]! & 0xc0) === 0x80) end--;
    out.push(bytes.subarray(at, end));
    at = end;
  }
  return out.length === 0 ? [Buffer.alloc(0)] : out;
}

/** The unsigned UPDATE message. */
export function encodeTxtReplacement(u: TxtReplacement): Buffer {
  return packet.encode({
    type: 'query',
    id: u.id,
    flags: OPCODE_UPDATE << 11,
    questions: [{ name: u.zone, type: 'SOA', class: 'IN' }],
    answers: [],
    authorities: [
      { name: u.name, type: 'TXT', class: 'ANY', ttl: 0, data: [] },
      { name: u.name, type: 'TXT', class: 'IN', ttl: u.ttl, data: txtStrings(u.text) },
    ],
  });
}

export type UpdateReading = { kind: 'not-ours'; reason: string } | { kind: 'answer'; rcode: number };

/** Reads the header of a response to the UPDATE with `id` (its TSIG is checked by the caller). */
export function readUpdateResponse(bytes: Buffer, id: number): UpdateReading {
  if (bytes.length < 12) throw new Error(`message of ${bytes.length} bytes, shorter than a header`);
  const flags = bytes.readUInt16BE(2);
  if ((flags & 0x8000) === 0) return { kind: 'not-ours', reason: 'not a response' };
  if (bytes.readUInt16BE(0) !== id) return { kind: 'not-ours', reason: `id ${bytes.readUInt16BE(0)}, sent ${id}` };
  const opcode = (flags >> 11) & 0xf;
  if (opcode !== OPCODE_UPDATE) throw new Error(`response with opcode ${opcode}, not UPDATE`);
  return { kind: 'answer', rcode: flags & 0xf };
}
