import { FakeDns, type FakeZone } from './__test-support__/fake-dns';
import { checkDomainDns } from './domain-check';
import type { Finding } from './findings';

const codes = (findings: Finding[]): string[] => findings.map((f) => f.code);
const at = () => 1_700_000_000_000;

const healthy: FakeZone = {
  txt: {
    'example.com': ['v=spf1 include:_spf.example.com -all', 'MS=ms12345'],
    '_spf.example.com': ['v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 ~all'],
    '_dmarc.example.com': ['v=DMARC1; p=reject; rua=mailto:dmarc@example.com'],
  },
  mx: { 'example.com': ['mx1.example.com'] },
};

describe('checkDomainDns', () => {
  it('a well-configured domain has no findings', async () => {
    const check = await checkDomainDns('example.com', new FakeDns(healthy), at);
    expect(check).toMatchObject({
      domain: 'example.com',
      dmarc: { name: '_dmarc.example.com', raw: ['v=DMARC1; p=reject; rua=mailto:dmarc@example.com'], record: { p: 'reject' }, findings: [] },
      spf: { record: 'v=spf1 include:_spf.example.com -all', lookups: 1, voidLookups: 0, findings: [] },
      findings: [],
      checkedAt: 1_700_000_000_000,
    });
  });

  it('normalises the name it is given', async () => {
    const dns = new FakeDns(healthy);
    const check = await checkDomainDns(' Example.COM. ', dns, at);
    expect(check.domain).toBe('example.com');
    expect(check.findings).toEqual([]);
    expect(dns.asked).toContain('txt _dmarc.example.com');
  });

  it('an invalid name is a finding and asks nothing', async () => {
    const dns = new FakeDns(healthy);
    const check = await checkDomainDns('not a domain', dns, at);
    expect(check.findings).toEqual([expect.objectContaining({ severity: 'error', code: 'DOMAIN_INVALID' })]);
    expect(dns.asked).toEqual([]);
  });

  it('collects findings of both checks, most severe first', async () => {
    const check = await checkDomainDns(
      'example.com',
      new FakeDns({ txt: { 'example.com': ['v=spf1 ptr include:gone.example.net ?all'], '_dmarc.example.com': ['v=DMARC1; p=none; foo=1'] } }),
      at,
    );
    expect(check.findings.map((f) => f.severity)).toEqual([...check.findings.map((f) => f.severity)].sort((a, b) => ['error', 'warning', 'info'].indexOf(a) - ['error', 'warning', 'info'].indexOf(b)));
    expect(codes(check.findings)).toEqual(
      expect.arrayContaining(['SPF_INCLUDE_NO_RECORD', 'DMARC_UNKNOWN_TAG', 'DMARC_POLICY_NONE', 'DMARC_NO_RUA', 'SPF_PTR_DEPRECATED', 'SPF_NEUTRAL_ALL']),
    );
    expect(check.findings[0]!.severity).toBe('error');
    expect(check.findings).toHaveLength(check.dmarc.findings.length + check.spf.findings.length);
  });
});

