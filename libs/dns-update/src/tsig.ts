// TSIG (RFC 8945): a shared-secret HMAC over a DNS message, the key the primary's allow-update names. The
// request is signed here; the answer's signature is checked before its RCODE is believed, since an unsigned
// "NOERROR" could come from anyone on the path.
import { createHmac, timingSafeEqual } from 'node:crypto';
import * as packet from 'dns-packet';

/** Only the SHA-2 HMACs: hmac-md5 and hmac-sha1 are not accepted (RFC 8945 §6). */
export const TSIG_ALGORITHMS = ['hmac-sha256', 'hmac-sha384', 'hmac-sha512'] as const;
export type TsigAlgorithm = (typeof TSIG_ALGORITHMS)[number];
const HASH: Record<TsigAlgorithm, string> = { 'hmac-sha256': 'sha256', 'hmac-sha384': 'sha384', 'hmac-sha512': 'sha512' };

/** Seconds of clock difference both ends accept (RFC 8945 §5.2.3 recommends 300). */
export const TSIG_FUDGE = 300;
const TYPE_TSIG = 250;
const CLASS_ANY = 255;
/** The TSIG error field's values (RFC 8945 §3, IANA "DNS RCODEs"). */
const TSIG_ERRORS: Record<number, string> = { 16: 'BADSIG', 17: 'BADKEY', 18: 'BADTIME', 22: 'BADTRUNC' };

export const tsigErrorName = (error: number): string => TSIG_ERRORS[error] ?? `TSIG error ${error}`;

export interface TsigKey {
  /** The key's name as the server knows it (`key "name" { ... }` in named.conf). */
  readonly name: string;
  readonly algorithm: TsigAlgorithm;
  readonly secret: Buffer;
}

/** The RDATA of a TSIG record. */
export interface TsigRecord {
  readonly keyName: string;
  readonly algorithm: string;
  /** Seconds since the epoch. */
  readonly timeSigned: number;
  readonly fudge: number;
  readonly mac: Buffer;
  readonly originalId: number;
  /** 0, or BADSIG (16), BADKEY (17), BADTIME (18)... */
  readonly error: number;
  readonly otherData: Buffer;
}

/** dns-packet's name codec: exported by the library, missing from @types/dns-packet. */
const names = (packet as unknown as { name: { encode(name: string): Buffer; decode: ((buf: Buffer, offset: number) => string) & { bytes: number } } }).name;

/** A name in canonical wire form: lower case, uncompressed (RFC 8945 §4.3.3). */
function wireName(name: string): Buffer {
  return names.encode(name.toLowerCase().replace(/\.$/, ''));
}

function uint48(seconds: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUIntBE(seconds, 0, 6);
  return b;
}

/** The MAC of `message` (without its TSIG record, with its original id); `requestMac` for an answer (§4.3.2). */
export function tsigMac(key: TsigKey, message: Buffer, fields: Pick<TsigRecord, 'timeSigned' | 'fudge' | 'error' | 'otherData'>, requestMac?: Buffer): Buffer {
  const hmac = createHmac(HASH[key.algorithm], key.secret);
  if (requestMac) {
    const length = Buffer.alloc(2);
    length.writeUInt16BE(requestMac.length);
    hmac.update(length).update(requestMac);
  }
  hmac.update(message);
  // The TSIG variables (§4.3.3): key name, class, TTL, algorithm, time, fudge, error, other data.
  const tail = Buffer.alloc(2 + 4);
  tail.writeUInt16BE(CLASS_ANY, 0);
  tail.writeUInt32BE(0, 2);
  const rest = Buffer.alloc(2 + 2 + 2);
  rest.writeUInt16BE(fields.fudge, 0);
  rest.writeUInt16BE(fields.error, 2);
  rest.writeUInt16BE(fields.otherData.length, 4);
  hmac.update(wireName(key.name)).update(tail).update(wireName(key.algorithm)).update(uint48(fields.timeSigned)).update(rest).update(fields.otherData);
  return hmac.digest();
}

/**
 * `message` with a TSIG record appended (ARCOUNT + 1), and its MAC, which the answer's signature covers. An
 * answer is signed over its request's MAC too (`requestMac`); `error` is the TSIG error an answer reports.
 */
