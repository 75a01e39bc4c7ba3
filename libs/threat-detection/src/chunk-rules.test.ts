import { countChunk, fixtureChunk, fixtureRecord } from '@dmarc/aggregates';
import type { AggregateRecord, SourceNames } from '@dmarc/contracts';
import type { ApprovedSourceRef } from '@dmarc/policy-guidance';
import { addDays, evaluateChunkRules, type DayTotals, type DomainHistory } from './chunk-rules';
import { trafficByDomain, type SourceTraffic } from './chunk-traffic';
import { resolveRuleSettings, type StoredRule } from './rule-settings';
import { sourceApproval } from './source-identity';

const TENANT = '00000000-0000-4000-8000-000000000001';
const NOW = Date.UTC(2025, 2, 11, 10, 17, 5);
const DAY = '2025-03-10';

const fail = (sourceIp: string, count: number, more: Partial<AggregateRecord> = {}) => fixtureRecord({ sourceIp, count, dkimAligned: false, spfAligned: false, ...more });
const pass = (sourceIp: string, count: number) => fixtureRecord({ sourceIp, count });

/** The traffic of one chunk of example.com (enriched when `names` are given). */
function trafficOf(records: AggregateRecord[], names?: SourceNames[], reportId = 'r1') {
  const chunk = { ...fixtureChunk(TENANT, reportId, records), ...(names ? { sources: names } : {}) };
  const [traffic] = trafficByDomain([{ counts: countChunk(chunk) }]);
  return traffic;
}

interface HistoryInput {
  approved?: ApprovedSourceRef[];
  seen?: string[];
  /** The day's failing sources; by default exactly the traffic's. */
  daySources?: SourceTraffic[];
  totals?: Record<string, DayTotals>;
}

function run(records: AggregateRecord[], h: HistoryInput = {}, rules: StoredRule[] = [], names?: SourceNames[]) {
  const traffic = trafficOf(records, names);
  const history: DomainHistory = {
    approved: sourceApproval(h.approved ?? []),
    seenKeys: new Set(h.seen ?? []),
    failingSourcesByDay: new Map([[DAY, h.daySources ?? traffic.sources.filter((s) => s.failing > 0)]]),
    totalsByDay: new Map(Object.entries(h.totals ?? {})),
  };
  return evaluateChunkRules({ traffic, history, settings: resolveRuleSettings(rules), now: NOW });
}
const only = (rule: string, thresholds: object, enabled = true): StoredRule[] =>
  ['spoofing', 'new_source', 'failure_spike'].map((r) => (r === rule ? { rule, enabled, thresholds } : { rule: r, enabled: false, thresholds: {} }));
const spoofing = (thresholds: object = {}) => only('spoofing', thresholds);
const newSource = (thresholds: object = {}) => only('new_source', thresholds);
const spike = (thresholds: object = {}) => only('failure_spike', thresholds);

