import { dmarcRecordText, type ApprovedPolicy } from './dmarc-txt';

const policy: ApprovedPolicy = { p: 'quarantine', sp: null, pct: 100, adkim: 'r', aspf: 'r' };

describe('the DMARC record of an approved policy', () => {
  it('writes every policy tag, sp only when it differs from p', () => {
    expect(dmarcRecordText(policy)).toBe('v=DMARC1; p=quarantine; pct=100; adkim=r; aspf=r');
    expect(dmarcRecordText({ p: 'reject', sp: 'none', pct: 25, adkim: 's', aspf: 's' })).toBe('v=DMARC1; p=reject; sp=none; pct=25; adkim=s; aspf=s');
  });

  it('keeps the reporting tags the domain publishes, as published, and drops its old policy tags', () => {
    const published = ['v=DMARC1; p=none; sp=reject; np=reject; pct=10; RUA=mailto:agg@reports.example!10m, mailto:b@x.example; ruf=mailto:f@x.example; fo=1; t=y; ri=3600; rf=afrf'];
    expect(dmarcRecordText(policy, published)).toBe(
      'v=DMARC1; p=quarantine; pct=100; adkim=r; aspf=r; rua=mailto:agg@reports.example!10m, mailto:b@x.example; ruf=mailto:f@x.example; fo=1; rf=afrf; ri=3600',
    );
  });

  it('reads the first DMARC record among the TXT records, ignores others and empty or repeated tags', () => {
    const published = ['google-site-verification=abc', 'v=DMARC1;p=none;rua=mailto:first@x.example;rua=mailto:second@x.example;ruf=', 'v=DMARC1; p=none; rua=mailto:other@x.example'];
    expect(dmarcRecordText(policy, published)).toBe('v=DMARC1; p=quarantine; pct=100; adkim=r; aspf=r; rua=mailto:first@x.example');
    expect(dmarcRecordText(policy, ['v=spf1 -all'])).toBe('v=DMARC1; p=quarantine; pct=100; adkim=r; aspf=r');
  });
});