export function signMessage(message: Buffer, key: TsigKey, timeSigned: number, answer?: { requestMac: Buffer; error?: number }): { signed: Buffer; mac: Buffer } {
  const error = answer?.error ?? 0;
  const fields = { timeSigned, fudge: TSIG_FUDGE, error, otherData: Buffer.alloc(0) };
  // BADSIG and BADKEY answers carry no MAC (RFC 8945 §5.3.2): the server could not sign with a key it doubts.
  const mac = error === 16 || error === 17 ? Buffer.alloc(0) : tsigMac(key, message, fields, answer?.requestMac);
  const head = Buffer.alloc(2 + 2);
  head.writeUInt16BE(TSIG_FUDGE, 0);
  head.writeUInt16BE(mac.length, 2);
  const foot = Buffer.alloc(2 + 2 + 2);
  foot.writeUInt16BE(message.readUInt16BE(0), 0); // original id
  foot.writeUInt16BE(error, 2);
  const rdata = Buffer.concat([wireName(key.algorithm), uint48(timeSigned), head, mac, foot]);
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(TYPE_TSIG, 0);
  fixed.writeUInt16BE(CLASS_ANY, 2);
  fixed.writeUInt32BE(0, 4);
  fixed.writeUInt16BE(rdata.length, 8);
  const body = Buffer.from(message);
  body.writeUInt16BE(body.readUInt16BE(10) + 1, 10);
  return { signed: Buffer.concat([body, wireName(key.name), fixed, rdata]), mac };
}

/**
 * Splits a message into the message as it was before signing (TSIG record removed, ARCOUNT - 1, the original
 * id restored) and its TSIG record; `tsig` is undefined when the last additional record is not a TSIG.
 * Throws when the bytes are not a DNS message.
 */
export function splitTsig(bytes: Buffer): { unsigned: Buffer; tsig?: TsigRecord } {
  if (bytes.length < 12) throw new Error(`message of ${bytes.length} bytes, shorter than a header`);
  const additionals = bytes.readUInt16BE(10);
  if (additionals === 0) return { unsigned: bytes };
  // Decoding all but the last additional record tells where that last record starts.
  const head = Buffer.from(bytes);
  head.writeUInt16BE(additionals - 1, 10);
  packet.decode(head);
  const start = packet.decode.bytes;
  let at = start;
  const keyName = names.decode(bytes, at);
  at += names.decode.bytes;
  if (at + 10 > bytes.length) throw new Error('TSIG record cut short');
  if (bytes.readUInt16BE(at) !== TYPE_TSIG) return { unsigned: bytes };
  const rdlength = bytes.readUInt16BE(at + 8);
  at += 10;
  const end = at + rdlength;
  if (end !== bytes.length) throw new Error(`TSIG record of ${rdlength} bytes does not end the message`);
  const algorithm = names.decode(bytes, at);
  at += names.decode.bytes;
  const need = (n: number) => {
    if (at + n > end) throw new Error('TSIG record cut short');
  };
  need(10);
  const timeSigned = bytes.readUIntBE(at, 6);
  const fudge = bytes.readUInt16BE(at + 6);
  const macSize = bytes.readUInt16BE(at + 8);
  at += 10;
  need(macSize + 6);
  const mac = bytes.subarray(at, at + macSize);
  at += macSize;
  const originalId = bytes.readUInt16BE(at);
  const error = bytes.readUInt16BE(at + 2);
  const otherLength = bytes.readUInt16BE(at + 4);
  at += 6;
  need(otherLength);
  const otherData = bytes.subarray(at, at + otherLength);
  const unsigned = Buffer.from(bytes.subarray(0, start));
  unsigned.writeUInt16BE(originalId, 0);
  unsigned.writeUInt16BE(additionals - 1, 10);
  return { unsigned, tsig: { keyName: keyName.toLowerCase(), algorithm: algorithm.toLowerCase(), timeSigned, fudge, mac, originalId, error, otherData } };
}

/** Why an answer's signature cannot be trusted, or undefined when it can (§5.3). A TSIG error is the caller's to report. */
export function answerSignatureProblem(key: TsigKey, unsigned: Buffer, tsig: TsigRecord, requestMac: Buffer, nowSeconds: number): string | undefined {
  if (tsig.keyName !== key.name.toLowerCase().replace(/\.$/, '')) return `signed with key ${tsig.keyName}, not ${key.name}`;
  if (tsig.algorithm !== key.algorithm) return `signed with ${tsig.algorithm}, not ${key.algorithm}`;
  const expected = tsigMac(key, unsigned, tsig, requestMac);
  if (tsig.mac.length !== expected.length || !timingSafeEqual(tsig.mac, expected)) return 'its TSIG MAC does not match';
  if (Math.abs(nowSeconds - tsig.timeSigned) > tsig.fudge) return `signed at ${tsig.timeSigned}, ${nowSeconds - tsig.timeSigned} s from this clock (fudge ${tsig.fudge} s)`;
  return undefined;
}
