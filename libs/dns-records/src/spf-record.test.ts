import type { Finding } from './findings';
import { isSpfRecord, parseSpfRecord, queriesDns, type SpfTerm } from './spf-record';

const codes = (findings: Finding[]): string[] => findings.map((f) => f.code);

describe('parseSpfRecord: real-world records', () => {
  it('RFC 7208 appendix A: "v=spf1 mx -all"', () => {
    const { terms, findings } = parseSpfRecord('v=spf1 mx -all');
    expect(terms).toEqual([
      { kind: 'mechanism', qualifier: '+', mechanism: 'mx', text: 'mx' },
      { kind: 'mechanism', qualifier: '-', mechanism: 'all', text: '-all' },
    ]);
    expect(findings).toEqual([]);
  });

  it('RFC 7208 appendix A: a, mx and ip4 with prefix lengths and domains', () => {
    const { terms, findings } = parseSpfRecord('v=spf1 a:mail.example.com/24 mx:example.org//64 a/26//120 ip4:192.0.2.128/28 ip6:2001:db8::/32 -all');
    expect(findings).toEqual([]);
    expect(terms).toEqual([
      expect.objectContaining({ mechanism: 'a', value: 'mail.example.com', cidr4: 24 }),
      expect.objectContaining({ mechanism: 'mx', value: 'example.org', cidr6: 64 }),
      expect.objectContaining({ mechanism: 'a', cidr4: 26, cidr6: 120 }),
      expect.objectContaining({ mechanism: 'ip4', value: '192.0.2.128', cidr4: 28 }),
      expect.objectContaining({ mechanism: 'ip6', value: '2001:db8::', cidr6: 32 }),
      expect.objectContaining({ mechanism: 'all', qualifier: '-' }),
    ]);
  });

  it('a provider record with includes and softfail (google.com style)', () => {
    const { terms, findings } = parseSpfRecord('v=spf1 include:_spf.google.com ~all');
    expect(terms).toHaveLength(2);
    expect(terms![0]).toMatchObject({ mechanism: 'include', value: '_spf.google.com', qualifier: '+' });
    expect(findings).toEqual([]);
  });

  it('redirect= alone (RFC 7208 §6.1)', () => {
    const { terms, findings } = parseSpfRecord('v=spf1 redirect=_spf.example.com');
    expect(terms).toEqual([{ kind: 'modifier', name: 'redirect', value: '_spf.example.com', text: 'redirect=_spf.example.com' }]);
    expect(findings).toEqual([]);
  });

  it('macros (RFC 7208 §7.4 examples) are valid', () => {
    const { terms, findings } = parseSpfRecord('v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} include:%{d2}.example.net exp=explain._spf.%{d} -all');
    expect(findings).toEqual([]);
    expect(terms![0]).toMatchObject({ mechanism: 'exists', macro: true });
    expect(terms![2]).toMatchObject({ kind: 'modifier', name: 'exp', macro: true });
  });

  it('is case-insensitive in version, mechanisms and modifiers', () => {
    const { terms, findings } = parseSpfRecord('V=SPF1 Include:Example.COM MX ~ALL Redirect=x.example.com');
    expect(terms!.map((t) => (t.kind === 'mechanism' ? t.mechanism : t.name))).toEqual(['include', 'mx', 'all', 'redirect']);
    expect(terms![0]).toMatchObject({ value: 'example.com' });
    expect(codes(findings)).toEqual(['SPF_REDIRECT_IGNORED']);
  });

  it('a record that authorises nothing', () => {
    expect(parseSpfRecord('v=spf1 -all')).toEqual({ terms: [expect.objectContaining({ mechanism: 'all' })], findings: [] });
  });
});

