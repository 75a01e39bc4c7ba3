import { FakeDns, type FakeZone } from './__test-support__/fake-dns';
import type { DnsLookup } from './dns-lookup';
import type { Finding } from './findings';
import { checkSpf } from './spf-evaluation';

const codes = (findings: Finding[]): string[] => findings.map((f) => f.code);
const ADDR = ['192.0.2.10'];

/**
 * 10 DNS-querying terms spread over five levels: root a, mx, include:a, include:b (4); a.example.net
 * include:c, include:d (6); d.example.net ptr (7); b.example.net exists, redirect= (9); e.example.net a: (10).
 */
function tenLookups(extraInE = ''): FakeZone {
  return {
    txt: {
      'example.com': ['v=spf1 a mx include:a.example.net include:b.example.net -all', 'google-site-verification=abc'],
      'a.example.net': ['v=spf1 include:c.example.net include:d.example.net ~all'],
      'b.example.net': ['v=spf1 exists:x.example.net redirect=e.example.net'],
      'c.example.net': ['v=spf1 ip4:198.51.100.0/24 ip6:2001:db8::/48 ?all'],
      'd.example.net': ['v=spf1 ptr ~all'],
      'e.example.net': [`v=spf1 a:mail.example.net${extraInE} -all`],
    },
    addresses: { 'example.com': ADDR, 'mx1.example.com': ADDR, 'x.example.net': ADDR, 'mail.example.net': ADDR, 'mx.example.org': ADDR },
    mx: { 'example.com': ['mx1.example.com'], 'example.org': ['mx.example.org'] },
  };
}

describe('checkSpf: the 10-lookup limit (RFC 7208 §4.6.4)', () => {
  it('exactly 10 lookups through nested includes and a redirect is fine', async () => {
    const check = await checkSpf('example.com', new FakeDns(tenLookups()));
    expect(check.lookups).toBe(10);
    expect(check.voidLookups).toBe(0);
    expect(check.record).toBe('v=spf1 a mx include:a.example.net include:b.example.net -all');
    expect(codes(check.findings)).not.toContain('SPF_TOO_MANY_LOOKUPS');
    expect(check.findings.filter((f) => f.severity === 'error')).toEqual([]);
    // d.example.net's ptr is the only other thing worth saying; ?all in an included record is harmless.
    expect(codes(check.findings)).toEqual(['SPF_PTR_DEPRECATED']);
    expect(check.findings[0]!.message).toMatch(/^d\.example\.net: /);
  });

  it('11 lookups is a permerror naming the 11th term', async () => {
    const check = await checkSpf('example.com', new FakeDns(tenLookups(' mx:example.org')));
    expect(check.lookups).toBe(11);
    const error = check.findings.find((f) => f.code === 'SPF_TOO_MANY_LOOKUPS');
    expect(error).toMatchObject({ severity: 'error', field: 'mx:example.org' });
    expect(error!.message).toContain('11 DNS lookups');
    expect(error!.message).toContain('e.example.net');
  });

  it('keeps counting past the limit, and stops following a runaway tree', async () => {
    const txt: Record<string, string[]> = {};
    for (let i = 0; i < 60; i++) txt[`l${i}.example.com`] = [`v=spf1 include:l${i + 1}.example.com a ~all`];
    const check = await checkSpf('l0.example.com', new FakeDns({ txt, addresses: Object.fromEntries(Object.keys(txt).map((n) => [n, ADDR])) }));
    expect(check.lookups).toBe(40);
    expect(check.findings.find((f) => f.code === 'SPF_TOO_MANY_LOOKUPS')!.message).toContain('more than 40');
  });

  it('the tree shows what each record costs', async () => {
    const { tree } = await checkSpf('example.com', new FakeDns(tenLookups()));
    expect(tree).toMatchObject({
      domain: 'example.com',
      via: 'root',
      lookups: 4,
      children: [
        {
          domain: 'a.example.net',
          via: 'include',
          qualifier: '+',
          lookups: 2,
          children: [
            { domain: 'c.example.net', lookups: 0, children: [] },
            { domain: 'd.example.net', lookups: 1, children: [] },
          ],
        },
        { domain: 'b.example.net', lookups: 2, children: [{ domain: 'e.example.net', via: 'redirect', lookups: 1, record: 'v=spf1 a:mail.example.net -all' }] },
      ],
    });
  });

  it('an include met twice counts twice but is asked once', async () => {
    const dns = new FakeDns({ txt: { 'example.com': ['v=spf1 include:s.example.net include:s.example.net -all'], 's.example.net': ['v=spf1 ip4:192.0.2.1 -all'] } });
    const check = await checkSpf('example.com', dns);
    expect(check.lookups).toBe(2);
    expect(dns.asked.filter((q) => q === 'txt s.example.net')).toHaveLength(1);
  });

  it('terms after all and a redirect beside all are not counted', async () => {
    const check = await checkSpf('example.com', new FakeDns({ txt: { 'example.com': ['v=spf1 ip4:192.0.2.1 -all include:x.example.net redirect=y.example.net'] } }));
    expect(check.lookups).toBe(0);
    expect(codes(check.findings)).toEqual(expect.arrayContaining(['SPF_TERMS_AFTER_ALL', 'SPF_REDIRECT_IGNORED']));
  });

  it('macros are counted, not followed', async () => {
    const dns = new FakeDns({ txt: { 'example.com': ['v=spf1 exists:%{i}._spf.example.com include:%{d}.x.example.net -all'] } });
    const check = await checkSpf('example.com', dns);
    expect(check.lookups).toBe(2);
    expect(dns.asked).toEqual(['txt example.com']);
    expect(codes(check.findings)).toEqual(['SPF_MACRO_NOT_EVALUATED', 'SPF_MACRO_NOT_EVALUATED']);
  });
});

