import type { DnsChange } from '@dmarc/contracts';
import { dnsUpdateFailedAlert, evaluateDnsChange } from './dns-rules';
import { resolveRuleSettings, type StoredRule } from './rule-settings';

const TENANT = '00000000-0000-4000-8000-000000000001';
const AT = Date.UTC(2025, 2, 11, 10, 42);

const dmarc = (previous: string | null, current: string | null): DnsChange => ({
  tenantId: TENANT,
  domain: 'example.com',
  recordType: 'DMARC',
  name: '_dmarc.example.com',
  selector: null,
  change: previous === null ? 'added' : current === null ? 'removed' : 'changed',
  previous,
  current,
  detectedAt: AT,
});
const spf = (previous: string | null, current: string | null): DnsChange => ({ ...dmarc(previous, current), recordType: 'SPF', name: 'example.com' });
const check = (change: DnsChange, rows: StoredRule[] = []) => evaluateDnsChange(change, resolveRuleSettings(rows));
const findings = (change: DnsChange, rows: StoredRule[] = []) => check(change, rows)?.evidence.findings;

describe('dns weakened', () => {
  it('fires critical when the DMARC record is removed, with the records and the window of the change', () => {
    const alert = check(dmarc('v=DMARC1; p=reject; rua=mailto:d@example.com', null));
    expect(alert).toMatchObject({
      tenantId: TENANT,
      domain: 'example.com',
      rule: 'dns_weakened',
      severity: 'critical',
      detectedAt: AT,
      windowStart: Date.UTC(2025, 2, 11, 10, 0),
      evidence: { dnsRecordType: 'DMARC', dnsName: '_dmarc.example.com', dnsPrevious: 'v=DMARC1; p=reject; rua=mailto:d@example.com', dnsCurrent: null, findings: ['DMARC record removed'] },
    });
    expect(alert?.title).toBe('DMARC protection of example.com weakened: DMARC record removed');
  });

  it('fires critical when the record is replaced by one receivers ignore', () => {
    expect(check(dmarc('v=DMARC1; p=reject', 'v=DMARC1; p=rejekt'))).toMatchObject({ severity: 'critical', evidence: { findings: [expect.stringMatching(/^DMARC record no longer valid: /)] } });
    expect(findings(dmarc('v=DMARC1; p=reject', 'hello world'))).toEqual([expect.stringMatching(/^DMARC record no longer valid/)]);
  });

  it.each([
    ['v=DMARC1; p=reject', 'v=DMARC1; p=none', ['p lowered from reject to none'], 'high'],
    ['v=DMARC1; p=reject', 'v=DMARC1; p=quarantine', ['p lowered from reject to quarantine'], 'high'],
    ['V=DMARC1;P=REJECT', 'v=DMARC1; p=quarantine', ['p lowered from reject to quarantine'], 'high'],
    ['v=DMARC1; p=reject; sp=reject', 'v=DMARC1; p=reject; sp=none', ['sp lowered from reject to none'], 'medium'],
    ['v=DMARC1; p=reject', 'v=DMARC1; p=reject; sp=quarantine', ['sp lowered from reject to quarantine'], 'medium'],
    ['v=DMARC1; p=reject; pct=100', 'v=DMARC1; p=reject; pct=10', ['pct cut from 100 to 10'], 'medium'],
    ['v=DMARC1; p=quarantine', 'v=DMARC1; p=quarantine; pct=0', ['pct cut from 100 to 0'], 'high'],
    ['v=DMARC1; p=reject; pct=100', 'v=DMARC1; p=none; pct=10', ['p lowered from reject to none'], 'high'],
  ])('%s → %s: %j (%s)', (before, after, expected, severity) => {
    expect(check(dmarc(before, after))).toMatchObject({ severity, evidence: { findings: expected } });
  });

  it('stays silent when the protection is the same or stronger, or was not in force before', () => {
    expect(check(dmarc('v=DMARC1; p=none', 'v=DMARC1; p=reject'))).toBeUndefined();
    expect(check(dmarc('v=DMARC1; p=reject', 'v=DMARC1; p=reject; rua=mailto:new@example.com'))).toBeUndefined();
    expect(check(dmarc('v=DMARC1; p=quarantine; pct=50', 'v=DMARC1; p=quarantine; pct=100'))).toBeUndefined();
    expect(check(dmarc(null, 'v=DMARC1; p=none'))).toBeUndefined();
    expect(check(dmarc('garbage', null))).toBeUndefined();
    expect(check({ ...dmarc('v=DKIM1; k=rsa; p=MIIB', null), recordType: 'DKIM', selector: 's1' })).toBeUndefined();
  });

  it('ignores a pct cut smaller than minPctDrop', () => {
    const rows = [{ rule: 'dns_weakened', enabled: true, thresholds: { minPctDrop: 20 } }];
    expect(check(dmarc('v=DMARC1; p=reject; pct=100', 'v=DMARC1; p=reject; pct=90'), rows)).toBeUndefined();
    expect(findings(dmarc('v=DMARC1; p=reject; pct=100', 'v=DMARC1; p=reject; pct=80'), rows)).toEqual(['pct cut from 100 to 80']);
  });

  it('says every weakening of one change, at the worst severity', () => {
    const alert = check(dmarc('v=DMARC1; p=reject; sp=reject; pct=100', 'v=DMARC1; p=quarantine; sp=none; pct=5'));
    expect(alert?.evidence.findings).toEqual(['p lowered from reject to quarantine', 'sp lowered from reject to none', 'pct cut from 100 to 5']);
    expect(alert?.severity).toBe('high');
    expect(alert?.title).toBe('DMARC protection of example.com weakened: p lowered from reject to quarantine (+2 more)');
  });

  it.each([
    ['v=spf1 include:_spf.google.com -all', null, ['SPF record removed']],
    ['v=spf1 include:_spf.google.com -all', 'v=spf1 include:_spf.google.com +all', ['SPF record allows any sender (+all)']],
    ['v=spf1 ip4:192.0.2.0/24 -all', 'v=spf1 ip4:192.0.2.0/24 ?all', ['SPF record allows any sender (?all)']],
    ['v=spf1 ip4:192.0.2.0/24 -all', 'v=spf1 ip4:192.0.2.0/33 -all', [expect.stringMatching(/^SPF record broken: /)]],
    ['v=spf1 ip4:192.0.2.0/24 -all', 'v=spf1 incude:_spf.example.net -all', [expect.stringMatching(/^SPF record broken: /)]],
  ])('SPF %s → %s: %j', (before, after, expected) => {
    expect(check(spf(before, after))).toMatchObject({ severity: 'high', evidence: { dnsRecordType: 'SPF', findings: expected } });
  });

  it('stays silent on an SPF change that keeps it working, or one that was broken already', () => {
    expect(check(spf('v=spf1 -all', 'v=spf1 include:_spf.google.com -all'))).toBeUndefined();
    expect(check(spf('v=spf1 ip4:192.0.2.0/33 -all', null))).toBeUndefined();
    expect(check(spf('v=spf1 +all', 'v=spf1 +all a'))).toBeUndefined();
    expect(check(spf(null, 'v=spf1 +all'))).toBeUndefined();
  });

  it('does nothing when the tenant disabled the rule', () => {
    expect(check(dmarc('v=DMARC1; p=reject', null), [{ rule: 'dns_weakened', enabled: false, thresholds: {} }])).toBeUndefined();
  });
});

