import { FIXTURE_BEGIN, fixtureChunk, fixtureRecord } from '@dmarc/aggregates';
import { createKafkaBus, type Bus, type Delivered } from '@dmarc/bus';
import { loadContracts, type Alert, type AggregateRecord, type DnsChangeInput, type ReportParsed } from '@dmarc/contracts';
import { PgStore, runMigrations } from '@dmarc/store';
import { spawnService, stopService, waitFor, waitReady, type SpawnedService } from '@dmarc/testing';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { propagation, ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';

// Threat alerts end to end through `dmarc serve aggregation` on the real broker and PostgreSQL: a report chunk (or a
// DNS change) published → the alert's row → its message on dmarc.alerts, decoded with the contract. Each test has
// its own tenant; the service its own consumer groups, starting at the newest offsets (primed below).
const run = `${Date.now()}-${process.pid}`;
const DAY = '2025-03-10';

interface Received {
  value: Alert;
  headers: Readonly<Record<string, string>>;
  writer: string;
}

describe('threat alerts through dmarc serve aggregation (real Kafka and PostgreSQL)', () => {
  let store: PgStore;
  let bus: Bus;
  const received: Received[] = [];

  beforeAll(async () => {
    // The test publishes with a W3C trace context of its own choosing, as an upstream service would.
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    await runMigrations(process.env.DATABASE_URL!, { info: () => undefined });
    store = new PgStore({ url: process.env.DATABASE_URL! });
    bus = await createKafkaBus({ brokers: process.env.KAFKA_BROKERS!.split(','), clientId: 'alerts-int', contracts: loadContracts() });
    await bus.ensureTopics([{ topic: 'dmarc.reports.parsed' }, { topic: 'dmarc.alerts' }, { topic: 'dmarc.dns.changes' }]);
    // As an alert consumer would read them: its own group, from the beginning, decoded by the contract.
    await bus.consume({
      groupId: `alerts-int-reader-${run}`,
      topics: ['dmarc.alerts'],
      maxWaitTimeMs: 50,
      handler: async (m) => {
        const message = m as Delivered<'dmarc.alerts'>;
        received.push({ value: message.value, headers: message.headers, writer: message.writer });
      },
    });
  });
  afterAll(async () => {
    await bus?.close();
    await store?.close();
  });

  const newTenant = async (name: string) => (await store.query<{ id: string }>('INSERT INTO tenants (name) VALUES ($1) RETURNING id', [`${name}-${run}`])).rows[0].id;
  const register = (tenantId: string, domain: string) => store.query('INSERT INTO domains (tenant_id, name) VALUES ($1, $2)', [tenantId, domain]);
  const traceIdOf = () => randomBytes(16).toString('hex');
  const traceOf = (traceId: string) => trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId: randomBytes(8).toString('hex'), traceFlags: TraceFlags.SAMPLED, isRemote: true });
  const chunk = (tenantId: string, reportId: string, domain: string, records: AggregateRecord[], day = DAY): ReportParsed => {
    const begin = Date.parse(`${day}T00:00:00Z`);
    const c = fixtureChunk(tenantId, reportId, records.map((r) => ({ ...r, headerFrom: domain })));
    return { ...c, metadata: { ...c.metadata, begin, end: begin + (c.metadata.end - FIXTURE_BEGIN), policy: { ...c.metadata.policy, domain } } };
  };
  const publishChunk = (c: ReportParsed, traceId = traceIdOf(), key = c.tenantId) =>
    bus.publish('dmarc.reports.parsed', [{ key, tenantId: c.tenantId, value: c, trace: traceOf(traceId) }]).then(() => traceId);
  const dnsChange = (tenantId: string, domain: string, previous: string | null, current: string | null, detectedAt = Date.now()): DnsChangeInput => ({
    tenantId,
    domain,
    recordType: 'DMARC',
    name: `_dmarc.${domain}`,
    change: current === null ? 'removed' : 'changed',
    previous,
    current,
    detectedAt,
  });
  const publishDns = (key: string, changes: DnsChangeInput[], traceId = traceIdOf()) =>
    bus.publish('dmarc.dns.changes', changes.map((value) => ({ key, tenantId: value.tenantId, value, trace: traceOf(traceId) }))).then(() => traceId);
  const fail = (sourceIp: string, count: number) => fixtureRecord({ sourceIp, count, dkimAligned: false, spfAligned: false });
  const pass = (sourceIp: string, count: number) => fixtureRecord({ sourceIp, count });
  const rows = (tenantId: string, rule?: string) =>
    store
      .query<{ id: string; domain: string; rule: string; severity: string; evidence: Alert['evidence']; trace_id: string | null; published_at: Date | null }>(
        'SELECT id, domain, rule, severity, evidence, trace_id, published_at FROM alerts WHERE tenant_id = $1 AND ($2::text IS NULL OR rule = $2) ORDER BY created_at, rule',
        [tenantId, rule ?? null],
      )
      .then((r) => r.rows);
  // The rules run in the flush's transaction: a chunk in the aggregation ledger has been checked.
  const checked = (reportId: string) =>
    store.query(`SELECT 1 FROM processed_messages WHERE consumer = 'aggregation' AND message_id = $1`, [`${reportId}:0`]).then((r) => r.rowCount > 0);
  const messageOf = (alertId: string) => waitFor(`alert ${alertId} on dmarc.alerts`, () => received.find((m) => m.value.alertId === alertId), 30_000);
  const messagesOf = (tenantId: string) => received.filter((m) => m.value.tenantId === tenantId);

  // A new group starts at the newest offsets only once it has its partitions, and readiness does not wait for that:
  // probes are published until one is seen through (a chunk checked, a DNS change alerted). With `key` the test's
  // own, the offsets of its partition are committed then, so a restart of the group resumes there.
  const primeGroups = async (key: string) => {
    const tenantId = await newTenant('alerts-int-probe');
    let i = 0;
    await waitFor(
      'both consumer groups assigned',
      async () => {
        const n = ++i;
        const probe = `probe-${run}-${n}`;
        await register(tenantId, `${probe}.example`);
        await publishChunk(chunk(tenantId, probe, `${probe}.example`, [pass('192.0.2.1', 1)]), traceIdOf(), key);
        await publishDns(key, [dnsChange(tenantId, `${probe}.example`, 'v=DMARC1; p=reject', null)]);
        await new Promise((r) => setTimeout(r, 1500));
        const dnsSeen = (await rows(tenantId, 'dns_weakened')).length > 0;
        return dnsSeen && (await checked(probe)) ? true : undefined;
      },
      90_000,
    );
  };

  describe('one service', () => {
    let svc: SpawnedService;
    beforeAll(async () => {
      svc = await spawnService('aggregation', { CONSUMER_GROUP: `alerts-int-${run}`, CONSUME_FROM_BEGINNING: 'false', ALERT_RELAY_INTERVAL_MS: '500' });
      await waitReady(svc);
      await primeGroups('alerts-int');
    }, 120_000);
    afterAll(async () => {
      if (svc) expect(await stopService(svc)).toBe(0);
    });

    it('spoofing: an alert row and one message with the evidence and the chunk’s trace; a second trigger in the window adds none', async () => {
      const tenantId = await newTenant('alerts-int-spoofing');
      const domain = `spoofed-${run}.example`;
      const reportId = `spoof-${run}`;
      const traceId = await publishChunk(chunk(tenantId, reportId, domain, [fail('198.51.100.7', 120), fail('2001:DB8::7', 30), pass('192.0.2.1', 500)]));

      const [row] = await waitFor('the spoofing alert', async () => ((await rows(tenantId, 'spoofing')).length > 0 ? rows(tenantId, 'spoofing') : undefined));
      const message = await messageOf(row.id);
      expect(message.value).toMatchObject({
        alertId: row.id,
        tenantId,
        domain,
        rule: 'spoofing',
        severity: 'high',
        traceId,
        evidence: { failingMessages: 150, messages: 150, sourceCount: 2, reportIds: [reportId], days: [DAY] },
      });
      expect(message.value.evidence.sources.map((s) => [s.ip, s.failingMessages])).toEqual([
        ['198.51.100.7', 120],
        ['2001:db8::7', 30],
      ]);
      expect(message.value.windowEnd - message.value.windowStart).toBe(60 * 60_000);
      expect(message.writer).toBe('dmarc.alerts/v1');
      // The publish continues the chunk's trace.
      expect(message.headers.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-0[01]$`));
      expect(row.trace_id).toBe(traceId);
      await waitFor('published_at set', async () => ((await rows(tenantId, 'spoofing'))[0].published_at ? true : undefined));

      // Another report of the same domain, more spoofing: checked, no second alert in the window.
      const second = `spoof-again-${run}`;
      await publishChunk(chunk(tenantId, second, domain, [fail('198.51.100.8', 500)]));
      await waitFor('the second report checked', async () => ((await checked(second)) ? true : undefined));
      expect(await rows(tenantId, 'spoofing')).toHaveLength(1);
      expect(new Set(messagesOf(tenantId).filter((m) => m.value.rule === 'spoofing').map((m) => m.value.alertId))).toEqual(new Set([row.id]));
    });

    it('new source: a never-seen source failing alignment is reported once; aligned and approved sources are not', async () => {
      const tenantId = await newTenant('alerts-int-new-source');
      const domain = `fresh-${run}.example`;
      await register(tenantId, domain);
      await store.query(
        `INSERT INTO approved_sources (tenant_id, domain_id, kind, source) SELECT $1, id, 'cidr', '198.51.100.0/24' FROM domains WHERE tenant_id = $1 AND name = $2`,
        [tenantId, domain],
      );
      const reportId = `new-source-${run}`;
      await publishChunk(chunk(tenantId, reportId, domain, [pass('192.0.2.10', 40), fail('203.0.113.77', 3), fail('203.0.113.78', 2), fail('198.51.100.9', 50)]));

      const [row] = await waitFor('the new-source alert', async () => ((await rows(tenantId, 'new_source')).length > 0 ? rows(tenantId, 'new_source') : undefined));
      const message = await messageOf(row.id);
      expect(message.value).toMatchObject({ rule: 'new_source', severity: 'medium', domain, evidence: { findings: ['net:203.0.113.0/24'], failingMessages: 5, reportIds: [reportId] } });
      expect(message.value.evidence.sources.map((s) => s.ip)).toEqual(['203.0.113.77', '203.0.113.78']);
      const seen = await store.query<{ source_key: string }>('SELECT source_key FROM alert_seen_sources WHERE tenant_id = $1 ORDER BY source_key', [tenantId]);
      expect(seen.rows.map((r) => r.source_key)).toEqual(['net:192.0.2.0/24', 'net:203.0.113.0/24']);

      // The same sources again, even in a later window, are known now.
      const again = `new-source-again-${run}`;
      await publishChunk(chunk(tenantId, again, domain, [fail('203.0.113.99', 4)]));
      await waitFor('the second report checked', async () => ((await checked(again)) ? true : undefined));
      expect(await rows(tenantId, 'new_source')).toHaveLength(1);
    });

    it('failure spike: the day’s failure rate above the baseline of the days before, with the tenant’s thresholds', async () => {
      const tenantId = await newTenant('alerts-int-spike');
      const domain = `spiking-${run}.example`;
      await store.query(`INSERT INTO alert_rules (tenant_id, rule, thresholds) VALUES ($1, 'failure_spike', '{"minMessages":10,"baselineDays":1,"baselineMinMessages":10}')`, [tenantId]);
      await store.query(`INSERT INTO alert_rules (tenant_id, rule, enabled) VALUES ($1, 'new_source', false)`, [tenantId]);
      const baseline = `spike-baseline-${run}`;
      await publishChunk(chunk(tenantId, baseline, domain, [pass('192.0.2.1', 95), fail('192.0.2.2', 5)], '2025-03-09'));
      await waitFor('the baseline checked', async () => ((await checked(baseline)) ? true : undefined));
      expect(await rows(tenantId)).toEqual([]);

      await publishChunk(chunk(tenantId, `spike-${run}`, domain, [pass('192.0.2.1', 40), fail('203.0.113.5', 60)]));
      const [row] = await waitFor('the spike alert', async () => ((await rows(tenantId, 'failure_spike')).length > 0 ? rows(tenantId, 'failure_spike') : undefined));
      expect((await messageOf(row.id)).value).toMatchObject({
        rule: 'failure_spike',
        severity: 'high',
        domain,
        evidence: { messages: 100, failingMessages: 60, failureRate: 0.6, baselineRate: 0.05, baselineMessages: 100, days: [DAY] },
      });
      expect(await rows(tenantId)).toHaveLength(1);
    });

    it('DNS weakened: a removed DMARC record alerts once, a redelivered change adds nothing', async () => {
      const tenantId = await newTenant('alerts-int-dns');
      const domain = `dns-${run}.example`;
      const marker = `dns-marker-${run}.example`;
      await register(tenantId, domain);
      await register(tenantId, marker);
      const change = dnsChange(tenantId, domain, 'v=DMARC1; p=reject; rua=mailto:d@example.com', null);
      const key = `${tenantId}:${domain}`;
      const traceId = await publishDns(key, [change]);

      const [row] = await waitFor('the DNS alert', async () => ((await rows(tenantId, 'dns_weakened')).length > 0 ? rows(tenantId, 'dns_weakened') : undefined));
      expect((await messageOf(row.id)).value).toMatchObject({
        rule: 'dns_weakened',
        severity: 'critical',
        domain,
        traceId,
        detectedAt: change.detectedAt,
        evidence: { dnsRecordType: 'DMARC', dnsName: `_dmarc.${domain}`, dnsPrevious: change.previous, dnsCurrent: null, findings: ['DMARC record removed'] },
      });

      // The same change again (at least once delivery), then a marker on the same partition: once the marker's alert
      // is there, the copy before it was handled.
      await publishDns(key, [change, dnsChange(tenantId, marker, 'v=DMARC1; p=reject', 'v=DMARC1; p=none')]);
      await waitFor('the marker alert', async () => ((await rows(tenantId)).some((r) => r.domain === marker) ? true : undefined));
      expect((await rows(tenantId)).map((r) => [r.domain, r.rule, r.severity])).toEqual([
        [domain, 'dns_weakened', 'critical'],
        [marker, 'dns_weakened', 'high'],
      ]);
    });
  });

  // A SIGKILLed member keeps its partitions until its session times out (30 s).
  it('killed after the alerts commit and before their publish: the restart stores no second alert and the relay publishes the first once', async () => {
    const tenantId = await newTenant('alerts-int-kill');
    const env = { CONSUMER_GROUP: `alerts-int-kill-${run}`, CONSUME_FROM_BEGINNING: 'false', ALERT_RELAY_INTERVAL_MS: '500' };
    const first = await spawnService('aggregation', env);
    await waitReady(first);
    await primeGroups(tenantId);
    expect(await stopService(first)).toBe(0);

    const doomed = await spawnService('aggregation', { ...env, AGGREGATION_CRASH_AFTER_ALERT_OF_TENANT: tenantId });
    await waitReady(doomed);
    const exited = once(doomed.child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    const reportId = `kill-${run}`;
    await publishChunk(chunk(tenantId, reportId, `killed-${run}.example`, [fail('198.51.100.66', 400)]));
    expect(await exited).toEqual([null, 'SIGKILL']);
    // Both rules fired in the one transaction that committed; nothing was published.
    const stored = await rows(tenantId);
    expect(stored.map((r) => [r.rule, r.published_at]).sort()).toEqual([
      ['new_source', null],
      ['spoofing', null],
    ]);
    expect(messagesOf(tenantId)).toEqual([]);

    const restarted = await spawnService('aggregation', env);
    try {
      await waitReady(restarted);
      await waitFor(
        'the chunk redelivered and every alert published',
        async () => {
          const metrics = await (await fetch(`${restarted.base}/metrics`)).text();
          const redelivered = /dmarc_aggregated_chunks_total\{[^}]*outcome="redelivered"[^}]*\} [1-9]/.test(metrics);
          const published = (await rows(tenantId)).every((r) => r.published_at !== null);
          return redelivered && published ? true : undefined;
        },
        100_000,
      );
      const after = await rows(tenantId);
      expect(after.map((r) => r.id)).toEqual(stored.map((r) => r.id));
      for (const r of after) await messageOf(r.id);
      // Published by the relay alone (the first life died before its publish): one message per alert.
      expect(messagesOf(tenantId).map((m) => m.value.alertId).sort()).toEqual(after.map((r) => r.id).sort());
      expect(messagesOf(tenantId).find((m) => m.value.rule === 'spoofing')?.value.evidence.failingMessages).toBe(400);
    } finally {
      expect(await stopService(restarted)).toBe(0);
    }
  }, 300_000);
});