describe('parseSpfRecord: findings', () => {
  it('not an SPF record', () => {
    expect(parseSpfRecord('v=spf10 -all').terms).toBeUndefined();
    expect(codes(parseSpfRecord('spf2.0/pra -all').findings)).toEqual(['SPF_NOT_SPF']);
  });
  it.each([
    ['ip4:192.0.2.300', 'SPF_INVALID_IP4'],
    ['ip4:2001:db8::1', 'SPF_INVALID_IP4'],
    ['ip4:192.0.2.0/33', 'SPF_INVALID_CIDR'],
    ['ip4:192.0.2.0/024', 'SPF_INVALID_CIDR'],
    ['ip4:192.0.2.0/24/1', 'SPF_INVALID_CIDR'],
    ['ip4', 'SPF_SYNTAX'],
    ['ip6:192.0.2.1', 'SPF_INVALID_IP6'],
    ['ip6:2001:db8::/129', 'SPF_INVALID_CIDR'],
    ['ip6:fe80::zz', 'SPF_INVALID_IP6'],
    ['a/33', 'SPF_INVALID_CIDR'],
    ['mx//129', 'SPF_INVALID_CIDR'],
    ['include', 'SPF_SYNTAX'],
    ['include:', 'SPF_INVALID_DOMAIN'],
    ['exists', 'SPF_SYNTAX'],
    ['include:localhost', 'SPF_INVALID_DOMAIN'],
    ['include:bad..example.com', 'SPF_INVALID_DOMAIN'],
    ['a:example.123', 'SPF_INVALID_DOMAIN'],
    ['include:%{x}.example.com', 'SPF_INVALID_DOMAIN'],
    ['exists:%{c}.example.com', 'SPF_INVALID_DOMAIN'],
    ['include:100%.example.com', 'SPF_INVALID_DOMAIN'],
    ['all:example.com', 'SPF_SYNTAX'],
    ['ptr/24', 'SPF_SYNTAX'],
    ['ipv4:192.0.2.1', 'SPF_UNKNOWN_MECHANISM'],
    ['include_spf.example.com', 'SPF_UNKNOWN_MECHANISM'],
    ['!all', 'SPF_UNKNOWN_MECHANISM'],
    ['redirect=', 'SPF_INVALID_DOMAIN'],
  ])('%s → %s (an error naming the term)', (term, code) => {
    const { terms, findings } = parseSpfRecord(`v=spf1 ${term} -all`);
    const found = findings.find((f) => f.code === code);
    expect(found).toMatchObject({ severity: 'error', field: term });
    expect(terms!.map((t) => t.text)).toEqual(['-all']);
  });

  it('ptr is deprecated', () => {
    expect(parseSpfRecord('v=spf1 ptr -all').findings).toEqual([expect.objectContaining({ severity: 'warning', code: 'SPF_PTR_DEPRECATED', field: 'ptr' })]);
  });
  it('+all and ?all', () => {
    expect(parseSpfRecord('v=spf1 +all').findings).toEqual([expect.objectContaining({ severity: 'warning', code: 'SPF_PASS_ALL', field: '+all' })]);
    expect(parseSpfRecord('v=spf1 all').findings).toEqual([expect.objectContaining({ code: 'SPF_PASS_ALL', field: 'all' })]);
    expect(parseSpfRecord('v=spf1 mx ?all').findings).toEqual([expect.objectContaining({ severity: 'warning', code: 'SPF_NEUTRAL_ALL' })]);
  });
  it('no all and no redirect', () => {
    expect(parseSpfRecord('v=spf1 mx').findings).toEqual([expect.objectContaining({ severity: 'info', code: 'SPF_NO_ALL' })]);
  });
  it('redirect with all is ignored', () => {
    expect(parseSpfRecord('v=spf1 mx -all redirect=_spf.example.com').findings).toEqual([
      expect.objectContaining({ severity: 'warning', code: 'SPF_REDIRECT_IGNORED', field: 'redirect=_spf.example.com' }),
    ]);
  });
  it('mechanisms after all', () => {
    expect(parseSpfRecord('v=spf1 -all include:_spf.example.com').findings).toEqual([expect.objectContaining({ severity: 'warning', code: 'SPF_TERMS_AFTER_ALL' })]);
  });
  it('duplicate redirect or exp', () => {
    expect(codes(parseSpfRecord('v=spf1 redirect=a.example.com redirect=b.example.com').findings)).toContain('SPF_DUPLICATE_MODIFIER');
    expect(codes(parseSpfRecord('v=spf1 exp=a.example.com exp=b.example.com -all').findings)).toContain('SPF_DUPLICATE_MODIFIER');
  });
  it('unknown modifiers are ignored with a warning', () => {
    const { terms, findings } = parseSpfRecord('v=spf1 mx foo=bar -all');
    expect(terms).toHaveLength(3);
    expect(findings).toEqual([expect.objectContaining({ severity: 'warning', code: 'SPF_UNKNOWN_MODIFIER', field: 'foo=bar' })]);
  });
  it('non-ASCII characters and tabs', () => {
    expect(codes(parseSpfRecord('v=spf1 include:exämple.com -all').findings)).toContain('SPF_SYNTAX');
    expect(codes(parseSpfRecord('v=spf1\tmx  -all ').findings)).toEqual(['SPF_WHITESPACE']);
  });
});

