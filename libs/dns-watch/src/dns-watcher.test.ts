import type { EncodedMessage, OutgoingMessage, Publisher } from '@dmarc/bus';
import { loadContracts, type DnsChange } from '@dmarc/contracts';
import { migrate, PgliteStore, type Store } from '@dmarc/store';
import { DnsWatcher, type DnsWatcherOptions, type TxtResolver } from './dns-watcher';
import { DnsWatchError } from './errors';
import { recordSelectors } from './selectors';
import { monitoredDomains } from './watch-store';

const T0 = Date.UTC(2026, 0, 1, 12);
const ROUND = 300_000;

/** A resolver answering from a table: a list of TXT records, or 'fail' (rejects, like a SERVFAIL). */
class FakeDns implements TxtResolver {
  readonly answers = new Map<string, string[] | 'fail'>();
  readonly calls = new Map<string, number>();
  inFlight = 0;
  maxInFlight = 0;
  delayMs = 0;

  set(name: string, answer: string[] | 'fail'): void {
    this.answers.set(name, answer);
  }

  async txt(name: string): Promise<string[]> {
    this.calls.set(name, (this.calls.get(name) ?? 0) + 1);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
      const answer = this.answers.get(name) ?? [];
      if (answer === 'fail') throw new Error(`SERVFAIL ${name}`);
      return answer;
    } finally {
      this.inFlight--;
    }
  }

  totalCalls(): number {
    return [...this.calls.values()].reduce((a, b) => a + b, 0);
  }
}

/** Encodes every message with the topic's schema (as the bus would) and keeps it. */
class FakePublisher implements Publisher {
  readonly sent: OutgoingMessage<DnsChange>[] = [];
  failing = false;
  readonly #contracts = loadContracts();

  async publish<T extends string>(topic: T, messages: ReadonlyArray<OutgoingMessage<unknown> | EncodedMessage>): Promise<void> {
    if (this.failing) throw new Error('broker down');
    for (const m of messages) {
      if (!('value' in m)) throw new Error('the watcher publishes values, not pre-encoded messages');
      this.#contracts.encode(topic, m.value as never);
    }
    expect(topic).toBe('dmarc.dns.changes');
    this.sent.push(...(messages as OutgoingMessage<DnsChange>[]));
  }

  async publishRaw(): Promise<void> {
    throw new Error('not used');
  }

  values(): DnsChange[] {
    return this.sent.map((m) => m.value);
  }
}

const logLines = () => {
  const lines: { level: string; fields: object; message?: string }[] = [];
  return {
    lines,
    logger: {
      info: (fields: object, message?: string) => lines.push({ level: 'info', fields, message }),
      warn: (fields: object, message?: string) => lines.push({ level: 'warn', fields, message }),
    },
  };
};

