import type { CurrentPolicy, DomainFigures } from './domain-figures';
import { PolicyGuidanceError } from './errors';
import { figures, source } from './figure-fixtures';
import { DEFAULT_THRESHOLDS, resolveThresholds } from './guidance-thresholds';
import { evaluateGuidance, type DomainGuidance, type GuidanceInput } from './policy-evaluator';
import type { ApprovedSourceRef } from './source-matching';

const at = (p: CurrentPolicy['p'], pct = 100): CurrentPolicy => ({ p, pct, origin: 'configured' });
const ip = (source: string): ApprovedSourceRef => ({ kind: 'ip', source });
const cidr = (source: string): ApprovedSourceRef => ({ kind: 'cidr', source });
const host = (source: string): ApprovedSourceRef => ({ kind: 'host', source });

function guide(input: Partial<GuidanceInput> & { figures: DomainFigures }): DomainGuidance {
  return evaluateGuidance({ approved: [], policy: at('none'), ...input });
}
const step = (g: DomainGuidance, to: 'quarantine' | 'reject') => g.steps.find((s) => s.to === to)!;
const codes = (g: DomainGuidance, to: 'quarantine' | 'reject') => step(g, to).reasons.map((r) => r.code);

describe('evaluateGuidance', () => {
  const rate = DEFAULT_THRESHOLDS.alignedRate;
  // Exactly the threshold: `rate` of 5,000 messages aligned.
  const atRate = Math.round(5000 * rate);

  it('finds a step safe when every approved source passes DMARC on exactly the aligned rate', () => {
    expect(atRate / 5000).toBe(rate);
    const g = guide({ figures: figures([source('192.0.2.1', 5000, atRate), source('198.51.100.7', 20, 0)]), approved: [ip('192.0.2.1')], policy: at('quarantine') });
    expect(step(g, 'quarantine').verdict).toBe('applied');
    expect(step(g, 'reject')).toMatchObject({ from: 'quarantine', to: 'reject', verdict: 'safe', reasons: [{ code: 'ALL_CHECKS_PASSED', blocking: false }] });
    expect(g.legitimateSources).toEqual([expect.objectContaining({ sourceIp: '192.0.2.1', messages: 5000, alignedRate: rate, approvedBy: ip('192.0.2.1'), days: 30 })]);
    expect(g.data).toEqual({ windowDays: DEFAULT_THRESHOLDS.windowDays, daysWithData: 30, messages: 5020, sources: 2 });
    expect(g.unapproved).toEqual({ sources: 1, messages: 20, dmarcPass: 0, share: 20 / 5020 });
  });

  it('blocks when an approved source is just below the aligned rate, naming it with its rate and volume', () => {
    const g = guide({ figures: figures([source('192.0.2.1', 5000, atRate - 1), source('192.0.2.2', 800, 800)]), approved: [ip('192.0.2.1'), ip('192.0.2.2')] });
    const quarantine = step(g, 'quarantine');
    expect(quarantine.verdict).toBe('blocked');
    const below = quarantine.reasons.find((r) => r.code === 'SOURCE_BELOW_ALIGNED_RATE')!;
    expect(below).toMatchObject({ blocking: true, sources: ['192.0.2.1'] });
    expect(below.message).toContain('192.0.2.1 97.98 % of 5000');
    expect(g.legitimateSources.map((s) => [s.sourceIp, s.alignedRate])).toEqual([
      ['192.0.2.1', (atRate - 1) / 5000],
      ['192.0.2.2', 1],
    ]);
  });

  it('answers "not enough data" without any data, and names what is missing', () => {
    const g = guide({ figures: figures([], 0), approved: [ip('192.0.2.1')] });
    for (const to of ['quarantine', 'reject'] as const) {
      expect(step(g, to).verdict).toBe('not_enough_data');
      expect(codes(g, to)).toEqual(expect.arrayContaining(['NOT_ENOUGH_DAYS', 'NOT_ENOUGH_MESSAGES', 'NO_LEGITIMATE_TRAFFIC']));
    }
    expect(g.data).toMatchObject({ daysWithData: 0, messages: 0, sources: 0 });
    expect(g.unapproved.share).toBeNull();
  });

  it('answers "not enough data" below the minimum days or messages, even when the figures look perfect', () => {
    const t = DEFAULT_THRESHOLDS;
    const fewDays = guide({ figures: figures([source('192.0.2.1', 10_000, 10_000)], t.minDays - 1), approved: [ip('192.0.2.1')] });
    expect(step(fewDays, 'quarantine').verdict).toBe('not_enough_data');
    expect(codes(fewDays, 'quarantine')).toEqual(['NOT_ENOUGH_DAYS']);
    const fewMessages = guide({ figures: figures([source('192.0.2.1', t.minMessages - 1, t.minMessages - 1)], t.minDays), approved: [ip('192.0.2.1')] });
    expect(codes(fewMessages, 'quarantine')).toEqual(['NOT_ENOUGH_MESSAGES']);
    const enough = guide({ figures: figures([source('192.0.2.1', t.minMessages, t.minMessages)], t.minDays), approved: [ip('192.0.2.1')] });
    expect(step(enough, 'quarantine').verdict).toBe('safe');
  });

  it('blocks on an unapproved source at or above the high-volume share, not on one below it', () => {
    const share = DEFAULT_THRESHOLDS.highVolumeShare;
    const total = 10_000;
    const atShare = total * share;
    const blocked = guide({ figures: figures([source('192.0.2.1', total - atShare, total - atShare), source('203.0.113.9', atShare, 0)]), approved: [ip('192.0.2.1')] });
    expect(step(blocked, 'quarantine').verdict).toBe('blocked');
    expect(step(blocked, 'quarantine').reasons.find((r) => r.code === 'UNAPPROVED_HIGH_VOLUME')).toMatchObject({ blocking: true, sources: ['203.0.113.9'] });
    expect(blocked.unapprovedHighVolume).toEqual([expect.objectContaining({ sourceIp: '203.0.113.9', share, alignedRate: 0, approvedBy: null })]);

    const below = guide({ figures: figures([source('192.0.2.1', total - atShare + 1, total - atShare + 1), source('203.0.113.9', atShare - 1, 0)]), approved: [ip('192.0.2.1')] });
    expect(step(below, 'quarantine').verdict).toBe('safe');
    expect(below.unapprovedHighVolume).toEqual([]);
    // An unapproved sender that passes DMARC blocks too: it may be the tenant's own, not yet approved.
    const aligned = guide({ figures: figures([source('192.0.2.1', 5000, 5000), source('203.0.113.9', 5000, 5000)]), approved: [ip('192.0.2.1')] });
    expect(codes(aligned, 'quarantine')).toEqual(['UNAPPROVED_HIGH_VOLUME']);
  });

  it('matches IPv6 sources by address in any spelling and by CIDR block', () => {
    const g = guide({
      figures: figures([source('2001:db8::1', 3000, 3000), source('2001:db8:ffff::5', 3000, 3000), source('2001:db9::1', 3000, 3000)]),
      approved: [ip('2001:DB8:0:0::1'), cidr('2001:db8:ff00::/40')],
    });
    expect(g.legitimateSources.map((s) => [s.sourceIp, s.approvedBy?.source])).toEqual([
      ['2001:db8::1', '2001:DB8:0:0::1'],
      ['2001:db8:ffff::5', '2001:db8:ff00::/40'],
    ]);
    expect(g.unapprovedHighVolume.map((s) => s.sourceIp)).toEqual(['2001:db9::1']);
  });

  it('matches IPv4 sources by CIDR block (the IPv4-mapped IPv6 form too) and by host base domain', () => {
    const g = guide({
      figures: figures([
        source('192.0.2.200', 1000, 1000),
        source('::ffff:192.0.2.9', 1000, 1000),
        source('192.0.3.1', 1000, 1000),
        source('209.85.220.41', 1000, 1000, { ptr: 'mail-sor-f41.google.com', baseDomain: 'google.com' }),
        source('209.85.220.42', 1000, 1000),
      ]),
      approved: [cidr('192.0.2.0/24'), host('_spf.google.com')],
    });
    const by = Object.fromEntries(g.legitimateSources.map((s) => [s.sourceIp, s.approvedBy?.source]));
    expect(by).toEqual({ '192.0.2.200': '192.0.2.0/24', '::ffff:192.0.2.9': '192.0.2.0/24', '209.85.220.41': '_spf.google.com' });
    // Without a PTR name a host approval cannot cover it.
    expect(g.unapprovedHighVolume.map((s) => s.sourceIp).sort()).toEqual(['192.0.3.1', '209.85.220.42']);
  });

  it('reports a domain already at reject as applied for both steps', () => {
    const g = guide({ figures: figures([source('192.0.2.1', 100, 1)]), approved: [], policy: at('reject') });
    expect(g.steps.map((s) => [s.from, s.to, s.verdict])).toEqual([
      ['none', 'quarantine', 'applied'],
      ['quarantine', 'reject', 'applied'],
    ]);
    expect(codes(g, 'reject')).toEqual(['STEP_APPLIED']);
  });

  it('keeps quarantine → reject for after quarantine is in force at pct=100, and says pct completes a step', () => {
    const clean = figures([source('192.0.2.1', 5000, 5000)]);
    const fromNone = guide({ figures: clean, approved: [ip('192.0.2.1')], policy: at('none') });
    expect(step(fromNone, 'quarantine').verdict).toBe('safe');
    expect(step(fromNone, 'reject').verdict).toBe('blocked');
    expect(codes(fromNone, 'reject')).toEqual(['PREVIOUS_STEP_FIRST']);

    const half = guide({ figures: clean, approved: [ip('192.0.2.1')], policy: at('quarantine', 50) });
    expect(step(half, 'quarantine')).toMatchObject({ verdict: 'safe' });
    expect(codes(half, 'quarantine')).toEqual(['PCT_BELOW_100', 'ALL_CHECKS_PASSED']);
    expect(codes(half, 'reject')).toEqual(['PREVIOUS_STEP_FIRST']);

    const rejectHalf = guide({ figures: clean, approved: [ip('192.0.2.1')], policy: at('reject', 50) });
    expect(step(rejectHalf, 'quarantine').verdict).toBe('applied');
    expect(codes(rejectHalf, 'reject')).toEqual(['PCT_BELOW_100', 'ALL_CHECKS_PASSED']);
  });

  it('needs approved sources that sent mail: without them nothing counts as legitimate', () => {
    const g = guide({ figures: figures(Array.from({ length: 200 }, (_, i) => source(`10.0.${i >> 8}.${i & 255}`, 50, 50))), approved: [ip('192.0.2.1')] });
    expect(step(g, 'quarantine').verdict).toBe('blocked');
    expect(codes(g, 'quarantine')).toEqual(['NO_LEGITIMATE_TRAFFIC']);
  });

  it('takes threshold overrides, and refuses out-of-range ones naming the threshold', () => {
    const f = figures([source('192.0.2.1', 1000, 960)]);
    expect(step(guide({ figures: f, approved: [ip('192.0.2.1')] }), 'quarantine').verdict).toBe('blocked');
    const lenient = guide({ figures: f, approved: [ip('192.0.2.1')], thresholds: { alignedRate: 0.95 } });
    expect(step(lenient, 'quarantine').verdict).toBe('safe');
    expect(lenient.thresholds).toEqual({ ...DEFAULT_THRESHOLDS, alignedRate: 0.95 });
    for (const [override, field] of [
      [{ alignedRate: 1.5 }, 'alignedRate'],
      [{ highVolumeShare: 0 }, 'highVolumeShare'],
      [{ minDays: 2.5 }, 'minDays'],
      [{ windowDays: 0 }, 'windowDays'],
      [{ minDays: 31 }, 'minDays'],
      [{ proposalMinDays: 40 }, 'proposalMinDays'],
    ] as const) {
      expect(() => resolveThresholds(override)).toThrow(expect.objectContaining({ code: 'GUIDANCE_INVALID_THRESHOLDS', field, retriable: false }));
    }
    expect(() => resolveThresholds({ alignedRate: Number.NaN })).toThrow(PolicyGuidanceError);
  });

  it('keeps the message short with thousands of failing approved sources, listing them all in `sources`', () => {
    const many = Array.from({ length: 1000 }, (_, i) => source(`10.1.${i >> 8}.${i & 255}`, 100, 50));
    const g = guide({ figures: figures(many), approved: [cidr('10.1.0.0/16')] });
    const below = step(g, 'quarantine').reasons.find((r) => r.code === 'SOURCE_BELOW_ALIGNED_RATE')!;
    expect(below.sources).toHaveLength(1000);
    expect(below.message).toMatch(/and 990 more$/);
  });
});