describe('spoofing', () => {
  it('fires when unapproved sources failing both alignments reach minMessages in the report day, with the evidence', () => {
    const { alerts } = run([fail('198.51.100.7', 90), fail('198.51.100.8', 10), pass('192.0.2.1', 500)], {}, spoofing({ minMessages: 100 }));
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      tenantId: TENANT,
      domain: 'example.com',
      rule: 'spoofing',
      severity: 'high',
      detectedAt: NOW,
      windowStart: Date.UTC(2025, 2, 11, 10, 0),
      windowEnd: Date.UTC(2025, 2, 11, 11, 0),
      windowKey: '2025-03-11T10:00:00.000Z',
      evidence: { failingMessages: 100, messages: 100, sourceCount: 2, reportIds: ['r1'], days: [DAY], thresholds: '{"minMessages":100,"dedupeMinutes":60}' },
    });
    expect(alerts[0].evidence.sources.map((s) => [s.ip, s.failingMessages])).toEqual([
      ['198.51.100.7', 90],
      ['198.51.100.8', 10],
    ]);
    expect(alerts[0].title).toBe('Spoofing of example.com: 100 failing messages from 2 unapproved sources on 2025-03-10');
  });

  it('stays silent one message below the threshold, and at the threshold fires', () => {
    expect(run([fail('198.51.100.7', 99)], {}, spoofing({ minMessages: 100 })).alerts).toEqual([]);
    expect(run([fail('198.51.100.7', 100)], {}, spoofing({ minMessages: 100 })).alerts).toHaveLength(1);
  });

  it('counts the whole day: a few failing messages now on top of the day’s earlier ones', () => {
    const earlier: SourceTraffic = { ip: '203.0.113.5', ptr: null, baseDomain: null, messages: 95, failing: 95 };
    const now: SourceTraffic = { ip: '198.51.100.7', ptr: null, baseDomain: null, messages: 5, failing: 5 };
    const { alerts } = run([fail('198.51.100.7', 5)], { daySources: [earlier, now] }, spoofing({ minMessages: 100 }));
    expect(alerts[0].evidence).toMatchObject({ failingMessages: 100, sourceCount: 2 });
  });

  it('is critical at ten times the threshold', () => {
    expect(run([fail('198.51.100.7', 1000)], {}, spoofing({ minMessages: 100 })).alerts[0].severity).toBe('critical');
  });

  it('leaves approved sources out (by IP, CIDR, IPv6 in any spelling, and PTR base domain)', () => {
    const approved: ApprovedSourceRef[] = [
      { kind: 'ip', source: '2001:db8::1' },
      { kind: 'cidr', source: '198.51.100.0/24' },
      { kind: 'host', source: '_spf.sender.example' },
    ];
    const records = [fail('2001:DB8:0:0::1', 500), fail('198.51.100.200', 500), fail('203.0.113.9', 500)];
    const names = [{ ip: '203.0.113.9', ptr: 'out-1.mail.sender.example', baseDomain: 'sender.example' }];
    expect(run(records, { approved }, spoofing({ minMessages: 1 }), names).alerts).toEqual([]);
  });

  it('does not let a look-alike PTR name pass for an approved host', () => {
    const approved: ApprovedSourceRef[] = [{ kind: 'host', source: 'google.com' }];
    const names = [
      { ip: '203.0.113.9', ptr: 'mail.google.com.evil.example', baseDomain: 'evil.example' },
      { ip: '203.0.113.10', ptr: 'mx.g00gle.com', baseDomain: 'g00gle.com' },
      { ip: '203.0.113.11', ptr: 'mail-x.google.com', baseDomain: 'google.com' },
    ];
    const { alerts } = run([fail('203.0.113.9', 60), fail('203.0.113.10', 60), fail('203.0.113.11', 60)], { approved }, spoofing({ minMessages: 100 }), names);
    expect(alerts[0].evidence.sources.map((s) => s.ip)).toEqual(['203.0.113.10', '203.0.113.9']);
    expect(alerts[0].evidence.failingMessages).toBe(120);
  });

  it('needs both alignments failing: DKIM-only or SPF-only aligned mail passes DMARC', () => {
    const records = [fail('198.51.100.7', 500, { dkimAligned: true }), fail('198.51.100.8', 500, { spfAligned: true })];
    expect(run(records, {}, spoofing({ minMessages: 1 })).alerts).toEqual([]);
  });

  it('takes zero counts, an empty chunk and a disabled rule without firing', () => {
    expect(run([fail('198.51.100.7', 0)], {}, spoofing({ minMessages: 1 })).alerts).toEqual([]);
    expect(trafficByDomain([{ counts: countChunk(fixtureChunk(TENANT, 'empty', [])) }])).toEqual([]);
    expect(run([fail('198.51.100.7', 5000)], {}, only('spoofing', {}, false)).alerts).toEqual([]);
  });

  it('ignores a duplicate report: it was never counted', () => {
    const chunk = fixtureChunk(TENANT, 'dup', [fail('198.51.100.7', 5000)], { duplicateOf: 'r1' });
    expect(trafficByDomain([{ counts: countChunk(chunk) }])).toEqual([]);
  });
});

describe('new source', () => {
  it('reports a never-seen, unapproved source whose mail fails alignment, naming it by network without a PTR name', () => {
    const { alerts, seen } = run([fail('203.0.113.77', 3), fail('203.0.113.78', 2)], {}, newSource());
    expect(seen).toEqual([]);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ rule: 'new_source', severity: 'medium', evidence: { messages: 5, failingMessages: 5, findings: ['net:203.0.113.0/24'], sourceCount: 2 } });
    expect(alerts[0].names).toEqual([{ key: 'net:203.0.113.0/24', ip: '203.0.113.77' }]);
    expect(alerts[0].evidence.sources.map((s) => s.sourceKey)).toEqual(['net:203.0.113.0/24', 'net:203.0.113.0/24']);
  });

  it('names an IPv6 source by its /48, and a named source by its provider or base domain', () => {
    const names = [
      { ip: '198.51.100.1', ptr: 'a.b.evil.example', baseDomain: 'evil.example' },
      { ip: '198.51.100.2', ptr: 'mail-yw1.google.com', baseDomain: 'google.com' },
    ];
    const { alerts } = run([fail('2001:DB8:AB::5', 1), fail('198.51.100.1', 1), fail('198.51.100.2', 1)], {}, newSource(), names);
    expect(alerts[0].evidence.findings.sort()).toEqual(['domain:evil.example', 'net:2001:db8:ab::/48', 'provider:google']);
  });

  it('remembers a new source that sent aligned mail instead of reporting it', () => {
    const { alerts, seen } = run([pass('203.0.113.77', 10), fail('203.0.113.78', 1)], {}, newSource());
    expect(alerts).toEqual([]);
    expect(seen).toEqual([{ key: 'net:203.0.113.0/24', ip: '203.0.113.77' }]);
  });

  it('says nothing of a source already seen or approved', () => {
    expect(run([fail('203.0.113.77', 50)], { seen: ['net:203.0.113.0/24'] }, newSource()).alerts).toEqual([]);
    const approved = run([fail('203.0.113.77', 50)], { approved: [{ kind: 'cidr', source: '203.0.113.0/24' }] }, newSource());
    expect(approved).toEqual({ alerts: [], seen: [] });
  });

  it('waits for minMessages failing messages before reporting, and remembers nothing meanwhile', () => {
    expect(run([fail('203.0.113.77', 4)], {}, newSource({ minMessages: 5 }))).toEqual({ alerts: [], seen: [] });
    expect(run([fail('203.0.113.77', 5)], {}, newSource({ minMessages: 5 })).alerts).toHaveLength(1);
  });

  it('groups by the tenant’s prefix', () => {
    const { alerts } = run([fail('203.0.113.1', 1), fail('203.0.113.200', 1)], {}, newSource({ ipv4Prefix: 25 }));
    expect(alerts[0].evidence.findings).toEqual(['net:203.0.113.0/25', 'net:203.0.113.128/25']);
  });
});