describe('DNS watch on PGlite', () => {
  let store: Store;

  beforeAll(async () => {
    store = await PgliteStore.open();
    await migrate(store);
  }, 60_000);
  afterAll(async () => {
    await store.close();
  });
  beforeEach(async () => {
    await store.exec('TRUNCATE tenants CASCADE; TRUNCATE aggregate_reports');
  });

  const tenant = async (name: string) => (await store.query<{ id: string }>('INSERT INTO tenants (name) VALUES ($1) RETURNING id', [name])).rows[0].id;
  const domain = (tenantId: string, name: string) => store.query('INSERT INTO domains (tenant_id, name) VALUES ($1, $2)', [tenantId, name]);
  let reportNo = 0;
  const report = (tenantId: string, name: string) =>
    store.query(
      `INSERT INTO aggregate_reports (tenant_id, report_id, domain, day, org_name, external_report_id, begin_at, end_at, chunks_seen, records_seen, messages)
       VALUES ($1, $2, $3, '2026-01-01', 'reporter', 'x', now(), now(), 1, 1, 1)`,
      [tenantId, `r${++reportNo}`, name],
    );
  const watcher = (dns: TxtResolver, publisher: Publisher, options: Partial<DnsWatcherOptions> = {}) => new DnsWatcher({ db: store, dns, publisher, ...options });
  /** Tenant `a` monitoring example.com with these DMARC and SPF records, after a first (silent) round at T0. */
  const afterFirstRound = async (dmarc: string[], spf: string[] = [], options: Partial<DnsWatcherOptions> = {}) => {
    const a = await tenant('a');
    await domain(a, 'example.com');
    const dns = new FakeDns();
    dns.set('_dmarc.example.com', dmarc);
    dns.set('example.com', spf);
    const publisher = new FakePublisher();
    const w = watcher(dns, publisher, options);
    await w.runOnce(T0);
    return { a, dns, publisher, w };
  };

  it('monitors the configured domains and the domains of every tenant’s reports, once each', async () => {
    const a = await tenant('a');
    const b = await tenant('b');
    await domain(a, 'example.com');
    await report(a, 'example.com');
    await report(a, 'example.org');
    await report(a, 'example.org');
    await report(b, 'example.net');
    await report(b, 'example.com');
    const expected = [
      { tenantId: a, domain: 'example.com' },
      { tenantId: a, domain: 'example.org' },
      { tenantId: b, domain: 'example.com' },
      { tenantId: b, domain: 'example.net' },
    ].sort((x, y) => (x.tenantId + x.domain < y.tenantId + y.domain ? -1 : 1));
    expect(await monitoredDomains(store)).toEqual(expected);
  });

  it('records selectors in one upsert: lower-cased, invalid ones left out, last seen moved on at most hourly and never back', async () => {
    const a = await tenant('a');
    expect(await recordSelectors(store, a, 'Example.COM.', ['S1', 's2', 's1', 'bad selector', '', 'x'.repeat(64)], T0)).toEqual(['s1', 's2']);
    const rows = async () =>
      (await store.query<{ selector: string; first_seen_at: Date; last_seen_at: Date }>('SELECT selector, first_seen_at, last_seen_at FROM dkim_selectors WHERE tenant_id = $1 ORDER BY selector', [a])).rows.map((r) => [
        r.selector,
        r.first_seen_at.getTime(),
        r.last_seen_at.getTime(),
      ]);
    expect(await rows()).toEqual([
      ['s1', T0, T0],
      ['s2', T0, T0],
    ]);
    await recordSelectors(store, a, 'example.com', ['s1'], T0 + 600_000);
    await recordSelectors(store, a, 'example.com', ['s2'], T0 + 7_200_000);
    await recordSelectors(store, a, 'example.com', ['s2'], T0 - 86_400_000);
    expect(await rows()).toEqual([
      ['s1', T0, T0],
      ['s2', T0, T0 + 7_200_000],
    ]);
    expect(await recordSelectors(store, a, 'example.com', ['not a selector'], T0)).toEqual([]);
    await expect(recordSelectors(store, 'not-a-uuid', 'example.com', ['s1'])).rejects.toMatchObject({ code: 'DNS_WATCH_INVALID_INPUT', field: 'tenantId' });
    await expect(recordSelectors(store, a, 'exa mple.com', ['s1'])).rejects.toBeInstanceOf(DnsWatchError);
  });

  it('publishes exactly the changes: DMARC p=none -> reject, SPF removed, a new DKIM selector record; nothing on the first round or an unchanged one', async () => {
    const a = await tenant('a');
    await domain(a, 'example.com');
    await recordSelectors(store, a, 'example.com', ['s1'], T0);
    const dns = new FakeDns();
    dns.set('_dmarc.example.com', ['v=DMARC1; p=none; rua=mailto:d@example.com']);
    dns.set('example.com', ['google-site-verification=abc', 'v=spf1 include:_spf.example.net -all']);
    const publisher = new FakePublisher();
    const w = watcher(dns, publisher);

    // First observation of every name: stored, not announced.
    expect(await w.runOnce(T0)).toEqual({ lookups: 3, failedLookups: 0, changes: 0, published: 0, skipped: 0 });
    expect(publisher.sent).toEqual([]);

    dns.set('_dmarc.example.com', ['v=DMARC1;  p=reject; rua=mailto:d@example.com']);
    dns.set('example.com', ['google-site-verification=abc']);
    dns.set('s1._domainkey.example.com', ['v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQ']);
    const t1 = T0 + ROUND;
    expect(await w.runOnce(t1)).toEqual({ lookups: 3, failedLookups: 0, changes: 3, published: 3, skipped: 0 });
    const byType = Object.fromEntries(publisher.values().map((v) => [v.recordType, v]));
    expect(publisher.sent).toHaveLength(3);
    expect(byType.DMARC).toEqual({
      tenantId: a,
      domain: 'example.com',
      recordType: 'DMARC',
      name: '_dmarc.example.com',
      selector: null,
      change: 'changed',
      previous: 'v=DMARC1; p=none; rua=mailto:d@example.com',
      current: 'v=DMARC1; p=reject; rua=mailto:d@example.com',
      detectedAt: t1,
    });
    expect(byType.SPF).toMatchObject({ name: 'example.com', change: 'removed', previous: 'v=spf1 include:_spf.example.net -all', current: null, detectedAt: t1 });
    expect(byType.DKIM).toMatchObject({ name: 's1._domainkey.example.com', selector: 's1', change: 'added', previous: null, current: 'v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQ' });
    expect(publisher.sent.every((m) => m.tenantId === a && m.key === `${a}:example.com`)).toBe(true);
    const { rows } = await store.query<{ n: string }>('SELECT count(*) AS n FROM dns_changes WHERE published_at IS NULL');
    expect(rows[0].n).toBe('0');

    // Nothing changed but whitespace: nothing published.
    dns.set('_dmarc.example.com', ['v=DMARC1; p=reject;   rua=mailto:d@example.com ']);
    expect(await w.runOnce(t1 + ROUND)).toMatchObject({ lookups: 3, changes: 0, published: 0 });
    expect(publisher.sent).toHaveLength(3);

    const state = await store.query<{ name: string; value: string | null; changed_at: Date }>('SELECT name, value, changed_at FROM dns_watch_state WHERE tenant_id = $1 ORDER BY name', [a]);
    expect(state.rows.map((r) => [r.name, r.value, r.changed_at.getTime()])).toEqual([
      ['_dmarc.example.com', 'v=DMARC1; p=reject; rua=mailto:d@example.com', t1],
      ['example.com', null, t1],
      ['s1._domainkey.example.com', 'v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQ', t1],
    ]);
  });

  it('does not look again before the next round is due', async () => {
    const { w } = await afterFirstRound([]);
    expect(await w.runOnce(T0 + 60_000)).toMatchObject({ lookups: 0 });
    expect(await w.runOnce(T0 + ROUND)).toMatchObject({ lookups: 2 });
  });

  it('a failing lookup keeps the record, publishes no removal, logs once per outage', async () => {
    const log = logLines();
    const { dns, publisher, w } = await afterFirstRound(['v=DMARC1; p=reject'], ['v=spf1 -all'], { logger: log.logger });

    dns.set('example.com', 'fail');
    expect(await w.runOnce(T0 + ROUND)).toMatchObject({ lookups: 2, failedLookups: 1, changes: 0, published: 0 });
    expect(await w.runOnce(T0 + 2 * ROUND)).toMatchObject({ failedLookups: 1, changes: 0 });
    expect(publisher.sent).toEqual([]);
    const warnings = log.lines.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0].fields).toMatchObject({ name: 'example.com' });
    const spf = await store.query<{ value: string; checked_at: Date; failing_since: Date }>("SELECT value, checked_at, failing_since FROM dns_watch_state WHERE name = 'example.com'");
    expect(spf.rows[0].value).toBe('v=spf1 -all');
    expect(spf.rows[0].checked_at.getTime()).toBe(T0);
    expect(spf.rows[0].failing_since.getTime()).toBe(T0 + ROUND);

    // Back, unchanged: still nothing to publish, and the outage is over.
    dns.set('example.com', ['v=spf1 -all']);
    expect(await w.runOnce(T0 + 3 * ROUND)).toMatchObject({ failedLookups: 0, changes: 0 });
    expect(log.lines.filter((l) => l.level === 'info' && l.message?.includes('answer again'))).toHaveLength(1);
    // A real removal after the outage is still seen.
    dns.set('example.com', []);
    expect(await w.runOnce(T0 + 4 * ROUND)).toMatchObject({ changes: 1, published: 1 });
    expect(publisher.values()[0]).toMatchObject({ recordType: 'SPF', change: 'removed', previous: 'v=spf1 -all' });
  });

  it('two tenants watching one domain each get their message; the name is looked up once per round', async () => {
    const a = await tenant('a');
    const b = await tenant('b');
    await domain(a, 'shared.example');
    await report(b, 'shared.example');
    const dns = new FakeDns();
    dns.set('_dmarc.shared.example', ['v=DMARC1; p=none']);
    const publisher = new FakePublisher();
    const w = watcher(dns, publisher);
    await w.runOnce(T0);
    dns.set('_dmarc.shared.example', ['v=DMARC1; p=quarantine']);
    expect(await w.runOnce(T0 + ROUND)).toMatchObject({ lookups: 2, changes: 2, published: 2 });
    expect(dns.calls.get('_dmarc.shared.example')).toBe(2);
    expect(dns.calls.get('shared.example')).toBe(2);
    expect(
      publisher
        .values()
        .map((v) => [v.tenantId, v.name, v.change, v.current])
        .sort(),
    ).toEqual(
      [
        [a, '_dmarc.shared.example', 'changed', 'v=DMARC1; p=quarantine'],
        [b, '_dmarc.shared.example', 'changed', 'v=DMARC1; p=quarantine'],
      ].sort(),
    );
    expect(publisher.sent.map((m) => m.tenantId).sort()).toEqual([a, b].sort());
  });

  it('a change whose publish failed is published by a later round, with the detectedAt it was stored with', async () => {
    const { dns, publisher, w } = await afterFirstRound(['v=DMARC1; p=reject']);
    dns.set('_dmarc.example.com', []);
    publisher.failing = true;
    expect(await w.runOnce(T0 + ROUND)).toMatchObject({ changes: 1, published: 0 });
    publisher.failing = false;
    expect(await w.runOnce(T0 + 2 * ROUND)).toMatchObject({ changes: 0, published: 1 });
    expect(publisher.values()).toEqual([expect.objectContaining({ change: 'removed', detectedAt: T0 + ROUND })]);
    expect(await w.runOnce(T0 + 3 * ROUND)).toMatchObject({ published: 0 });
  });

  it('announces first observations as added when asked to', async () => {
    const a = await tenant('a');
    await domain(a, 'example.com');
    const dns = new FakeDns();
    dns.set('_dmarc.example.com', ['v=DMARC1; p=none']);
    const publisher = new FakePublisher();
    await watcher(dns, publisher, { announceFirstObservation: true }).runOnce(T0);
    expect(publisher.values()).toEqual([expect.objectContaining({ recordType: 'DMARC', change: 'added', current: 'v=DMARC1; p=none' })]);
  });

  it('does not watch selectors unseen for longer than selectorMaxAgeMs, nor names that are not DNS names', async () => {
    const a = await tenant('a');
    await domain(a, 'example.com');
    await report(a, 'bad domain.example');
    await recordSelectors(store, a, 'example.com', ['old'], T0 - 40 * 86_400_000);
    await recordSelectors(store, a, 'example.com', ['new'], T0);
    const dns = new FakeDns();
    await watcher(dns, new FakePublisher()).runOnce(T0);
    expect([...dns.calls.keys()].sort()).toEqual(['_dmarc.example.com', 'example.com', 'new._domainkey.example.com']);
  });

  it('keeps at most `concurrency` lookups in flight', async () => {
    const a = await tenant('a');
    for (let i = 0; i < 12; i++) await domain(a, `d${i}.example`);
    const dns = new FakeDns();
    dns.delayMs = 5;
    expect(await watcher(dns, new FakePublisher(), { concurrency: 3 }).runOnce(T0)).toMatchObject({ lookups: 24 });
    expect(dns.maxInFlight).toBe(3);
  });

  it('two watchers racing on the same round (two replicas) store and publish a change once', async () => {
    const { dns, publisher } = await afterFirstRound(['v=DMARC1; p=none']);
    dns.set('_dmarc.example.com', ['v=DMARC1; p=reject']);
    // Both read the due names before either writes: the lookups are slow.
    dns.delayMs = 50;
    const [x, y] = await Promise.all([watcher(dns, publisher).runOnce(T0 + ROUND), watcher(dns, publisher).runOnce(T0 + ROUND)]);
    expect(x.lookups + y.lookups).toBe(4);
    expect(x.changes + y.changes).toBe(1);
    expect(publisher.values()).toEqual([expect.objectContaining({ change: 'changed', current: 'v=DMARC1; p=reject' })]);
  });

  it('start() runs rounds on its own; stop() waits for the round in progress, which checks no further name', async () => {
    const a = await tenant('a');
    for (let i = 0; i < 6; i++) await domain(a, `d${i}.example`);
    const dns = new FakeDns();
    dns.delayMs = 30;
    const w = watcher(dns, new FakePublisher(), { concurrency: 1, intervalMs: 60_000, jitter: 0 });
    w.start();
    const deadline = Date.now() + 5000;
    while (dns.totalCalls() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(dns.inFlight).toBe(1);
    await w.stop();
    expect(dns.inFlight).toBe(0);
    const done = dns.totalCalls();
    expect(done).toBeLessThan(12);
    const { rows } = await store.query<{ n: string }>('SELECT count(*) AS n FROM dns_watch_state');
    expect(Number(rows[0].n)).toBe(done);
    // The names left are still due for the next round.
    expect(await w.runOnce()).toMatchObject({ lookups: 12 - done });
  });

  it('refuses options out of range', () => {
    expect(() => watcher(new FakeDns(), new FakePublisher(), { concurrency: 0 })).toThrow(expect.objectContaining({ code: 'DNS_WATCH_INVALID_OPTIONS', field: 'concurrency' }));
    expect(() => watcher(new FakeDns(), new FakePublisher(), { jitter: 1 })).toThrow(DnsWatchError);
  });
});
