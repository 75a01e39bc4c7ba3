import { NSUPDATE_KEY, NSUPDATE_MESSAGE } from './__fixtures__/nsupdate-vector';
import { encodeTxtReplacement } from './update-message';
import { answerSignatureProblem, signMessage, splitTsig, tsigMac, type TsigKey } from './tsig';

const key: TsigKey = { name: NSUPDATE_KEY.name, algorithm: NSUPDATE_KEY.algorithm, secret: Buffer.from(NSUPDATE_KEY.secret, 'base64') };

describe('TSIG (RFC 8945) against a message signed by BIND nsupdate', () => {
  const { unsigned, tsig } = splitTsig(NSUPDATE_MESSAGE);

  it('reads the TSIG record and restores the message as it was before signing', () => {
    expect(tsig).toMatchObject({ keyName: 'autopilot-key', algorithm: 'hmac-sha256', fudge: 300, error: 0, originalId: 0x1eb9 });
    expect(tsig!.mac).toHaveLength(32);
    expect(unsigned.readUInt16BE(10)).toBe(0); // ARCOUNT without the TSIG
    expect(unsigned.length).toBeLessThan(NSUPDATE_MESSAGE.length);
  });

  it("computes nsupdate's MAC from the message and the key", () => {
    expect(tsigMac(key, unsigned, tsig!).toString('hex')).toBe(tsig!.mac.toString('hex'));
  });

  it('signs the unsigned message into the exact bytes nsupdate sent', () => {
    expect(signMessage(unsigned, key, tsig!.timeSigned).signed.toString('hex')).toBe(NSUPDATE_MESSAGE.toString('hex'));
  });

  it('gives another MAC for another secret or another time', () => {
    const other = { ...key, secret: Buffer.alloc(32, 7) };
    expect(tsigMac(other, unsigned, tsig!).equals(tsig!.mac)).toBe(false);
    expect(tsigMac(key, unsigned, { ...tsig!, timeSigned: tsig!.timeSigned + 1 }).equals(tsig!.mac)).toBe(false);
  });
});

describe('checking the signature of an answer', () => {
  const now = 1_800_000_000;
  const request = signMessage(encodeTxtReplacement({ id: 0xabcd, zone: 'example.test', name: '_dmarc.example.test', ttl: 300, text: 'v=DMARC1; p=none' }), key, now);
  // An UPDATE response header (QR, opcode 5, NOERROR) with the request's id and no records.
  const response = Buffer.from('abcda8000000000000000000', 'hex');
  const answer = (bytes = response, signer = key, time = now) => splitTsig(signMessage(bytes, signer, time, { requestMac: request.mac }).signed);

  it('accepts an answer signed over the request MAC with the same key', () => {
    const { unsigned, tsig } = answer();
    expect(answerSignatureProblem(key, unsigned, tsig!, request.mac, now + 5)).toBeUndefined();
  });

  it('refuses an answer changed after signing, signed with another secret, key name or algorithm, or over another request', () => {
    const { tsig } = answer();
    const tampered = Buffer.from(response);
    tampered[3] = 0x05; // NOERROR -> REFUSED
    expect(answerSignatureProblem(key, tampered, tsig!, request.mac, now)).toMatch(/MAC does not match/);
    const forged = answer(response, { ...key, secret: Buffer.alloc(32, 1) });
    expect(answerSignatureProblem(key, forged.unsigned, forged.tsig!, request.mac, now)).toMatch(/MAC does not match/);
    const renamed = answer(response, { ...key, name: 'other-key' });
    expect(answerSignatureProblem(key, renamed.unsigned, renamed.tsig!, request.mac, now)).toMatch(/key other-key/);
    const sha512 = answer(response, { ...key, algorithm: 'hmac-sha512' });
    expect(answerSignatureProblem(key, sha512.unsigned, sha512.tsig!, request.mac, now)).toMatch(/hmac-sha512/);
    const good = answer();
    expect(answerSignatureProblem(key, good.unsigned, good.tsig!, Buffer.alloc(32), now)).toMatch(/MAC does not match/);
  });

  it('refuses an answer signed outside the fudge window', () => {
    const { unsigned, tsig } = answer(response, key, now - 301);
    expect(answerSignatureProblem(key, unsigned, tsig!, request.mac, now)).toMatch(/-?301 s from this clock/);
  });

  it('carries a TSIG error with an empty MAC for BADSIG and BADKEY', () => {
    const { tsig } = splitTsig(signMessage(response, key, now, { requestMac: request.mac, error: 16 }).signed);
    expect(tsig).toMatchObject({ error: 16, mac: Buffer.alloc(0) });
  });

  it('finds no TSIG in an unsigned message, and refuses bytes that are not a message', () => {
    expect(splitTsig(response)).toEqual({ unsigned: response });
    expect(() => splitTsig(Buffer.from('abcd', 'hex'))).toThrow(/shorter than a header/);
    const cut = request.signed.subarray(0, request.signed.length - 4);
    expect(() => splitTsig(cut)).toThrow();
  });
});
