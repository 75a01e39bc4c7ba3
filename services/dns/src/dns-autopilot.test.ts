import { createInProcessBus, type Delivered } from '@dmarc/bus';
import { loadContracts } from '@dmarc/contracts';
import { migrate, PgliteStore, type Store } from '@dmarc/store';
import { ThreatDetector } from '@dmarc/threat-detection';
import { alertStoreSink } from './dns-autopilot';

// The autopilot's failed updates reach the platform's alert store and dmarc.alerts (PGlite and the in-process bus
// here; the rule's dedupe and relay on the real broker: libs/threat-detection and services/aggregation tests).
describe('DNS autopilot alert sink', () => {
  let store: Store;
  beforeAll(async () => {
    store = await PgliteStore.open();
    await migrate(store);
  }, 60_000);
  afterAll(() => store?.close());

  it('stores a dns_update_failed alert with its evidence, publishes it once, and dedupes the retry', async () => {
    const tenantId = (await store.query<{ id: string }>(`INSERT INTO tenants (name) VALUES ('autopilot') RETURNING id`)).rows[0].id;
    const bus = createInProcessBus({ contracts: loadContracts() });
    const seen: Array<Delivered<'dmarc.alerts'>> = [];
    await bus.consume({ groupId: 'reader', topics: ['dmarc.alerts'], handler: async (m) => void seen.push(m) });
    const detector = new ThreatDetector({ db: store, publisher: bus, logger: { warn: () => undefined } });
    const sink = alertStoreSink(detector, () => Date.UTC(2026, 10, 25, 12));
    const alert = {
      tenantId,
      domain: 'example.org',
      rule: 'dns_update_failed' as const,
      severity: 'high' as const,
      summary: 'the approved DMARC policy (version 3) could not be written to _dmarc.example.org after 8 attempt(s): NOTAUTH (BADSIG)',
      evidence: { jobId: 'j-1', name: '_dmarc.example.org', record: 'v=DMARC1; p=reject', attempts: 8, errorCode: 'DNS_UPDATE_NOTAUTH', error: 'NOTAUTH (BADSIG)', requestedBy: null },
    };
    await sink.raise(alert);
    await sink.raise(alert);
    await detector.drain();
    const rows = await store.query<{ rule: string; severity: string }>('SELECT rule, severity FROM alerts WHERE tenant_id = $1', [tenantId]);
    expect(rows.rows).toEqual([{ rule: 'dns_update_failed', severity: 'high' }]);
    for (let i = 0; i < 50 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(seen).toHaveLength(1);
    const value = seen[0].value;
    expect(value).toMatchObject({ tenantId, domain: 'example.org', rule: 'dns_update_failed', severity: 'high', summary: alert.summary });
    expect(value.evidence.findings).toEqual(expect.arrayContaining(['errorCode: DNS_UPDATE_NOTAUTH', 'record: v=DMARC1; p=reject', 'attempts: 8']));
    expect(value.evidence.findings.some((f) => f.startsWith('requestedBy'))).toBe(false);
    await bus.close();
  });
});
