import { canonicalRecord, sameValue, selectRecord } from './record-value';

describe('selectRecord', () => {
  it('keeps the v=DMARC1 record, whitespace collapsed', () => {
    expect(selectRecord('DMARC', ['some-verification=abc', '  v=DMARC1;   p=none;\trua=mailto:d@example.com '])).toBe('v=DMARC1; p=none; rua=mailto:d@example.com');
    expect(selectRecord('DMARC', ['v = DMARC1 ; p=reject'])).toBe('v = DMARC1 ; p=reject');
    expect(selectRecord('DMARC', ['v=DMARC10; p=none'])).toBeNull();
  });

  it('keeps the v=spf1 record of the domain, not its other TXT records', () => {
    expect(selectRecord('SPF', ['google-site-verification=x', 'v=spf1 include:_spf.google.com ~all'])).toBe('v=spf1 include:_spf.google.com ~all');
    expect(selectRecord('SPF', ['v=spf10 -all', 'v=DMARC1; p=none'])).toBeNull();
    expect(selectRecord('SPF', ['V=SPF1 -all'])).toBe('V=SPF1 -all');
  });

  it('keeps every TXT record at a DKIM name', () => {
    expect(selectRecord('DKIM', ['v=DKIM1; k=rsa; p=MIGf'])).toBe('v=DKIM1; k=rsa; p=MIGf');
    expect(selectRecord('DKIM', [''])).toBeNull();
  });

  it('is null for NXDOMAIN / NODATA', () => {
    expect(selectRecord('DMARC', [])).toBeNull();
  });

  it('keeps several records of the type, sorted, in any answer order', () => {
    const v = selectRecord('SPF', ['v=spf1 -all', 'v=spf1 a -all']);
    expect(v).toBe('v=spf1 -all\nv=spf1 a -all');
    expect(selectRecord('SPF', ['v=spf1 a -all', 'v=spf1 -all'])).toBe(v);
  });
});

describe('canonicalRecord / sameValue', () => {
  it('ignores whitespace the syntax ignores, and a trailing semicolon of a tag list', () => {
    expect(canonicalRecord('DMARC', 'v=DMARC1 ;p = none; rua=mailto:a@x.example , mailto:b@x.example ;')).toBe('v=DMARC1;p=none;rua=mailto:a@x.example,mailto:b@x.example');
    expect(canonicalRecord('DKIM', 'v=DKIM1; p=MIGf MA0G CSqG')).toBe('v=DKIM1;p=MIGfMA0GCSqG');
    expect(sameValue('SPF', 'v=spf1 a -all\nv=spf1 -all', 'v=spf1 -all\nv=spf1  a -all')).toBe(true);
  });

  it('tells records apart otherwise', () => {
    expect(sameValue('DMARC', 'v=DMARC1; p=none', 'v=DMARC1; p=quarantine')).toBe(false);
    expect(sameValue('SPF', 'v=spf1 -all', null)).toBe(false);
    expect(sameValue('SPF', null, null)).toBe(true);
  });
});
