import { createInProcessBus, type Bus, type Publisher } from '@dmarc/bus';
import { loadContracts, type ConfigChange } from '@dmarc/contracts';
import { migrate, PgliteStore, type Store } from '@dmarc/store';
import {
  addDomain,
  addSource,
  ConfigChangeRelay,
  apiKeyHashOf,
  createApiKey,
  createTenant,
  createUser,
  getDomain,
  getPolicy,
  listAudit,
  listDomains,
  listSources,
  parseDomainName,
  parseSource,
  putPolicy,
  removeDomain,
  removeSource,
  revokeApiKey,
  setPermissions,
  type Actor,
  type AdminContext,
} from './index';
import { bearerKey, callerOfKeyHash, hashApiKey } from './authenticate-caller';

describe('parseDomainName', () => {
  it.each([
    ['Example.COM.', 'example.com'],
    ['xn--bcher-kva.example', 'xn--bcher-kva.example'],
    ['a-b.c0.example.org', 'a-b.c0.example.org'],
  ])('accepts %s as %s', (input, name) => expect(parseDomainName(input, 'name')).toBe(name));

  it.each([
    ['a.com:*', 'letters, digits'],
    ['x}:tenant:2', 'not a valid domain name'],
    ['x}.tenant:2.com', 'letters, digits'],
    ['compliance:a.com:*', 'letters, digits'],
    ['tenant:1:dashboard', 'not a valid domain name'],
    ['', 'empty'],
    ['localhost', 'two labels'],
    ['a..com', 'empty label'],
    ['-a.com', 'letters, digits'],
    ['a-.com', 'letters, digits'],
    ['a_b.com', 'letters, digits'],
    ['a b.com', 'letters, digits'],
    ['192.0.2.1', 'all digits'],
    [`${'a'.repeat(64)}.com`, 'longer than 63'],
    [`${'abcdefghi.'.repeat(25)}example`, 'longer than 253'],
  ])('refuses %j naming the field (%s)', (input, why) => {
    expect(() => parseDomainName(input, 'domain')).toThrow(expect.objectContaining({ statusCode: 400, code: 'VALIDATION_FAILED', field: 'domain', message: expect.stringContaining(why) }));
  });
});

describe('parseSource', () => {
  it.each([
    ['192.0.2.7', { kind: 'ip', source: '192.0.2.7' }],
    ['2001:DB8::1', { kind: 'ip', source: '2001:db8::1' }],
    ['198.51.100.0/24', { kind: 'cidr', source: '198.51.100.0/24' }],
    ['2001:db8::/032', { kind: 'cidr', source: '2001:db8::/32' }],
    ['_spf.Google.com', { kind: 'host', source: '_spf.google.com' }],
    ['spf.protection.outlook.com', { kind: 'host', source: 'spf.protection.outlook.com' }],
  ])('%s', (input, expected) => expect(parseSource(input)).toEqual(expected));
  it.each(['10.0.0.0/33', '10.0.0.0/', 'nope/8', 'a.com:*', '_spf..com', 'a_b'])('refuses %s', (input) => expect(() => parseSource(input)).toThrow(expect.objectContaining({ field: 'source', statusCode: 400 })));
});

