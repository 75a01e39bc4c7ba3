import { migrate, PgliteStore, type Store } from '@dmarc/store';
import { countChunk } from './chunk-counts';
import { applyChunk, applyChunks, applyChunksMerged } from './chunk-writer';
import { fixtureChunk, fixtureRecord } from './report-chunk-fixtures';

// aggregate_domain_days is written in the counters' statement: whatever the write path (one chunk, a batch, a merged
// write-behind flush) and however often a chunk is delivered, each domain-day row equals the sum of its counters.
describe('per-domain day totals beside the counters (PGlite)', () => {
  let store: Store;
  let tenantId: string;
  beforeAll(async () => {
    store = await PgliteStore.open();
    await migrate(store);
    tenantId = (await store.query<{ id: string }>(`INSERT INTO tenants (name) VALUES ('days') RETURNING id`)).rows[0].id;
  }, 60_000);
  afterAll(() => store?.close());

  const chunk = (reportId: string, domain: string, records: Parameters<typeof fixtureRecord>[0][]) => {
    const c = fixtureChunk(tenantId, reportId, records.map((r) => fixtureRecord(r)));
    return countChunk({ ...c, metadata: { ...c.metadata, policy: { ...c.metadata.policy, domain } } });
  };

  it('equals the counters summed per domain and day through every write path and redelivery', async () => {
    const a = chunk('r-a', 'a.example', [{ sourceIp: '192.0.2.1', count: 10 }, { sourceIp: '192.0.2.2', count: 5, dkimAligned: false, spfAligned: false }]);
    const b = chunk('r-b', 'a.example', [{ sourceIp: '192.0.2.1', count: 7, dkimAligned: false, spfAligned: false }]);
    const c = chunk('r-c', 'b.example', [{ sourceIp: '2001:db8::1', count: 3 }]);
    const d = chunk('r-d', 'b.example', [{ sourceIp: '2001:db8::1', count: 4, dkimAligned: false, spfAligned: false }]);
    await applyChunk(store, a);
    await applyChunks(store, [{ counts: b }, { counts: a }]);
    await applyChunksMerged(store, [{ counts: c }, { counts: d }]);
    await applyChunksMerged(store, [{ counts: c }, { counts: d }]);

    const days = await store.query<{ domain: string; messages: string; failing: string }>(
      'SELECT domain, messages::text, failing::text FROM aggregate_domain_days WHERE tenant_id = $1 ORDER BY domain',
      [tenantId],
    );
    const counters = await store.query<{ domain: string; messages: string; failing: string }>(
      `SELECT domain, sum(messages)::text AS messages, sum(messages - dmarc_pass)::text AS failing
         FROM aggregate_counters WHERE tenant_id = $1 GROUP BY domain ORDER BY domain`,
      [tenantId],
    );
    expect(days.rows).toEqual(counters.rows);
    expect(days.rows).toEqual([
      { domain: 'a.example', messages: '22', failing: '12' },
      { domain: 'b.example', messages: '7', failing: '4' },
    ]);
  });
});
