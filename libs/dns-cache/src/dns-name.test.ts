import { InvalidNameError, UnsupportedTypeError } from './errors';
import { checkType, escapeKeyPart, normalizeName, sharedKey } from './dns-name';

describe('dns names and keys', () => {
  it('normalises case and the root dot', () => {
    expect(normalizeName('_DMARC.Example.COM.')).toBe('_dmarc.example.com');
    expect(normalizeName('s1._domainkey.example.org')).toBe('s1._domainkey.example.org');
    expect(normalizeName('4.3.2.1.in-addr.arpa')).toBe('4.3.2.1.in-addr.arpa');
  });

  it.each([
    ['', 'empty name'],
    ['.', 'empty name'],
    ['a..b', 'empty label'],
    [`${'a'.repeat(64)}.com`, 'label longer than 63'],
    [`${'abcdefghi.'.repeat(25)}abcd`, 'longer than 253'],
    ['exa mple.com', 'character outside'],
    ['example.com:tenant:1', 'character outside'],
    ['-bad.com', "starts/ends with '-'"],
    ['ex*ample.com', 'character outside'],
  ])('refuses %j with the reason', (name, reason) => {
    const error = (() => {
      try {
        normalizeName(name);
      } catch (e) {
        return e;
      }
    })() as InvalidNameError;
    expect(error).toBeInstanceOf(InvalidNameError);
    expect(error.code).toBe('DNS_INVALID_NAME');
    expect(error.retriable).toBe(false);
    expect(error.message).toContain(reason);
  });

  it('accepts the five cached types, in any case, and nothing else', () => {
    expect(checkType('txt')).toBe('TXT');
    for (const t of ['A', 'AAAA', 'MX', 'PTR', 'TXT']) expect(checkType(t)).toBe(t);
    for (const t of ['CNAME', 'SOA', 'ANY', '', 'TXT ']) expect(() => checkType(t)).toThrow(UnsupportedTypeError);
  });

  it('builds global:dns:{type}:{escaped name} keys no name can escape from', () => {
    expect(sharedKey('TXT', '_dmarc.example.com')).toBe('global:dns:txt:_dmarc.example.com');
    expect(escapeKeyPart('a:b*c%d{e}')).toBe('a%3ab%2ac%25d%7be%7d');
    expect(escapeKeyPart('tenant:1:x')).not.toContain(':');
  });
});
