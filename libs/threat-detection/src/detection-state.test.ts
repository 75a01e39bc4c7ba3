import { migrate, PgliteStore, type Queryable, type Store } from '@dmarc/store';
import { alertedRead, dayTotalsRead, monitoredRead, readAll, readOne, ruleRowsRead, seenKeysRead } from './detection-state';

// The reads combined into one statement give what each gives alone (PGlite: the same SQL as PostgreSQL).
describe('readAll', () => {
  let store: Store;
  let tenantId: string;
  let statements = 0;
  const counting = (): Queryable => ({
    query: ((sql, params, options) => {
      statements++;
      return store.query(sql, params, options);
    }) as Queryable['query'],
    exec: (sql) => store.exec(sql),
  });

  beforeAll(async () => {
    store = await PgliteStore.open();
    await migrate(store);
    tenantId = (await store.query<{ id: string }>(`INSERT INTO tenants (name) VALUES ('acme') RETURNING id`)).rows[0].id;
    const domainId = (await store.query<{ id: string }>('INSERT INTO domains (tenant_id, name) VALUES ($1, $2) RETURNING id', [tenantId, 'a.example'])).rows[0].id;
    await store.query(`INSERT INTO approved_sources (tenant_id, domain_id, kind, source) VALUES ($1, $2, 'ip', '192.0.2.1')`, [tenantId, domainId]);
    await store.query(`INSERT INTO alert_rules (tenant_id, rule, enabled, thresholds) VALUES ($1, 'spoofing', false, '{"minMessages": 5}')`, [tenantId]);
    await store.query(`INSERT INTO alert_seen_sources (tenant_id, domain, source_key, first_ip) VALUES ($1, 'a.example', 'net:192.0.2.0/24', '192.0.2.1')`, [tenantId]);
    await store.query(`INSERT INTO aggregate_domain_days (tenant_id, domain, day, messages, failing) VALUES ($1, 'a.example', '2025-03-10', 12, 7)`, [tenantId]);
  }, 60_000);
  afterAll(async () => {
    await store?.close();
  });

  it('returns each read’s own result, parameters renumbered, in one statement', async () => {
    const pairs = [{ tenantId, domain: 'a.example' }, { tenantId, domain: 'not-monitored.example' }];
    const reads = [
      monitoredRead(pairs),
      ruleRowsRead([tenantId]),
      seenKeysRead([{ tenantId, domain: 'a.example', key: 'net:192.0.2.0/24' }, { tenantId, domain: 'a.example', key: 'net:198.51.100.0/24' }]),
      dayTotalsRead([{ tenantId, domain: 'a.example', from: '2025-03-01', to: '2025-03-11' }]),
    ] as const;
    const alone = [await readOne(store, reads[0]), await readOne(store, reads[1]), await readOne(store, reads[2]), await readOne(store, reads[3])];
    statements = 0;
    const together = await readAll(counting(), reads);
    expect(statements).toBe(1);
    expect(together).toEqual(alone);
    const [monitored, rules, seen, totals] = together;
    expect([...monitored.values()]).toEqual([{ tenantId, domain: 'a.example', approved: [{ kind: 'ip', source: '192.0.2.1' }] }]);
    expect(rules.get(tenantId)).toEqual([{ rule: 'spoofing', enabled: false, thresholds: { minMessages: 5 } }]);
    expect([...seen.values()].map((keys) => [...keys])).toEqual([['net:192.0.2.0/24']]);
    expect([...totals.values()][0].get('2025-03-10')).toEqual({ messages: 12, failing: 7 });
  });

  it('leaves undefined reads out, and asks nothing when none is left', async () => {
    statements = 0;
    const [a, b] = await readAll(counting(), [undefined, alertedRead(['spoofing', 'new_source'], [{ tenantId, domain: 'a.example' }], Date.now())] as const);
    expect(a).toBeUndefined();
    expect(b).toEqual(new Set());
    expect(statements).toBe(1);
    expect(await readAll(counting(), [undefined, undefined] as const)).toEqual([undefined, undefined]);
    expect(statements).toBe(1);
  });
});