describe('checkDomainDns: DMARC discovery', () => {
  it('falls back to the organizational domain, reported as info', async () => {
    const zone: FakeZone = {
      txt: { 'mail.example.com': ['v=spf1 -all'], '_dmarc.example.com': ['v=DMARC1; p=quarantine; sp=reject; rua=mailto:dmarc@example.com'] },
      mx: { 'example.com': ['mx1.example.com'] },
    };
    const check = await checkDomainDns('mail.example.com', new FakeDns(zone), at);
    expect(check.dmarc).toMatchObject({ name: '_dmarc.example.com', record: { p: 'quarantine', sp: 'reject' }, raw: ['v=DMARC1; p=quarantine; sp=reject; rua=mailto:dmarc@example.com'] });
    expect(check.findings).toEqual([expect.objectContaining({ severity: 'info', code: 'DMARC_ORG_FALLBACK' })]);
    expect(check.findings[0]!.message).toContain('sp=reject');
  });

  it('falls back across a multi-label public suffix (co.uk)', async () => {
    const dns = new FakeDns({ txt: { 'foo.bar.co.uk': ['v=spf1 -all'], '_dmarc.bar.co.uk': ['v=DMARC1; p=reject; rua=mailto:d@bar.co.uk'] }, mx: { 'bar.co.uk': ['mx.bar.co.uk'] } });
    const check = await checkDomainDns('foo.bar.co.uk', dns, at);
    expect(check.dmarc.name).toBe('_dmarc.bar.co.uk');
    expect(dns.asked).not.toContain('txt _dmarc.co.uk');
  });

  it('stops at a private suffix: a github.io site does not inherit github.io', async () => {
    const dns = new FakeDns({ txt: { 'www.site.github.io': ['v=spf1 -all'], '_dmarc.github.io': ['v=DMARC1; p=reject'] } });
    const check = await checkDomainDns('www.site.github.io', dns, at);
    expect(dns.asked).toContain('txt _dmarc.site.github.io');
    expect(dns.asked).not.toContain('txt _dmarc.github.io');
    expect(check.dmarc.record).toBeUndefined();
    expect(codes(check.findings)).toContain('DMARC_MISSING');
  });

  it('no record at the domain nor at its organizational domain', async () => {
    const check = await checkDomainDns('mail.example.com', new FakeDns({ txt: { 'mail.example.com': ['v=spf1 -all'] } }), at);
    expect(check.dmarc.record).toBeUndefined();
    expect(check.findings).toEqual([expect.objectContaining({ severity: 'error', code: 'DMARC_MISSING' })]);
    expect(check.findings[0]!.message).toContain('_dmarc.example.com');
  });

  it('an organizational domain without a record asks nothing further', async () => {
    const dns = new FakeDns({ txt: { 'example.com': ['v=spf1 -all'] } });
    const check = await checkDomainDns('example.com', dns, at);
    expect(codes(check.findings)).toEqual(['DMARC_MISSING']);
    expect(dns.asked.filter((q) => q.includes('_dmarc'))).toEqual(['txt _dmarc.example.com']);
  });

  it('several DMARC records: an error, all ignored, no fallback', async () => {
    const raw = ['v=DMARC1; p=reject; rua=mailto:a@example.com', 'v=DMARC1; p=none'];
    const dns = new FakeDns({ txt: { 'sub.example.com': ['v=spf1 -all'], '_dmarc.sub.example.com': raw, '_dmarc.example.com': ['v=DMARC1; p=reject'] } });
    const check = await checkDomainDns('sub.example.com', dns, at);
    expect(check.dmarc).toMatchObject({ name: '_dmarc.sub.example.com', raw });
    expect(check.dmarc.record).toBeUndefined();
    expect(codes(check.findings)).toEqual(['DMARC_MULTIPLE_RECORDS']);
    expect(dns.asked).not.toContain('txt _dmarc.example.com');
  });

  it('several records at the organizational domain', async () => {
    const check = await checkDomainDns('sub.example.com', new FakeDns({ txt: { 'sub.example.com': ['v=spf1 -all'], '_dmarc.example.com': ['v=DMARC1; p=reject', 'v=DMARC1; p=none'] } }), at);
    expect(check.dmarc.name).toBe('_dmarc.example.com');
    expect(codes(check.findings)).toEqual(['DMARC_MULTIPLE_RECORDS']);
  });

  it('unrelated TXT records and an SPF record at _dmarc', async () => {
    const unrelated = await checkDomainDns('example.com', new FakeDns({ ...healthy, txt: { ...healthy.txt, '_dmarc.example.com': ['v=DMARC1; p=reject; rua=mailto:dmarc@example.com', 'verify=1'] } }), at);
    expect(codes(unrelated.findings)).toEqual(['DMARC_UNRELATED_TXT']);
    const spf = await checkDomainDns('example.com', new FakeDns({ ...healthy, txt: { ...healthy.txt, '_dmarc.example.com': ['v=spf1 -all'] } }), at);
    expect(codes(spf.findings)).toEqual(['DMARC_MISSING', 'DMARC_SPF_AT_DMARC']);
  });

  it('a DMARC record published at the domain itself', async () => {
    const check = await checkDomainDns('example.com', new FakeDns({ txt: { 'example.com': ['v=spf1 -all', 'v=DMARC1; p=reject'] } }), at);
    expect(codes(check.findings)).toEqual(['DMARC_WRONG_LOCATION', 'DMARC_MISSING']);
  });

  it('a badly written version at _dmarc is named, not called missing', async () => {
    const check = await checkDomainDns('example.com', new FakeDns({ ...healthy, txt: { ...healthy.txt, '_dmarc.example.com': ['v=dmarc1; p=reject'] } }), at);
    expect(codes(check.findings)).toEqual(['DMARC_BAD_VERSION']);
  });
});

