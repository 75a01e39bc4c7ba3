// One question out, one answer in: the wire format through dns-packet, and the checks that decide
// whether a packet really answers our question (RFC 5452) before anything in it is believed.
import * as packet from 'dns-packet';
import { normaliseName } from './dns-name';
import type { DnsRecord, Rcode, RecordType } from './upstream';

/** RFC 6891 / DNS flag day 2020: large enough for most answers, small enough never to fragment. */
export const EDNS_UDP_SIZE = 1232;
/** CNAME links followed inside one answer before it is taken for a loop. */
const MAX_CHAIN = 16;
/** RFC 2181 §8: a TTL with the top bit set is read as zero. */
const MAX_TTL = 0x7fffffff;

const RCODES: Record<number, Rcode> = { 0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED' };

export interface Question {
  readonly id: number;
  /** Normalised. */
  readonly name: string;
  readonly type: RecordType;
}

export function encodeQuery(q: Question, edns: boolean): Buffer {
  return packet.encode({
    type: 'query',
    id: q.id,
    flags: packet.RECURSION_DESIRED,
    questions: [{ type: q.type, name: q.name === '' ? '.' : q.name, class: 'IN' }],
    additionals: edns ? [{ type: 'OPT', name: '.', udpPayloadSize: EDNS_UDP_SIZE, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] : [],
  });
}

export type Reading =
  /** Not an answer to our question (wrong id, name or type, or not a response): ignore it, keep waiting. */
  | { kind: 'not-ours'; reason: string }
  /** Our question, but the rcode is outside what the contract knows. */
  | { kind: 'unknown-rcode'; rcode: number }
  | { kind: 'answer'; rcode: Rcode; truncated: boolean; hasOpt: boolean; answers: DnsRecord[]; negativeTtl?: number };

/** Reads a response to `q`. Throws when the bytes are not a DNS message at all. */
export function readResponse(bytes: Buffer, q: Question): Reading {
  let msg: packet.DecodedPacket & { flags: number };
  try {
    msg = packet.decode(bytes) as typeof msg;
    // dns-packet reads past the end of a short buffer without complaint (a cut TXT comes out shorter).
    if (packet.decode.bytes > bytes.length) throw new Error(`message cut short (${bytes.length} of ${packet.decode.bytes} bytes)`);
  } catch (err) {
    // Some servers cut a too-long UDP answer mid-record and set TC: the header and the question are
    // still whole, and are all a client needs to go and ask over TCP.
    const cut = truncatedHeader(bytes);
    if (!cut) throw err;
    msg = cut;
  }
  if (!msg.flag_qr) return { kind: 'not-ours', reason: 'not a response' };
  if (msg.id !== q.id) return { kind: 'not-ours', reason: `id ${msg.id}, asked ${q.id}` };
  const opt = (msg.additionals ?? []).find((a): a is packet.OptAnswer => a.type === 'OPT');
  const rcodeNumber = ((opt?.extendedRcode ?? 0) << 4) | (msg.flags & 0xf);
  const rcode = RCODES[rcodeNumber];
  const questions = msg.questions ?? [];
  // Servers may drop the question from an error response (FORMERR, REFUSED...); such a packet carries no
  // data to poison with, so only answers that could be cached must echo the question.
  const echoOptional = questions.length === 0 && rcode !== 'NOERROR' && rcode !== 'NXDOMAIN' && (msg.answers ?? []).length === 0;
  if (!echoOptional) {
    if (questions.length !== 1) return { kind: 'not-ours', reason: `${questions.length} questions` };
    const echoed = questions[0]!;
    if (normaliseName(echoed.name) !== q.name || echoed.type !== q.type) {
      return { kind: 'not-ours', reason: `question ${echoed.name} ${echoed.type}` };
    }
  }
  if (rcode === undefined) return { kind: 'unknown-rcode', rcode: rcodeNumber };

  const records = (msg.answers ?? []).flatMap((a) => toRecord(a) ?? []);
  const answers = chain(records, q);
  const reading: Reading = { kind: 'answer', rcode, truncated: msg.flag_tc, hasOpt: opt !== undefined, answers };
  const nodata = rcode === 'NOERROR' && !answers.some((r) => r.type === q.type);
  if (rcode === 'NXDOMAIN' || nodata) {
    const soa = (msg.authorities ?? []).flatMap((a) => toRecord(a) ?? []).find((r) => r.type === 'SOA');
    // RFC 2308 §5: the SOA's own TTL and its MINIMUM field, whichever is lower.
    if (soa?.type === 'SOA') reading.negativeTtl = Math.min(soa.ttl, soa.minimum);
  }
  return reading;
}

/** The header and question of a truncated (TC) response whose records do not decode, else undefined. */
function truncatedHeader(bytes: Buffer): (packet.DecodedPacket & { flags: number }) | undefined {
  if (bytes.length < 12 || (bytes.readUInt16BE(2) & packet.TRUNCATED_RESPONSE) === 0) return undefined;
  const head = Buffer.from(bytes);
  head.fill(0, 6, 12); // no answer, authority or additional records: decode the question alone
  try {
    const msg = packet.decode(head) as packet.DecodedPacket & { flags: number };
    return { ...msg, answers: [], authorities: [], additionals: [] };
  } catch {
    return undefined;
  }
}

/**
 * The answer section restricted to the chain that starts at the question: its CNAMEs in order, then the
 * records of the asked type at the chain's end. Anything else in the section (records of other owners) is
 * dropped, so an answer for one name cannot plant records for another.
 */
function chain(records: DnsRecord[], q: Question): DnsRecord[] {
  const out: DnsRecord[] = [];
  let owner = q.name;
  if (q.type !== 'CNAME') {
    const seen = new Set([owner]);
    for (let i = 0; i < MAX_CHAIN; i++) {
      const link = records.find((r) => r.type === 'CNAME' && r.name === owner);
      if (link?.type !== 'CNAME') break;
      out.push(link);
      owner = link.target;
      if (seen.has(owner)) break;
      seen.add(owner);
    }
  }
  for (const r of records) if (r.type === q.type && r.name === owner) out.push(r);
  return out;
}

function toRecord(a: packet.Answer): DnsRecord | undefined {
  if (a.type === 'OPT' || (a.class !== undefined && a.class !== 'IN')) return undefined;
  const name = normaliseName(a.name);
  const ttl = a.ttl === undefined || a.ttl > MAX_TTL ? 0 : a.ttl;
  switch (a.type) {
    case 'A':
    case 'AAAA':
      return { type: a.type, name, ttl, address: a.data };
    case 'TXT': {
      const data = Array.isArray(a.data) ? a.data : [a.data];
      return { type: 'TXT', name, ttl, strings: data.map((s) => (typeof s === 'string' ? s : s.toString('utf8'))) };
    }
    case 'MX':
      return { type: 'MX', name, ttl, preference: a.data.preference ?? 0, exchange: normaliseName(a.data.exchange) };
    case 'PTR':
    case 'CNAME':
    case 'NS':
      return { type: a.type, name, ttl, target: normaliseName(a.data) };
    case 'SOA':
      return {
        type: 'SOA',
        name,
        ttl,
        mname: normaliseName(a.data.mname),
        rname: normaliseName(a.data.rname),
        serial: a.data.serial ?? 0,
        minimum: a.data.minimum ?? 0,
      };
    default:
      return undefined;
  }
}
