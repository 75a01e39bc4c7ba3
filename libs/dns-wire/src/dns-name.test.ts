import { nameProblem, normaliseName, reverseName } from './dns-name';

describe('DNS names', () => {
  it('normalises to lower case without the trailing dot', () => {
    expect(normaliseName('_DMARC.Example.COM.')).toBe('_dmarc.example.com');
    expect(normaliseName('.')).toBe('');
  });

  it('says why a name cannot be asked', () => {
    expect(nameProblem('_dmarc.example.com')).toBeUndefined();
    expect(nameProblem('')).toBe('empty name');
    expect(nameProblem('a..b')).toBe('empty label');
    expect(nameProblem(`${'a'.repeat(64)}.com`)).toContain('at most 63');
    expect(nameProblem(Array(64).fill('abc').join('.'))).toContain('at most 253');
    expect(nameProblem('exa mple.com')).toContain('printable ASCII');
    expect(nameProblem('bücher.de')).toContain('printable ASCII');
  });

  it('builds reverse names for IPv4 and IPv6', () => {
    expect(reverseName('192.0.2.10')).toBe('10.2.0.192.in-addr.arpa');
    expect(reverseName('2001:db8::1')).toBe(`1.0.0.0.${'0.'.repeat(20)}8.b.d.0.1.0.0.2.ip6.arpa`);
    expect(reverseName('::ffff:192.0.2.1')).toBe(reverseName('0:0:0:0:0:ffff:c000:201'));
    expect(() => reverseName('example.com')).toThrow(TypeError);
  });
});
