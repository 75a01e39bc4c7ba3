import { fixtureChunk, fixtureRecord, ReportAggregator } from '@dmarc/aggregates';
import type { OutgoingMessage, Publisher } from '@dmarc/bus';
import { loadContracts, type AggregateRecord, type Alert, type DnsChange, type ReportParsed } from '@dmarc/contracts';
import { migrate, PgliteStore, type Store } from '@dmarc/store';
import { ThreatDetector, type DetectionOutcome } from './threat-detector';

// The detector over PGlite (the same SQL as PostgreSQL), inside the aggregator's flush transaction as aggregation runs
// it, and a publisher that encodes with the contract: exactly once through the aggregation ledger, the dedupe window,
// the sources' memory, the outbox and its relay, without Kafka. End to end on the real broker:
// services/aggregation/src/alerts.int.test.ts.
const contracts = loadContracts();

class RecordingPublisher implements Publisher {
  readonly alerts: Alert[] = [];
  failing = false;
  async publish(topic: string, messages: ReadonlyArray<unknown>): Promise<void> {
    if (this.failing) throw new Error('broker unreachable');
    for (const m of messages as Array<OutgoingMessage<Alert>>) {
      const encoded = contracts.encode('dmarc.alerts', m.value);
      expect(topic).toBe('dmarc.alerts');
      this.alerts.push(contracts.decode('dmarc.alerts', encoded.value, encoded.headers).value);
    }
  }
  async publishRaw(): Promise<void> {}
}