describe('checkSpf: void lookups', () => {
  const zone = (voids: number): FakeZone => ({
    txt: { 'example.com': [`v=spf1 ${['a:v1.example.com', 'mx:v2.example.com', 'include:v3.example.com'].slice(0, voids).join(' ')} ip4:192.0.2.1 -all`] },
  });

  it('2 void lookups are allowed', async () => {
    const check = await checkSpf('example.com', new FakeDns(zone(2)));
    expect(check.voidLookups).toBe(2);
    expect(check.findings.map((f) => [f.severity, f.code, f.field])).toEqual([
      ['warning', 'SPF_VOID_LOOKUP', 'a:v1.example.com'],
      ['warning', 'SPF_VOID_LOOKUP', 'mx:v2.example.com'],
    ]);
  });

  it('3 void lookups are a permerror listing them', async () => {
    const check = await checkSpf('example.com', new FakeDns(zone(3)));
    expect(check.voidLookups).toBe(3);
    const error = check.findings.find((f) => f.code === 'SPF_TOO_MANY_VOID_LOOKUPS');
    expect(error).toMatchObject({ severity: 'error' });
    expect(error!.message).toContain('a:v1.example.com (v1.example.com)');
    expect(error!.message).toContain('v3.example.com');
    // the empty include is a permerror of its own
    expect(codes(check.findings)).toContain('SPF_INCLUDE_NO_RECORD');
  });

  it('an include of a name with TXT but no SPF record is a permerror, not a void lookup', async () => {
    const check = await checkSpf('example.com', new FakeDns({ txt: { 'example.com': ['v=spf1 include:other.example.net -all'], 'other.example.net': ['hello'] } }));
    expect(check.voidLookups).toBe(0);
    expect(check.findings).toEqual([expect.objectContaining({ severity: 'error', code: 'SPF_INCLUDE_NO_RECORD', field: 'include:other.example.net' })]);
    expect(check.tree.children[0]).toMatchObject({ domain: 'other.example.net', problem: 'no SPF record' });
  });

  it('a redirect to a name without SPF', async () => {
    const check = await checkSpf('example.com', new FakeDns({ txt: { 'example.com': ['v=spf1 redirect=gone.example.net'] } }));
    expect(check.voidLookups).toBe(1);
    expect(codes(check.findings)).toEqual(['SPF_REDIRECT_NO_RECORD']);
  });
});

