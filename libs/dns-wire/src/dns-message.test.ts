import * as packet from 'dns-packet';
import { encodeQuery, readResponse, type Question } from './dns-message';

const q: Question = { id: 4242, name: 'example.com', type: 'TXT' };

const encode = (overrides: Partial<packet.Packet>): Buffer =>
  packet.encode({
    type: 'response',
    id: q.id,
    flags: 0,
    questions: [{ name: 'Example.COM.', type: 'TXT', class: 'IN' }],
    ...overrides,
  });

describe('readResponse', () => {
  it('echoes our query back as not-ours (a query is not a response)', () => {
    expect(readResponse(encodeQuery(q, true), q)).toMatchObject({ kind: 'not-ours' });
  });

  it('reads a TC answer cut in the middle of a record as truncated, so the client goes to TCP', () => {
    const full = encode({
      flags: packet.TRUNCATED_RESPONSE,
      answers: [{ name: 'example.com', type: 'TXT', ttl: 60, class: 'IN', data: 'x'.repeat(200) }],
    });
    expect(readResponse(full.subarray(0, full.length - 50), q)).toEqual({ kind: 'answer', rcode: 'NOERROR', truncated: true, hasOpt: false, answers: [] });
    // Without TC the same bytes are simply unreadable.
    const cut = encode({ answers: [{ name: 'example.com', type: 'TXT', ttl: 60, class: 'IN', data: 'x'.repeat(200) }] });
    expect(() => readResponse(cut.subarray(0, cut.length - 50), q)).toThrow('cut short');
  });

  it('reads a TTL with the top bit set as 0 (RFC 2181)', () => {
    const r = readResponse(encode({ answers: [{ name: 'example.com', type: 'TXT', ttl: 0x80000000, class: 'IN', data: 'a' }] }), q);
    expect(r).toMatchObject({ kind: 'answer', answers: [{ ttl: 0 }] });
  });

  it('stops at a CNAME loop', () => {
    const r = readResponse(
      encode({
        answers: [
          { name: 'example.com', type: 'CNAME', ttl: 60, class: 'IN', data: 'b.example.com' },
          { name: 'b.example.com', type: 'CNAME', ttl: 60, class: 'IN', data: 'example.com' },
        ],
      }),
      q,
    );
    expect(r).toMatchObject({ kind: 'answer', rcode: 'NOERROR' });
    expect(r.kind === 'answer' && r.answers.map((a) => a.name)).toEqual(['example.com', 'b.example.com']);
  });

  it('takes the negative TTL from the authority SOA only for NXDOMAIN and NODATA', () => {
    const soa = { name: 'example.com', type: 'SOA' as const, ttl: 600, class: 'IN' as const, data: { mname: 'ns', rname: 'h', minimum: 900 } };
    expect(readResponse(encode({ flags: 3, authorities: [soa] }), q)).toMatchObject({ rcode: 'NXDOMAIN', negativeTtl: 600 });
    expect(readResponse(encode({ authorities: [{ ...soa, ttl: 3600 }] }), q)).toMatchObject({ rcode: 'NOERROR', negativeTtl: 900 });
    const withAnswer = readResponse(encode({ answers: [{ name: 'example.com', type: 'TXT', ttl: 60, class: 'IN', data: 'a' }], authorities: [soa] }), q);
    expect(withAnswer).not.toHaveProperty('negativeTtl');
    expect(readResponse(encode({ flags: 3 }), q)).not.toHaveProperty('negativeTtl');
  });

  it('accepts an error answer without the question, but not a data answer', () => {
    expect(readResponse(encode({ flags: 5, questions: [] }), q)).toMatchObject({ kind: 'answer', rcode: 'REFUSED' });
    expect(readResponse(encode({ questions: [], answers: [{ name: 'example.com', type: 'TXT', ttl: 60, class: 'IN', data: 'a' }] }), q)).toMatchObject({ kind: 'not-ours' });
  });
});