describe('checkDomainDns: report destinations', () => {
  const withRua = (rua: string, extra: FakeZone = {}): FakeZone => ({
    txt: { ...healthy.txt, '_dmarc.example.com': [`v=DMARC1; p=reject; rua=${rua}`], ...extra.txt },
    mx: { ...healthy.mx, ...extra.mx },
    addresses: { ...extra.addresses },
  });

  it('an outside destination must authorize the domain (RFC 7489 §7.1)', async () => {
    const check = await checkDomainDns('example.com', new FakeDns(withRua('mailto:reports@dmarc.example.net', { mx: { 'dmarc.example.net': ['mx.example.net'] } })), at);
    expect(check.findings).toEqual([expect.objectContaining({ severity: 'warning', code: 'DMARC_REPORT_DESTINATION_UNVERIFIED', field: 'rua' })]);
    expect(check.findings[0]!.message).toContain('example.com._report._dmarc.dmarc.example.net');
  });

  it('an authorized outside destination', async () => {
    const zone = withRua('mailto:reports@dmarc.example.net', { txt: { 'example.com._report._dmarc.dmarc.example.net': ['v=DMARC1'] }, mx: { 'dmarc.example.net': ['mx.example.net'] } });
    expect((await checkDomainDns('example.com', new FakeDns(zone), at)).findings).toEqual([]);
  });

  it('a destination in the same organization needs no authorization', async () => {
    const dns = new FakeDns(withRua('mailto:d@reports.example.com', { mx: { 'reports.example.com': ['mx1.example.com'] } }));
    expect((await checkDomainDns('example.com', dns, at)).findings).toEqual([]);
    expect(dns.asked.some((q) => q.includes('_report'))).toBe(false);
  });

  it('a mailbox domain that takes no mail; one with only an address is fine', async () => {
    const dead = await checkDomainDns('example.com', new FakeDns(withRua('mailto:d@nomail.example.com')), at);
    expect(dead.findings).toEqual([expect.objectContaining({ severity: 'warning', code: 'DMARC_REPORT_DOMAIN_NO_MAIL', field: 'rua' })]);
    const aOnly = await checkDomainDns('example.com', new FakeDns(withRua('mailto:d@host.example.com', { addresses: { 'host.example.com': ['192.0.2.1'] } })), at);
    expect(aOnly.findings).toEqual([]);
  });

  it('the fallback record authorizes by the organizational domain', async () => {
    const zone: FakeZone = {
      txt: { 'sub.example.com': ['v=spf1 -all'], '_dmarc.example.com': ['v=DMARC1; p=reject; rua=mailto:r@example.net'], 'example.com._report._dmarc.example.net': ['v=DMARC1;'] },
      mx: { 'example.net': ['mx.example.net'] },
    };
    expect(codes((await checkDomainDns('sub.example.com', new FakeDns(zone), at)).findings)).toEqual(['DMARC_ORG_FALLBACK']);
  });
});

describe('checkDomainDns: DNS failures', () => {
  it('a failed DMARC lookup is a finding naming the name; the check resolves', async () => {
    const check = await checkDomainDns('example.com', new FakeDns({ ...healthy, failing: ['txt _dmarc.example.com'] }), at);
    expect(check.findings).toEqual([expect.objectContaining({ severity: 'error', code: 'DNS_LOOKUP_FAILED', field: '_dmarc.example.com' })]);
    expect(check.dmarc).toEqual({ name: '_dmarc.example.com', raw: [], findings: check.findings });
  });

  it('a TXT failure both checks meet is reported once', async () => {
    const check = await checkDomainDns('sub.example.com', new FakeDns({ failing: ['txt sub.example.com'], txt: { '_dmarc.example.com': ['v=DMARC1; p=reject; rua=mailto:d@example.com'] }, mx: { 'example.com': ['mx.example.com'] } }), at);
    expect(check.findings.filter((f) => f.code === 'DNS_LOOKUP_FAILED')).toHaveLength(1);
    expect(check.findings[0]).toMatchObject({ severity: 'error', code: 'DNS_LOOKUP_FAILED', field: 'sub.example.com' });
  });

  it('a failed authorization lookup is a warning', async () => {
    const zone: FakeZone = { ...healthy, txt: { ...healthy.txt, '_dmarc.example.com': ['v=DMARC1; p=reject; rua=mailto:r@example.net'] }, mx: { 'example.net': ['mx.example.net'] }, failing: ['txt example.com._report._dmarc.example.net'] };
    const check = await checkDomainDns('example.com', new FakeDns(zone), at);
    expect(check.findings).toEqual([expect.objectContaining({ severity: 'warning', code: 'DNS_LOOKUP_FAILED', field: 'example.com._report._dmarc.example.net' })]);
  });
});
