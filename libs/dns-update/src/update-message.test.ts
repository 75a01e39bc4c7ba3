import * as packet from 'dns-packet';
import { NSUPDATE_MESSAGE } from './__fixtures__/nsupdate-vector';
import { splitTsig } from './tsig';
import { encodeTxtReplacement, rcodeName, readUpdateResponse, txtStrings } from './update-message';

/** The sections of a message as dns-packet (the codec of @dmarc/dns-wire) reads them, without the id. */
const sections = (bytes: Buffer) => {
  const m = packet.decode(bytes) as packet.DecodedPacket & { opcode: string; flags: number };
  return { opcode: m.opcode, flags: m.flags, questions: m.questions, answers: m.answers, authorities: m.authorities, additionals: m.additionals };
};

describe('the UPDATE message (RFC 2136)', () => {
  const replacement = { id: 0x1eb9, zone: 'autopilot.test', name: '_dmarc.d1.autopilot.test', ttl: 300, text: 'v=DMARC1; p=reject' };

  it('reads back as nsupdate\'s own message for the same change: zone SOA, no prerequisite, delete the TXT RRset, add the TXT', () => {
    const ours = encodeTxtReplacement(replacement);
    expect(sections(ours)).toEqual(sections(splitTsig(NSUPDATE_MESSAGE).unsigned));
    expect(sections(ours)).toMatchObject({
      opcode: 'UPDATE',
      questions: [{ name: 'autopilot.test', type: 'SOA', class: 'IN' }],
      answers: [],
      authorities: [
        { name: '_dmarc.d1.autopilot.test', type: 'TXT', class: 'ANY', ttl: 0, data: [] },
        { name: '_dmarc.d1.autopilot.test', type: 'TXT', class: 'IN', ttl: 300, data: [Buffer.from('v=DMARC1; p=reject')] },
      ],
    });
    expect(ours.readUInt16BE(0)).toBe(0x1eb9);
  });

  it('splits a record longer than 255 bytes into character-strings, never inside a UTF-8 character', () => {
    const long = `v=DMARC1; p=none; rua=${'mailto:a@example.test,'.repeat(20)}`;
    const strings = txtStrings(long);
    expect(strings.map((s) => s.length)).toEqual([255, Buffer.byteLength(long) - 255]);
    expect(Buffer.concat(strings).toString()).toBe(long);
    const accented = `${'a'.repeat(254)}é${'b'.repeat(10)}`;
    const parts = txtStrings(accented);
    expect(parts[0]).toHaveLength(254);
    expect(parts.map((p) => p.toString()).join('')).toBe(accented);
    expect(txtStrings('')).toEqual([Buffer.alloc(0)]);
  });

  it('reads the RCODE of the answer to its own id only', () => {
    const answer = (id: number, flags: number) => {
      const b = Buffer.alloc(12);
      b.writeUInt16BE(id, 0);
      b.writeUInt16BE(flags, 2);
      return b;
    };
    expect(readUpdateResponse(answer(7, 0x8000 | (5 << 11) | 9), 7)).toEqual({ kind: 'answer', rcode: 9 });
    expect(readUpdateResponse(answer(8, 0x8000 | (5 << 11)), 7)).toMatchObject({ kind: 'not-ours' });
    expect(readUpdateResponse(answer(7, 5 << 11), 7)).toEqual({ kind: 'not-ours', reason: 'not a response' });
    expect(() => readUpdateResponse(answer(7, 0x8000), 7)).toThrow(/opcode 0, not UPDATE/);
    expect(() => readUpdateResponse(Buffer.alloc(5), 7)).toThrow(/shorter than a header/);
  });

  it('names the RCODEs of RFC 1035 and RFC 2136', () => {
    expect([0, 2, 5, 9, 10, 42].map(rcodeName)).toEqual(['NOERROR', 'SERVFAIL', 'REFUSED', 'NOTAUTH', 'NOTZONE', 'RCODE 42']);
  });
});