describe('checkSpf: mx', () => {
  it('more than 10 MX names is a permerror', async () => {
    const names = Array.from({ length: 11 }, (_, i) => `mx${i}.example.com`);
    const check = await checkSpf('example.com', new FakeDns({ txt: { 'example.com': ['v=spf1 mx -all'] }, mx: { 'example.com': names }, addresses: Object.fromEntries(names.map((n) => [n, ADDR])) }));
    expect(check.findings).toEqual([expect.objectContaining({ severity: 'error', code: 'SPF_TOO_MANY_MX', field: 'mx' })]);
  });

  it('10 MX names are fine', async () => {
    const names = Array.from({ length: 10 }, (_, i) => `mx${i}.example.com`);
    const check = await checkSpf('example.com', new FakeDns({ txt: { 'example.com': ['v=spf1 mx -all'] }, mx: { 'example.com': names }, addresses: Object.fromEntries(names.map((n) => [n, ADDR])) }));
    expect(check.findings).toEqual([]);
    expect(check.lookups).toBe(1);
  });

  it('an MX name without an address', async () => {
    const check = await checkSpf('example.com', new FakeDns({ txt: { 'example.com': ['v=spf1 mx -all'] }, mx: { 'example.com': ['mx1.example.com', 'dead.example.com'] }, addresses: { 'mx1.example.com': ADDR } }));
    expect(check.findings).toEqual([expect.objectContaining({ severity: 'warning', code: 'SPF_MX_NO_ADDRESS' })]);
    expect(check.findings[0]!.message).toContain('dead.example.com');
    expect(check.voidLookups).toBe(0);
  });
});

describe('checkSpf: loops', () => {
  it('a include loop through two records', async () => {
    const check = await checkSpf('example.com', new FakeDns({ txt: { 'example.com': ['v=spf1 include:b.example.net -all'], 'b.example.net': ['v=spf1 include:example.com ~all'] } }));
    const loop = check.findings.find((f) => f.code === 'SPF_INCLUDE_LOOP');
    expect(loop).toMatchObject({ severity: 'error', field: 'include:example.com' });
    expect(loop!.message).toContain('example.com → b.example.net → example.com');
    expect(check.tree.children[0]!.children[0]).toMatchObject({ domain: 'example.com', problem: 'loop' });
  });

  it('a record that includes itself', async () => {
    const check = await checkSpf('example.com', new FakeDns({ txt: { 'example.com': ['v=spf1 include:example.com -all'] } }));
    expect(codes(check.findings)).toEqual(['SPF_INCLUDE_LOOP']);
    expect(check.lookups).toBe(1);
  });

  it('a redirect loop', async () => {
    const check = await checkSpf('example.com', new FakeDns({ txt: { 'example.com': ['v=spf1 redirect=_spf.example.com'], '_spf.example.com': ['v=spf1 redirect=example.com'] } }));
    expect(codes(check.findings)).toEqual(['SPF_REDIRECT_LOOP']);
  });
});

