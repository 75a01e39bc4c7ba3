import { figures, source } from './figure-fixtures';
import { DEFAULT_THRESHOLDS } from './guidance-thresholds';
import { proposeSources } from './source-proposals';

describe('proposeSources', () => {
  const t = DEFAULT_THRESHOLDS;
  const m = t.proposalMinMessages;
  // DKIM-aligned on exactly the proposal rate, SPF never (a DKIM-only sender).
  const steady = (ip: string, messages: number, more = {}) => source(ip, messages, messages, { dkimAligned: Math.ceil(messages * t.proposalDkimRate), spfAligned: 0, days: t.proposalMinDays, ...more });

  it('proposes unapproved sources DKIM-aligned on the rate over the minimum days and messages, most messages first, with evidence', () => {
    const f = figures([steady('192.0.2.10', m), steady('2001:db8::7', m * 4, { ptr: 'o1.mail.example.net', baseDomain: 'example.net' })]);
    const { proposals, thresholds } = proposeSources({ figures: f, approved: [] });
    expect(thresholds).toEqual({ windowDays: t.windowDays, proposalDkimRate: t.proposalDkimRate, proposalMinDays: t.proposalMinDays, proposalMinMessages: m });
    expect(proposals.map((p) => p.source)).toEqual(['2001:db8::7', '192.0.2.10']);
    expect(proposals[0]).toEqual({
      source: '2001:db8::7',
      kind: 'ip',
      sourceIp: '2001:db8::7',
      ptr: 'o1.mail.example.net',
      baseDomain: 'example.net',
      messages: m * 4,
      share: (m * 4) / (m * 5),
      alignedRate: 1,
      dkimAlignedRate: Math.ceil(m * 4 * t.proposalDkimRate) / (m * 4),
      spfAlignedRate: 0,
      days: t.proposalMinDays,
      firstDay: '2025-03-01',
      lastDay: '2025-03-30',
      worstDayDkimRate: 1,
    });
  });

  it('leaves out a source short of any one condition, or already covered by an approval', () => {
    const f = figures([
      steady('192.0.2.1', m - 1),
      steady('192.0.2.2', m, { days: t.proposalMinDays - 1 }),
      steady('192.0.2.3', m * 10, { dkimAligned: Math.ceil(m * 10 * t.proposalDkimRate) - 1 }),
      steady('192.0.2.4', m),
      steady('198.51.100.4', m),
      steady('203.0.113.5', m, { baseDomain: 'sendgrid.net' }),
      steady('203.0.113.6', m),
    ]);
    const approved = [
      { kind: 'ip', source: '192.0.2.4' },
      { kind: 'cidr', source: '198.51.100.0/24' },
      { kind: 'host', source: 'sendgrid.net' },
    ] as const;
    expect(proposeSources({ figures: f, approved: [...approved] }).proposals.map((p) => p.source)).toEqual(['203.0.113.6']);
  });

  it('takes overridden proposal thresholds', () => {
    const f = figures([steady('192.0.2.1', 10, { days: 2 })]);
    expect(proposeSources({ figures: f, approved: [] }).proposals).toEqual([]);
    expect(proposeSources({ figures: f, approved: [], thresholds: { proposalMinMessages: 10, proposalMinDays: 2 } }).proposals.map((p) => p.source)).toEqual(['192.0.2.1']);
  });
});
