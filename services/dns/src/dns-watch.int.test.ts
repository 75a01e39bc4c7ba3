import { createKafkaBus, type Bus, type Delivered } from '@dmarc/bus';
import { loadContracts, type DnsChange } from '@dmarc/contracts';
import { PgStore, runMigrations } from '@dmarc/store';
import { spawnService, startDnsTestServer, stopService, waitFor, waitReady, type DnsTestServer, type SpawnedService } from '@dmarc/testing';

// The watch the DNS service runs (@dmarc/dns-watch) as wired there: a monitored domain's DMARC record changes
// on the (loopback) upstream → one dmarc.dns.changes message. A short interval and TTL floor keep it quick; a
// round covers every tenant's monitored domains in the shared database, so the test stops the service soon.
const run = `${Date.now()}-${process.pid}`;
const DOMAIN = `watch-${Date.now().toString(36)}.example.com`;

describe('dns service: the DNS watch publishes dmarc.dns.changes', () => {
  let server: DnsTestServer;
  let store: PgStore;
  let bus: Bus;
  let svc: SpawnedService | undefined;
  const changes: DnsChange[] = [];

  beforeAll(async () => {
    server = await startDnsTestServer();
    await runMigrations(process.env.DATABASE_URL!, { info: () => undefined });
    store = new PgStore({ url: process.env.DATABASE_URL! });
    bus = await createKafkaBus({ brokers: process.env.KAFKA_BROKERS!.split(','), clientId: 'dns-watch-int', contracts: loadContracts() });
    await bus.ensureTopics([{ topic: 'dmarc.dns.changes' }]);
  });
  afterAll(async () => {
    if (svc) expect(await stopService(svc)).toBe(0);
    await bus?.close();
    await store?.close();
    await server?.close();
  });

  it('sees a DMARC record change and publishes it once', async () => {
    const tenantId = (await store.query<{ id: string }>('INSERT INTO tenants (name) VALUES ($1) RETURNING id', [`dns-watch-int-${run}`])).rows[0].id;
    await store.query('INSERT INTO domains (tenant_id, name) VALUES ($1, $2)', [tenantId, DOMAIN]);
    // From the beginning with a group of its own: the topic only holds changes, and ours are told by tenant.
    await bus.consume({
      // Not the service's group: members of one group with different topics share out each other's partitions.
      groupId: `dns-watch-int-changes-${run}`,
      topics: ['dmarc.dns.changes'],
      handler: async (m) => {
        if (m.tenantId === tenantId) changes.push((m as Delivered<'dmarc.dns.changes'>).value);
      },
    });
    server.set(`_dmarc.${DOMAIN}`, 'TXT', ['v=DMARC1; p=none'], 1);

    svc = await spawnService('dns', {
      DNS_UPSTREAM: server.address,
      DNS_TIMEOUT_MS: '500',
      DNS_RETRIES: '0',
      DNS_MIN_TTL_SECONDS: '1',
      DNS_WATCH_INTERVAL_SECONDS: '1',
      CONSUMER_GROUP: `dns-watch-int-${run}`,
      CONSUME_FROM_BEGINNING: 'false',
    });
    await waitReady(svc);
    // The first observation is stored without a message; change the record only once it is.
    await waitFor(
      'the first observation',
      async () => {
        const rows = await store.query<{ value: string | null }>(`SELECT value FROM dns_watch_state WHERE tenant_id = $1 AND record_type = 'DMARC'`, [tenantId]);
        return rows.rows[0]?.value ? rows.rows[0].value : undefined;
      },
      30_000,
    );
    expect(changes).toEqual([]);
    server.set(`_dmarc.${DOMAIN}`, 'TXT', ['v=DMARC1; p=reject'], 1);

    const change = await waitFor('the change message', () => changes.find((c) => c.recordType === 'DMARC'), 30_000);
    expect(change).toMatchObject({
      tenantId,
      domain: DOMAIN,
      recordType: 'DMARC',
      name: `_dmarc.${DOMAIN}`,
      selector: null,
      change: 'changed',
      previous: 'v=DMARC1; p=none',
      current: 'v=DMARC1; p=reject',
    });
    expect(change.detectedAt).toBeGreaterThan(Date.now() - 60_000);
    expect(await stopService(svc)).toBe(0);
    svc = undefined;
    expect(changes.filter((c) => c.recordType === 'DMARC')).toHaveLength(1);
  });
});
