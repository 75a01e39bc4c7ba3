// The checks over the real DNS wire: the loopback test server answers, the platform's DnsClient asks,
// and a DnsLookup as thin as the DNS service's adapter sits between them. What the fake cannot show:
// TXT split into 255-byte strings and joined, NXDOMAIN vs NODATA both [], SERVFAIL as a rejection,
// and each name asked once per check.
import { startDnsTestServer, type DnsTestServer } from '@dmarc/testing';
// eslint-disable-next-line @nx/enforce-module-boundaries -- test only: the real wire client, never imported by the library
import { DnsClient, type DnsRecord, type RecordType } from '@dmarc/dns-wire';
import type { DnsLookup } from './dns-lookup';
import { checkDomainDns } from './domain-check';

function wireLookup(client: DnsClient): DnsLookup {
  const ask = async (name: string, type: RecordType): Promise<DnsRecord[]> => {
    const answer = await client.query(name, type);
    if (answer.rcode === 'NXDOMAIN') return [];
    if (answer.rcode !== 'NOERROR') throw new Error(`${answer.rcode} for ${name} ${type}`);
    return answer.answers.filter((record) => record.type === type);
  };
  const host = (name: string): string => name.toLowerCase().replace(/\.$/, '');
  return {
    txt: async (name) => (await ask(name, 'TXT')).flatMap((r) => (r.type === 'TXT' ? [r.strings.join('')] : [])),
    addresses: async (name) => {
      const [a, aaaa] = await Promise.all([ask(name, 'A'), ask(name, 'AAAA')]);
      return [...a, ...aaaa].flatMap((r) => (r.type === 'A' || r.type === 'AAAA' ? [r.address] : []));
    },
    mx: async (name) => (await ask(name, 'MX')).flatMap((r) => (r.type === 'MX' ? [host(r.exchange)] : [])),
  };
}

describe('checkDomainDns over the DNS wire', () => {
  let server: DnsTestServer;
  let dns: DnsLookup;

  beforeAll(async () => {
    server = await startDnsTestServer();
    dns = wireLookup(new DnsClient({ servers: server.address, timeoutMs: 500, retries: 0 }));
  });
  afterAll(() => server.close());
  beforeEach(() => server.reset());

  it('a subdomain: long SPF record in 255-byte strings, nested includes, DMARC from the organizational domain', async () => {
    const ip4s = Array.from({ length: 20 }, (_, i) => `ip4:198.51.100.${i}`).join(' ');
    server.set('mail.example.com', 'TXT', [`v=spf1 ${ip4s} include:_spf.example.net mx -all`]);
    server.set('_spf.example.net', 'TXT', ['v=spf1 include:_netblocks.example.net ~all']);
    server.set('_netblocks.example.net', 'TXT', ['v=spf1 ip6:2001:db8::/32 ?all']);
    server.set('mail.example.com', 'MX', [{ preference: 10, exchange: 'mx1.example.com' }]);
    server.set('mx1.example.com', 'A', ['192.0.2.25']);
    server.set('_dmarc.example.com', 'TXT', [['v=DMARC1; p=reject; ', 'rua=mailto:agg@reports.example.org']]);
    server.set('example.com._report._dmarc.reports.example.org', 'TXT', ['v=DMARC1']);
    server.set('reports.example.org', 'MX', [{ preference: 0, exchange: 'mx.example.org' }]);

    const check = await checkDomainDns('mail.example.com', dns, () => 42);

    expect(check.spf.record!.length).toBeGreaterThan(255);
    expect(check.spf).toMatchObject({ lookups: 3, voidLookups: 0 });
    expect(check.spf.tree.children[0]).toMatchObject({ domain: '_spf.example.net', children: [{ domain: '_netblocks.example.net' }] });
    expect(check.dmarc).toMatchObject({ name: '_dmarc.example.com', record: { p: 'reject', rua: ['mailto:agg@reports.example.org'] } });
    expect(check.findings).toEqual([expect.objectContaining({ severity: 'info', code: 'DMARC_ORG_FALLBACK' })]);
    expect(check.checkedAt).toBe(42);
    // mail.example.com's TXT serves both checks (SPF, and the misplaced-DMARC look): asked once.
    expect(server.queries('mail.example.com', 'TXT').total).toBe(1);
  });

  it('an 11th lookup, void lookups and a SERVFAIL, all as findings', async () => {
    const includes = Array.from({ length: 11 }, (_, i) => `include:s${i}.example.net`).join(' ');
    server.set('example.com', 'TXT', [`v=spf1 ${includes} -all`]);
    for (let i = 0; i < 11; i++) server.set(`s${i}.example.net`, 'TXT', [`v=spf1 ip4:192.0.2.${i} -all`]);
    server.fail('servfail', '_dmarc.example.com');

    const check = await checkDomainDns('example.com', dns);

    expect(check.spf.lookups).toBe(11);
    expect(check.findings.map((f) => [f.code, f.field])).toEqual([
      ['DNS_LOOKUP_FAILED', '_dmarc.example.com'],
      ['SPF_TOO_MANY_LOOKUPS', 'include:s10.example.net'],
    ]);
    expect(check.findings[0]!.message).toContain('SERVFAIL');
  });

  it('NXDOMAIN and NODATA both count as void', async () => {
    server.set('example.com', 'TXT', ['v=spf1 a:gone.example.com a:nodata.example.com exists:empty.example.com -all']);
    server.set('nodata.example.com', 'TXT', ['not an address']);
    server.set('_dmarc.example.com', 'TXT', ['v=DMARC1; p=reject; rua=mailto:d@example.com']);
    server.set('example.com', 'MX', [{ preference: 10, exchange: 'mx.example.com' }]);

    const check = await checkDomainDns('example.com', dns);

    expect(check.spf.voidLookups).toBe(3);
    expect(check.findings.map((f) => f.code)).toEqual(['SPF_TOO_MANY_VOID_LOOKUPS', 'SPF_VOID_LOOKUP', 'SPF_VOID_LOOKUP', 'SPF_VOID_LOOKUP']);
  });
});