describe('checkSpf: records', () => {
  it('no SPF record', async () => {
    const check = await checkSpf('example.com', new FakeDns({ txt: { 'example.com': ['v=DMARC1; p=none'] } }));
    expect(check.record).toBeUndefined();
    expect(check.findings).toEqual([expect.objectContaining({ severity: 'error', code: 'SPF_MISSING' })]);
    expect(check.voidLookups).toBe(0);
  });

  it('several SPF records', async () => {
    const check = await checkSpf('example.com', new FakeDns({ txt: { 'example.com': ['v=spf1 mx -all', 'v=spf1 include:_spf.google.com ~all'] } }));
    expect(check.record).toBeUndefined();
    expect(check.findings).toEqual([expect.objectContaining({ severity: 'error', code: 'SPF_MULTIPLE_RECORDS' })]);
  });

  it('a record over 255 characters (split strings, joined) is fine; over 512 bytes of TXT is a warning', async () => {
    const ip4s = Array.from({ length: 20 }, (_, i) => `ip4:198.51.100.${i}`).join(' ');
    const fine = await checkSpf('example.com', new FakeDns({ txt: { 'example.com': [`v=spf1 ${ip4s} -all`] } }));
    expect(fine.record!.length).toBeGreaterThan(255);
    expect(fine.findings).toEqual([]);
    const big = await checkSpf('example.com', new FakeDns({ txt: { 'example.com': [`v=spf1 ${ip4s} -all`, `verification=${'x'.repeat(200)}`] } }));
    expect(big.findings).toEqual([expect.objectContaining({ severity: 'warning', code: 'SPF_TXT_TOO_LARGE' })]);
  });

  it('+all in an included record is reported with where it is; ?all there is not', async () => {
    const check = await checkSpf(
      'example.com',
      new FakeDns({ txt: { 'example.com': ['v=spf1 include:open.example.net include:neutral.example.net -all'], 'open.example.net': ['v=spf1 +all'], 'neutral.example.net': ['v=spf1 ip4:192.0.2.1 ?all'] } }),
    );
    expect(check.findings).toEqual([expect.objectContaining({ severity: 'warning', code: 'SPF_PASS_ALL', field: '+all' })]);
    expect(check.findings[0]!.message).toMatch(/^open\.example\.net: /);
  });

  it('syntax errors in an included record are reported and the rest still evaluated', async () => {
    const check = await checkSpf('example.com', new FakeDns({ txt: { 'example.com': ['v=spf1 include:s.example.net -all'], 's.example.net': ['v=spf1 ip4:10.0.0.256 a:host.example.net ~all'] }, addresses: { 'host.example.net': ADDR } }));
    expect(codes(check.findings)).toEqual(['SPF_INVALID_IP4']);
    expect(check.lookups).toBe(2);
  });
});

describe('checkSpf: DNS failures become findings', () => {
  it('a failed TXT lookup of the domain', async () => {
    const check = await checkSpf('example.com', new FakeDns({ failing: ['txt example.com'] }));
    expect(check.findings).toEqual([expect.objectContaining({ severity: 'error', code: 'DNS_LOOKUP_FAILED', field: 'example.com' })]);
    expect(check.findings[0]!.message).toContain('example.com');
    expect(check.findings[0]!.message).toContain('DNS_SERVFAIL');
    expect(check.findings[0]!.message).not.toContain('fake-dns.ts');
    expect(check.tree.problem).toBe('lookup failed');
  });

  it('a failed include and a failed a: lookup, the check still resolves', async () => {
    const check = await checkSpf(
      'example.com',
      new FakeDns({ txt: { 'example.com': ['v=spf1 a:h.example.com include:s.example.net -all'] }, failing: ['addresses h.example.com', 'txt s.example.net'] }),
    );
    expect(check.findings.map((f) => [f.code, f.field])).toEqual([
      ['DNS_LOOKUP_FAILED', 'h.example.com'],
      ['DNS_LOOKUP_FAILED', 's.example.net'],
    ]);
    expect(check.lookups).toBe(2);
    expect(check.voidLookups).toBe(0);
  });

  it('a lookup that throws synchronously or rejects with a non-Error', async () => {
    const dns: DnsLookup = {
      txt: () => {
        throw new TypeError('boom');
      },
      addresses: () => Promise.reject('nope'),
      mx: () => Promise.resolve([]),
    };
    const check = await checkSpf('example.com', dns);
    expect(check.findings).toEqual([expect.objectContaining({ code: 'DNS_LOOKUP_FAILED' })]);
    expect(check.findings[0]!.message).toContain('boom');
  });
});