describe('tenant configuration on PGlite', () => {
  let store: Store;
  let ctx: AdminContext;
  let acme: Actor;
  let globex: Actor;
  let changes = 0;

  beforeAll(async () => {
    store = await PgliteStore.open();
    await migrate(store);
    ctx = { db: store, afterChange: () => void changes++ };
    const a = await createTenant(store, { name: 'acme', tier: 'business' });
    const g = await createTenant(store, { name: 'globex', tier: 'starter' });
    acme = { tenantId: a.id, name: `api-key:${a.apiKeyId}` };
    globex = { tenantId: g.id, name: `api-key:${g.apiKeyId}` };
  }, 60_000);
  afterAll(() => store?.close());

  const outbox = () => store.query<{ id: string; kind: string; domain: string | null; tenant_id: string; version: string | null }>('SELECT id, kind, domain, tenant_id, version FROM config_changes ORDER BY id');
  const auditCount = async () => Number((await store.query<{ n: string }>('SELECT count(*) AS n FROM audit_log')).rows[0].n);

  it('creates a tenant with a working key whose hash alone is stored, audited', async () => {
    const t = await createTenant(store, { name: ' initech ', tier: 'enterprise' });
    expect(t).toMatchObject({ name: 'initech', tier: 'enterprise', apiKey: expect.stringMatching(/^dmarc_/) });
    expect(await callerOfKeyHash(store, hashApiKey(bearerKey(`Bearer ${t.apiKey}`)))).toEqual({ tenantId: t.id, tier: 'enterprise', apiKeyId: t.apiKeyId });
    const audit = await listAudit(store, t.id, { limit: 10 });
    expect(audit).toEqual([expect.objectContaining({ actor: 'cli', action: 'tenant.create', entity: `tenant:${t.id}` })]);
    expect(JSON.stringify(audit)).not.toContain(t.apiKey);
    await expect(createTenant(store, { name: 'x', tier: 'gold' })).rejects.toMatchObject({ field: 'tier', statusCode: 400 });
    await expect(createTenant(store, { name: '  ', tier: 'starter' })).rejects.toMatchObject({ field: 'name' });
  });

  it('adds, reads and removes domains, each change audited and in the outbox in one transaction', async () => {
    const before = (await outbox()).rows.length;
    const view = await addDomain(ctx, acme, 'acme.example');
    expect(view).toMatchObject({ name: 'acme.example', policy: null, approvedSources: 0 });
    await expect(addDomain(ctx, acme, 'acme.example')).rejects.toMatchObject({ statusCode: 409, code: 'CONFLICT', field: 'name' });
    // The same name is another tenant's own resource.
    await addDomain(ctx, globex, 'acme.example');
    expect((await listDomains(store, acme.tenantId)).map((d) => d.name)).toEqual(['acme.example']);
    await removeDomain(ctx, globex, 'acme.example');
    await expect(getDomain(store, globex.tenantId, 'acme.example')).rejects.toMatchObject({ statusCode: 404 });
    await expect(removeDomain(ctx, globex, 'acme.example')).rejects.toMatchObject({ statusCode: 404, code: 'NOT_FOUND' });
    const rows = (await outbox()).rows.slice(before);
    expect(rows.map((r) => [r.kind, r.domain, r.tenant_id])).toEqual([
      ['domain_added', 'acme.example', acme.tenantId],
      ['domain_added', 'acme.example', globex.tenantId],
      ['domain_removed', 'acme.example', globex.tenantId],
    ]);
    expect((await listAudit(store, globex.tenantId, { limit: 2 })).map((e) => e.action)).toEqual(['domain.remove', 'domain.add']);
    expect(changes).toBeGreaterThanOrEqual(3);
  });

  it('sets a policy with defaults, counts versions, ignores a repeat, and never touches another tenant', async () => {
    await expect(getPolicy(store, acme.tenantId, 'acme.example')).rejects.toMatchObject({ statusCode: 404 });
    const first = await putPolicy(ctx, acme, 'acme.example', { p: 'none' });
    expect(first).toMatchObject({ domain: 'acme.example', p: 'none', sp: null, pct: 100, adkim: 'r', aspf: 'r', version: 1 });
    const audits = await auditCount();
    expect(await putPolicy(ctx, acme, 'acme.example', { p: 'none', pct: 100 })).toMatchObject({ version: 1 });
    expect(await auditCount()).toBe(audits);
    const second = await putPolicy(ctx, acme, 'acme.example', { p: 'reject', sp: 'quarantine', pct: 50, adkim: 's', aspf: 's' });
    expect(second).toMatchObject({ p: 'reject', sp: 'quarantine', pct: 50, adkim: 's', aspf: 's', version: 2 });
    expect(await getPolicy(store, acme.tenantId, 'acme.example')).toEqual(second);
    const [entry] = await listAudit(store, acme.tenantId, { limit: 1 });
    expect(entry).toMatchObject({ action: 'policy.update', entity: 'policy:acme.example', actor: acme.name, before: { p: 'none', version: 1 }, after: { p: 'reject', version: 2 } });
    expect((await outbox()).rows.at(-1)).toMatchObject({ kind: 'policy_changed', domain: 'acme.example', version: '2' });
    await expect(putPolicy(ctx, globex, 'acme.example', { p: 'reject' })).rejects.toMatchObject({ statusCode: 404 });
    expect((await getDomain(store, acme.tenantId, 'acme.example')).policy).toMatchObject({ version: 2 });
  });

  it('approves and removes sources; a refused write leaves no audit row and no event', async () => {
    const s = await addSource(ctx, acme, 'acme.example', { source: '192.0.2.0/24', description: 'office' });
    const audits = await auditCount();
    const events = (await outbox()).rows.length;
    await expect(addSource(ctx, acme, 'acme.example', { source: '192.0.2.0/24' })).rejects.toMatchObject({ statusCode: 409, field: 'source' });
    await expect(addSource(ctx, acme, 'acme.example', { source: 'a.com:*' })).rejects.toMatchObject({ statusCode: 400, field: 'source' });
    await expect(removeSource(ctx, globex, 'acme.example', s.id)).rejects.toMatchObject({ statusCode: 404 });
    expect(await auditCount()).toBe(audits);
    expect((await outbox()).rows.length).toBe(events);
    expect((await listSources(store, acme.tenantId, 'acme.example')).map((x) => x.source)).toEqual(['192.0.2.0/24']);
    await removeSource(ctx, acme, 'acme.example', s.id);
    expect(await listSources(store, acme.tenantId, 'acme.example')).toEqual([]);
    expect((await listAudit(store, acme.tenantId, { limit: 1 }))[0]).toMatchObject({ action: 'sources.remove', before: [expect.objectContaining({ source: '192.0.2.0/24' })], after: [] });
  });

  it("manages users' permissions and API keys of the tenant only", async () => {
    const u = await createUser(ctx, acme, { email: 'Ann@Acme.example', permissions: ['policy:write', 'domains:read', 'policy:write'] });
    expect(u).toMatchObject({ email: 'ann@acme.example', permissions: ['domains:read', 'policy:write'] });
    await expect(createUser(ctx, acme, { email: 'ann@acme.example' })).rejects.toMatchObject({ statusCode: 409, field: 'email' });
    await expect(setPermissions(ctx, globex, u.id, [])).rejects.toMatchObject({ statusCode: 404 });
    expect(await setPermissions(ctx, acme, u.id, ['audit:read'])).toMatchObject({ permissions: ['audit:read'] });
    expect((await outbox()).rows.at(-1)).toMatchObject({ kind: 'permissions_changed', domain: null });

    const k = await createApiKey(ctx, acme, 'ci');
    expect(await callerOfKeyHash(store, hashApiKey(k.key))).toMatchObject({ tenantId: acme.tenantId, apiKeyId: k.id });
    await expect(revokeApiKey(ctx, globex, k.id)).rejects.toMatchObject({ statusCode: 404 });
    expect(await revokeApiKey(ctx, acme, k.id)).toEqual({ keyHash: hashApiKey(k.key) });
    await expect(callerOfKeyHash(store, hashApiKey(k.key))).rejects.toMatchObject({ statusCode: 401 });
    await expect(revokeApiKey(ctx, acme, k.id)).rejects.toMatchObject({ statusCode: 404 });
    expect(JSON.stringify(await listAudit(store, acme.tenantId, { limit: 100 }))).not.toContain(k.key);
    // The invalidator finds a revoked key's hash by its id (its cached authentication lives under the hash).
    expect(await apiKeyHashOf(store, k.id)).toBe(hashApiKey(k.key));
    expect(await apiKeyHashOf(store, '00000000-0000-4000-8000-000000000000')).toBeUndefined();
    expect(await apiKeyHashOf(store, "x' OR 1=1 --")).toBeUndefined();
  });

  it('pages the audit trail newest first, one tenant only', async () => {
    const all = await listAudit(store, acme.tenantId, { limit: 1000 });
    const page1 = await listAudit(store, acme.tenantId, { limit: 3 });
    const page2 = await listAudit(store, acme.tenantId, { limit: 3, before: page1[2].id });
    expect([...page1, ...page2]).toEqual(all.slice(0, 6));
    expect(new Set((await store.query<{ tenant_id: string }>('SELECT tenant_id FROM audit_log WHERE id = ANY($1::bigint[])', [all.map((e) => e.id)])).rows.map((r) => r.tenant_id))).toEqual(new Set([acme.tenantId]));
  });

  describe('ConfigChangeRelay', () => {
    let bus: Bus;
    const seen: ConfigChange[] = [];
    beforeAll(async () => {
      bus = createInProcessBus({ contracts: loadContracts() });
      await bus.consume({ groupId: 'relay-test', topics: ['dmarc.config.changes'], handler: async (m) => void seen.push(m.value as ConfigChange) });
    });
    afterAll(() => bus.close());
    const logger = { warn: jest.fn() };

    it('publishes the outbox in order once; a failed publish leaves the rows for the next pass', async () => {
      const pending = (await store.query<{ n: string }>('SELECT count(*) AS n FROM config_changes WHERE published_at IS NULL')).rows[0].n;
      const failing: Publisher = { publish: () => Promise.reject(new Error('broker down')), publishRaw: () => Promise.reject(new Error('broker down')) };
      await expect(new ConfigChangeRelay({ db: store, publisher: failing, logger }).flush()).rejects.toThrow('broker down');
      expect((await store.query<{ n: string }>('SELECT count(*) AS n FROM config_changes WHERE published_at IS NULL')).rows[0].n).toBe(pending);

      const relay = new ConfigChangeRelay({ db: store, publisher: bus, logger, pageSize: 4 });
      expect(await relay.flush()).toBe(Number(pending));
      expect(await relay.flush()).toBe(0);
      const ids = (await outbox()).rows.map((r) => Number(r.id));
      // Delivered asynchronously by the in-process bus: a bounded wait, not a fixed sleep.
      for (const deadline = Date.now() + 10_000; seen.length < ids.length && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 10));
      expect(seen.map((c) => c.sequence).sort((a, b) => a - b)).toEqual(ids);
      // Ordered per key (tenant and domain), the partition key.
      const byKey = new Map<string, number[]>();
      for (const c of seen) byKey.set(`${c.tenantId}:${c.domain ?? ''}`, [...(byKey.get(`${c.tenantId}:${c.domain ?? ''}`) ?? []), c.sequence]);
      for (const sequences of byKey.values()) expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
      const policy = seen.find((c) => c.kind === 'policy_changed' && c.version === 2);
      expect(policy).toMatchObject({ tenantId: acme.tenantId, domain: 'acme.example', entity: 'policy:acme.example', actor: acme.name });
      expect(JSON.parse(policy!.after!)).toMatchObject({ p: 'reject' });
      expect(JSON.parse(policy!.before!)).toMatchObject({ p: 'none' });
      expect(new Set(seen.map((c) => c.eventId)).size).toBe(seen.length);
    });
  });
});