describe('parseSpfRecord: mistakes seen in published records', () => {
  it('no space before ~all', () => {
    const { findings } = parseSpfRecord('v=spf1 ip4:8.8.8.8~all');
    expect(findings.map((f) => [f.code, f.field])).toEqual([
      ['SPF_INVALID_IP4', 'ip4:8.8.8.8~all'],
      ['SPF_NO_ALL', undefined],
    ]);
  });
  it('a space after include:', () => {
    const { findings } = parseSpfRecord('v=spf1 mx a:mail.cohaesio.net include: trustpilotservice.com ~all');
    expect(findings.map((f) => [f.code, f.field])).toEqual([
      ['SPF_INVALID_DOMAIN', 'include:'],
      ['SPF_UNKNOWN_MECHANISM', 'trustpilotservice.com'],
    ]);
  });
  it('a host name in ip4:', () => {
    expect(parseSpfRecord('v=spf1 ip4:78.46.96.236 +a +mx +ip4:138.201.239.158 +ip4:relay.mailchannels.net ~all').findings).toEqual([
      expect.objectContaining({ code: 'SPF_INVALID_IP4', field: '+ip4:relay.mailchannels.net' }),
    ]);
  });
  it('upper-case mechanisms are valid', () => {
    expect(parseSpfRecord('v=spf1 IP4:147.75.8.208 -ALL').findings).toEqual([]);
  });
  it('a verification token after -all', () => {
    expect(parseSpfRecord('v=spf1 ip4:213.5.39.110 -all MS=83859DAEBD1978F9A7A67D3').findings).toEqual([
      expect.objectContaining({ severity: 'warning', code: 'SPF_UNKNOWN_MODIFIER', field: 'MS=83859DAEBD1978F9A7A67D3' }),
    ]);
  });
});

describe('isSpfRecord and queriesDns', () => {
  it('recognises v=spf1 only', () => {
    expect(isSpfRecord('v=spf1')).toBe(true);
    expect(isSpfRecord('v=spf1 -all')).toBe(true);
    expect(isSpfRecord('V=SPF1 -all')).toBe(true);
    expect(isSpfRecord('v=spf1-all')).toBe(false);
    expect(isSpfRecord('google-site-verification=abc')).toBe(false);
  });
  it('counts include, a, mx, ptr, exists and redirect', () => {
    const { terms } = parseSpfRecord('v=spf1 include:a.example.com a mx ptr exists:x.example.com ip4:192.0.2.1 ip6:2001:db8::1 exp=e.example.com redirect=r.example.com');
    expect(terms!.filter((t: SpfTerm) => queriesDns(t)).map((t) => t.text)).toEqual(['include:a.example.com', 'a', 'mx', 'ptr', 'exists:x.example.com', 'redirect=r.example.com']);
  });
});