describe('dns update failed', () => {
  const failure = {
    tenantId: TENANT,
    domain: 'example.com',
    severity: 'high' as const,
    summary: 'The approved policy p=reject could not be written to ns1.example.com after 8 attempts: NOTAUTH (BADSIG).',
    findings: ['job 42', 'server ns1.example.com:53', 'NOTAUTH (BADSIG)'],
    dnsName: '_dmarc.example.com',
    dnsPrevious: 'v=DMARC1; p=none',
    dnsCurrent: 'v=DMARC1; p=reject',
    failedAt: AT,
  };

  it('raises the autopilot’s failure with its evidence, in the window of the failure', () => {
    expect(dnsUpdateFailedAlert(failure, resolveRuleSettings([]))).toMatchObject({
      rule: 'dns_update_failed',
      severity: 'high',
      title: 'DNS update of example.com failed',
      summary: failure.summary,
      windowStart: Date.UTC(2025, 2, 11, 10, 0),
      evidence: { dnsRecordType: 'DMARC', dnsName: '_dmarc.example.com', dnsPrevious: 'v=DMARC1; p=none', dnsCurrent: 'v=DMARC1; p=reject', findings: failure.findings },
    });
  });

  it('does nothing when the tenant disabled the rule', () => {
    expect(dnsUpdateFailedAlert(failure, resolveRuleSettings([{ rule: 'dns_update_failed', enabled: false, thresholds: {} }]))).toBeUndefined();
  });
});