describe('ThreatDetector (PGlite)', () => {
  let store: Store;
  let tenantId: string;
  let clock = Date.UTC(2025, 2, 11, 10, 5);
  const warnings: string[] = [];
  const publisher = new RecordingPublisher();
  let detector: ThreatDetector;
  let aggregator: ReportAggregator;
  // What the detector did in the last flush that applied a chunk.
  let last: DetectionOutcome | undefined;
  const nothing = (): DetectionOutcome => ({ alerts: [], published: Promise.resolve(0) });

  beforeAll(async () => {
    store = await PgliteStore.open();
    await migrate(store);
    tenantId = (await store.query<{ id: string }>(`INSERT INTO tenants (name) VALUES ('acme') RETURNING id`)).rows[0].id;
    detector = new ThreatDetector({ db: store, publisher, logger: { warn: (obj, msg) => void warnings.push(`${msg} ${JSON.stringify(obj)}`) }, now: () => clock });
    aggregator = new ReportAggregator({
      db: store,
      publisher: { publish: async () => undefined, publishRaw: async () => undefined },
      writeBehind: false,
      withinFlush: async (tx, applied) => {
        const committed = await detector.checkInFlush(tx, applied);
        return async () => {
          last = await committed();
        };
      },
    });
  }, 60_000);
  afterAll(async () => {
    await store?.close();
  });

  const fail = (sourceIp: string, count: number) => fixtureRecord({ sourceIp, count, dkimAligned: false, spfAligned: false });
  // As aggregation does: the rules in the flush's transaction, after the counters; nothing when the ledger has the chunk.
  const handle = async (chunk: ReportParsed): Promise<DetectionOutcome> => {
    last = undefined;
    await aggregator.handle(chunk);
    return last ?? nothing();
  };
  const chunkOf = (reportId: string, domain: string, records: AggregateRecord[]): ReportParsed => {
    const c = fixtureChunk(tenantId, reportId, records);
    return { ...c, metadata: { ...c.metadata, policy: { ...c.metadata.policy, domain } } };
  };
  const deliver = (reportId: string, domain: string, records: AggregateRecord[]) => handle(chunkOf(reportId, domain, records));
  const alertRows = (domain: string) =>
    store.query<{ rule: string; published_at: Date | null }>('SELECT rule, published_at FROM alerts WHERE tenant_id = $1 AND domain = $2 ORDER BY rule', [tenantId, domain]).then((r) => r.rows);

  it('stores and publishes a spoofing alert once: a redelivery and a second trigger in the window add none, the next window may', async () => {
    const first = await deliver('spoof-1', 'a.example', [fail('198.51.100.7', 150)]);
    expect(first.alerts.map((a) => a.rule).sort()).toEqual(['new_source', 'spoofing']);
    expect(await first.published).toBe(2);
    expect(publisher.alerts.filter((a) => a.domain === 'a.example').map((a) => a.rule).sort()).toEqual(['new_source', 'spoofing']);
    expect((await alertRows('a.example')).every((r) => r.published_at !== null)).toBe(true);

    // A redelivery: the aggregation ledger has the chunk, so neither its counters nor its rules run again.
    expect(last).toBeDefined();
    const again = await handle(chunkOf('spoof-1', 'a.example', [fail('198.51.100.7', 150)]));
    expect(last).toBeUndefined();
    expect(again.alerts).toEqual([]);
    expect((await deliver('spoof-2', 'a.example', [fail('198.51.100.8', 500)])).alerts.map((a) => a.rule)).toEqual([]);

    clock += 60 * 60_000;
    expect((await deliver('spoof-3', 'a.example', [fail('198.51.100.9', 5)])).alerts.map((a) => a.rule)).toEqual(['spoofing']);
    expect(await alertRows('a.example')).toHaveLength(3);
  });

  it('remembers a failing new source only when its alert was stored; one the window swallowed is new again next window', async () => {
    await deliver('src-1', 'b.example', [fail('203.0.113.1', 1)]);
    const swallowed = await deliver('src-2', 'b.example', [fail('192.0.2.200', 1)]);
    expect(swallowed.alerts).toEqual([]);
    const seen = async () => (await store.query<{ source_key: string }>('SELECT source_key FROM alert_seen_sources WHERE domain = $1 ORDER BY 1', ['b.example'])).rows.map((r) => r.source_key);
    expect(await seen()).toEqual(['net:203.0.113.0/24']);
    clock += 60 * 60_000;
    const next = await deliver('src-3', 'b.example', [fail('192.0.2.201', 1), fail('203.0.113.2', 1)]);
    expect(next.alerts[0].evidence.findings).toEqual(['net:192.0.2.0/24']);
    expect(await seen()).toEqual(['net:192.0.2.0/24', 'net:203.0.113.0/24']);
  });

  it('keeps an alert whose publish failed and lets the relay send it', async () => {
    publisher.failing = true;
    const outcome = await deliver('relay-1', 'c.example', [fail('198.51.100.50', 1000)]);
    expect(await outcome.published).toBe(0);
    expect(outcome.alerts.map((a) => a.rule).sort()).toEqual(['new_source', 'spoofing']);
    expect(warnings.some((w) => w.startsWith('publishing alerts failed; the relay sends them'))).toBe(true);
    expect((await alertRows('c.example')).map((r) => r.published_at)).toEqual([null, null]);
    await expect(detector.relay()).rejects.toThrow('broker unreachable');

    publisher.failing = false;
    expect(await detector.relay()).toBe(2);
    expect(await detector.relay()).toBe(0);
    expect(publisher.alerts.filter((a) => a.domain === 'c.example').map((a) => a.severity).sort()).toEqual(['critical', 'medium']);
  });

  it('runs a rule whose stored thresholds do not validate on its defaults, saying so, and honours a disabled rule', async () => {
    await store.query(`INSERT INTO alert_rules (tenant_id, rule, thresholds) VALUES ($1, 'spoofing', '{"minMessages": -1}')`, [tenantId]);
    await store.query(`INSERT INTO alert_rules (tenant_id, rule, enabled) VALUES ($1, 'new_source', false)`, [tenantId]);
    const below = await deliver('rules-1', 'd.example', [fail('198.51.100.60', 99)]);
    expect(below.alerts).toEqual([]);
    expect(warnings.some((w) => w.includes('spoofing.minMessages must be an integer ≥ 1, not -1'))).toBe(true);
    expect((await deliver('rules-2', 'd.example', [fail('198.51.100.61', 1)])).alerts.map((a) => a.rule)).toEqual(['spoofing']);
    await store.query(`DELETE FROM alert_rules WHERE tenant_id = $1`, [tenantId]);
  });

  it('alerts on a weakened DNS record of a monitored domain only, once per window whatever the redeliveries', async () => {
    await store.query('INSERT INTO domains (tenant_id, name) VALUES ($1, $2)', [tenantId, 'e.example']);
    const change = (domain: string): DnsChange => ({
      tenantId,
      domain,
      recordType: 'DMARC',
      name: `_dmarc.${domain}`,
      selector: null,
      change: 'changed',
      previous: 'v=DMARC1; p=reject',
      current: 'v=DMARC1; p=none',
      detectedAt: clock,
    });
    expect((await detector.checkDnsChange(change('e.example'))).alerts.map((a) => [a.rule, a.severity])).toEqual([['dns_weakened', 'high']]);
    expect((await detector.checkDnsChange(change('e.example'))).alerts).toEqual([]);
    expect((await detector.checkDnsChange(change('E.Example.'))).alerts).toEqual([]);
    expect((await detector.checkDnsChange(change('not-monitored.example'))).alerts).toEqual([]);
    expect((await detector.checkDnsChange({ ...change('e.example'), tenantId: '00000000-0000-4000-8000-000000000999' })).alerts).toEqual([]);
  });

  it('raises the DNS autopilot’s failure once per window, whatever the retries', async () => {
    const failure = { tenantId, domain: 'f.example', severity: 'high' as const, summary: 'update refused', findings: ['REFUSED'], failedAt: clock };
    const first = await detector.raiseDnsUpdateFailed(failure);
    expect(first.alerts.map((a) => [a.rule, a.evidence.findings])).toEqual([['dns_update_failed', ['REFUSED']]]);
    expect(await first.published).toBe(1);
    expect((await detector.raiseDnsUpdateFailed(failure)).alerts).toEqual([]);
    expect(publisher.alerts.filter((a) => a.domain === 'f.example').map((a) => a.rule)).toEqual(['dns_update_failed']);
  });

  it('brings at most the hourly budget of never-seen sources of a domain to the new-source rule, and more the next hour', async () => {
    const flood = new ThreatDetector({ db: store, publisher, logger: { warn: (obj, msg) => void warnings.push(`${msg} ${JSON.stringify(obj)}`) }, now: () => clock, newSourceKeysPerHour: 3 });
    const floodAggregator = new ReportAggregator({
      db: store,
      publisher: { publish: async () => undefined, publishRaw: async () => undefined },
      writeBehind: false,
      withinFlush: async (tx, applied) => {
        const committed = await flood.checkInFlush(tx, applied);
        return async () => void (await committed());
      },
    });
    const seen = async () => (await store.query('SELECT 1 FROM alert_seen_sources WHERE tenant_id = $1 AND domain = $2', [tenantId, 'h.example'])).rowCount;
    const aligned = (n: number, from: number) => Array.from({ length: n }, (_, i) => fixtureRecord({ sourceIp: `10.${from + i}.0.1`, count: 1 }));
    await floodAggregator.handle(chunkOf('flood-1', 'h.example', aligned(10, 0)));
    expect(await seen()).toBe(3);
    expect(warnings.filter((w) => w.startsWith('new-source rule: too many never-seen sources') && w.includes('h.example'))).toHaveLength(1);
    await floodAggregator.handle(chunkOf('flood-2', 'h.example', aligned(10, 20)));
    expect(await seen()).toBe(3);
    clock += 60 * 60_000;
    await floodAggregator.handle(chunkOf('flood-3', 'h.example', aligned(10, 40)));
    expect(await seen()).toBe(6);
  });

  it('reads the baseline of a tenant that looks further back than the default, beyond what the first read fetched', async () => {
    // Baseline mail 8-10 days before the report day (2025-03-10): outside the default 7 days, inside this tenant's 10.
    for (const day of ['2025-02-28', '2025-03-01', '2025-03-02']) {
      await store.query(`INSERT INTO aggregate_domain_days (tenant_id, domain, day, messages, failing) VALUES ($1, 'i.example', $2, 1000, 0)`, [tenantId, day]);
    }
    await store.query(`INSERT INTO alert_rules (tenant_id, rule, thresholds) VALUES ($1, 'failure_spike', '{"baselineDays": 10}')`, [tenantId]);
    try {
      const outcome = await deliver('spike-far-1', 'i.example', [fail('198.51.100.90', 150), fixtureRecord({ sourceIp: '198.51.100.91', count: 50 })]);
      const spike = outcome.alerts.find((a) => a.rule === 'failure_spike');
      expect(spike?.evidence.baselineRate).toBe(0);
      expect(spike?.evidence.failureRate).toBe(0.75);
    } finally {
      await store.query(`DELETE FROM alert_rules WHERE tenant_id = $1`, [tenantId]);
    }
  });

  it('ignores duplicate reports and empty chunks', async () => {
    const dup = fixtureChunk(tenantId, 'dup-1', [fail('198.51.100.70', 5000)], { duplicateOf: 'spoof-1' });
    expect((await handle(dup)).alerts).toEqual([]);
    expect((await handle(fixtureChunk(tenantId, 'empty-1', []))).alerts).toEqual([]);
  });

  it('rolls its alerts back with the counters when the flush fails, and raises them when it is delivered again', async () => {
    const failing = new ReportAggregator({
      db: store,
      publisher: { publish: async () => undefined, publishRaw: async () => undefined },
      writeBehind: false,
      withinFlush: async (tx, applied) => {
        await detector.checkInFlush(tx, applied);
        throw new Error('the flush failed after the rules ran');
      },
    });
    await expect(failing.handle(chunkOf('rollback-1', 'g.example', [fail('198.51.100.80', 500)]))).rejects.toThrow('the flush failed');
    expect(await alertRows('g.example')).toEqual([]);
    expect((await store.query(`SELECT 1 FROM processed_messages WHERE message_id = 'rollback-1:0'`)).rowCount).toBe(0);
    const redelivered = await deliver('rollback-1', 'g.example', [fail('198.51.100.80', 500)]);
    expect(redelivered.alerts.map((a) => a.rule).sort()).toEqual(['new_source', 'spoofing']);
  });
});