describe('failure spike', () => {
  const baseline = (days: number, messages: number, failing: number) =>
    Object.fromEntries(Array.from({ length: days }, (_, i) => [addDays(DAY, -1 - i), { messages, failing }]));

  it('fires when the report day’s failure rate rises above the baseline of the days before', () => {
    const { alerts } = run([fail('198.51.100.7', 1)], { totals: { ...baseline(7, 1000, 50), [DAY]: { messages: 200, failing: 120 } } }, spike());
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      rule: 'failure_spike',
      severity: 'high',
      windowStart: Date.UTC(2025, 2, 11, 6, 0),
      evidence: { messages: 200, failingMessages: 120, failureRate: 0.6, baselineRate: 0.05, baselineMessages: 7000, days: [DAY] },
    });
    expect(alerts[0].title).toBe('DMARC failures of example.com at 60.0 % on 2025-03-10 (baseline 5.0 %)');
  });

  it('needs the rise (minIncrease) and the ratio (factor) both', () => {
    const totals = (failing: number, baseFailing: number) => ({ ...baseline(7, 1000, baseFailing), [DAY]: { messages: 1000, failing } });
    expect(run([fail('198.51.100.7', 1)], { totals: totals(240, 50) }, spike()).alerts).toHaveLength(0); // +19 points
    expect(run([fail('198.51.100.7', 1)], { totals: totals(250, 50) }, spike()).alerts).toHaveLength(1); // +20 points, 5x
    expect(run([fail('198.51.100.7', 1)], { totals: totals(550, 300) }, spike()).alerts).toHaveLength(0); // +25 points, < 2x
  });

  it('stays silent without a baseline, with a thin one, or with too few messages that day', () => {
    expect(run([fail('198.51.100.7', 1)], { totals: { [DAY]: { messages: 1000, failing: 1000 } } }, spike()).alerts).toEqual([]);
    expect(run([fail('198.51.100.7', 1)], { totals: { ...baseline(7, 10, 0), [DAY]: { messages: 1000, failing: 1000 } } }, spike()).alerts).toEqual([]);
    expect(run([fail('198.51.100.7', 1)], { totals: { ...baseline(7, 1000, 0), [DAY]: { messages: 99, failing: 99 } } }, spike()).alerts).toEqual([]);
  });

  it('reads only the baselineDays before the day', () => {
    const old = { [addDays(DAY, -3)]: { messages: 5000, failing: 0 } };
    expect(run([fail('198.51.100.7', 1)], { totals: { ...old, [DAY]: { messages: 1000, failing: 900 } } }, spike({ baselineDays: 2 })).alerts).toEqual([]);
    expect(run([fail('198.51.100.7', 1)], { totals: { ...old, [DAY]: { messages: 1000, failing: 900 } } }, spike({ baselineDays: 3 })).alerts).toHaveLength(1);
  });

  it('survives zero counts everywhere', () => {
    expect(run([fail('198.51.100.7', 0)], { totals: { ...baseline(7, 0, 0), [DAY]: { messages: 0, failing: 0 } } }, spike({ minMessages: 1, baselineMinMessages: 1 })).alerts).toEqual([]);
  });
});

describe('addDays', () => {
  it('crosses month and year ends', () => {
    expect(addDays('2025-03-01', -1)).toBe('2025-02-28');
    expect(addDays('2024-03-01', -1)).toBe('2024-02-29');
    expect(addDays('2025-12-31', 1)).toBe('2026-01-01');
  });
});
