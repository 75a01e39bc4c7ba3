import { cacheKey, InProcessBroadcast, MemoryCacheL2, PolicyTable, TieredCache, type CacheScope } from '@dmarc/cache';
import type { AggregatesUpdated, ConfigChange, ConfigChangeKind, DnsChange } from '@dmarc/contracts';
import { sharedKey } from '@dmarc/dns-cache';
import { CacheInvalidator } from './cache-invalidator';
import { planInvalidation, type ChangeEvent } from './invalidation-policy';

const T = '11111111-1111-4111-8111-111111111111';
const U = '22222222-2222-4222-8222-222222222222';
const D = 'example.com';
const DOMAINS = [D, 'example.com.evil', 'other.org'];

// Every entry the platform may cache, for two tenants, named by a label: what a change drops is checked
// against all of them, so a change that drops too much fails as surely as one that drops too little.
type Entry = { label: string; scope: CacheScope; type: string; id: string[] } | { label: string; raw: string };
const universe: Entry[] = [];
for (const [t, name] of [
  [T, 'T'],
  [U, 'U'],
] as const) {
  const scope: CacheScope = { tenantId: t, tier: 'business' };
  for (const d of DOMAINS) {
    universe.push({ label: `${name} policy ${d}`, scope, type: 'policy', id: [d] });
    universe.push({ label: `${name} compliance ${d}`, scope, type: 'compliance', id: [d, 'evaluation'] });
    universe.push({ label: `${name} dashboard ${d}`, scope, type: 'dashboard', id: [d, 'summary', '2025-03-01', '2025-03-31'] });
    universe.push({ label: `${name} trend ${d}`, scope, type: 'trend', id: [d, '30d'] });
    universe.push({ label: `${name} aggregate ${d}`, scope, type: 'aggregate', id: [d, '2025-03-10'] });
  }
  for (const who of ['user-1', 'user-2', 'api-key:k1', 'api-key:k2']) universe.push({ label: `${name} auth ${who}`, scope, type: 'auth', id: [who, 'grants'] });
}
for (const name of ['_dmarc.example.com', 'example.com', '_dmarc.other.org', 's1._domainkey.example.com', '_dmarc.example.com.evil']) {
  universe.push({ label: `dns ${name}`, scope: 'global', type: 'dns', id: [name] });
  universe.push({ label: `dns-cache ${name}`, raw: sharedKey('TXT', name) });
}

const config = (kind: ConfigChangeKind, over: Partial<ConfigChange> = {}): ChangeEvent => ({
  topic: 'dmarc.config.changes',
  value: { eventId: `e-${kind}`, sequence: 1, tenantId: T, domain: D, kind, entity: `domain:${D}`, userId: null, version: null, actor: 'cli', before: null, after: null, at: 0, ...over },
});
const dns = (recordType: DnsChange['recordType'], name: string): ChangeEvent => ({
  topic: 'dmarc.dns.changes',
  value: { tenantId: T, domain: D, recordType, name, selector: recordType === 'DKIM' ? 's1' : null, change: 'changed', previous: 'a', current: 'b', detectedAt: 0 },
});
const updated: AggregatesUpdated = { tenantId: T, domain: D, days: ['2025-03-10'], reportId: 'r', chunkIndex: 0, reportComplete: true, at: 0 };

const ofDomain = (types: string[], d = D) => types.map((t) => `T ${t} ${d}`);
const ALL_DOMAIN_TYPES = ['policy', 'compliance', 'dashboard', 'trend', 'aggregate'];

// [name, change, entries dropped, entries kept but marked stale (served while refreshed)]
const CASES: Array<[string, ChangeEvent, string[], string[]?]> = [
  [
    'DMARC policy changed: the policy, the _dmarc record (both key schemes), compliance and dashboard',
    config('policy_changed', { entity: `policy:${D}`, after: '{"p":"reject"}' }),
    [...ofDomain(['policy', 'compliance', 'dashboard']), 'dns _dmarc.example.com', 'dns-cache _dmarc.example.com'],
  ],
  [
    'approved sources changed: the SPF record, compliance and dashboard',
    config('sources_changed', { entity: `sources:${D}` }),
    [...ofDomain(['compliance', 'dashboard']), 'dns example.com', 'dns-cache example.com'],
  ],
  ['domain added: any entry left from before (the warming is discovery)', config('domain_added'), ofDomain(ALL_DOMAIN_TYPES)],
  ['domain removed: every entry of the tenant for it, no shared DNS answer', config('domain_removed'), ofDomain(ALL_DOMAIN_TYPES)],
  ['permissions changed: that user’s authorisation entries', config('permissions_changed', { domain: null, userId: 'user-1', entity: 'user:user-1' }), ['T auth user-1']],
  ['user added, user id from the entity', config('user_added', { domain: null, entity: 'user:user-2' }), ['T auth user-2']],
  ['API key revoked: that key’s authorisation entries', config('api_key_revoked', { domain: null, entity: 'api-key:k1' }), ['T auth api-key:k1']],
  [
    'unknown kind with a domain: everything of the domain',
    config('other'),
    [...ofDomain(ALL_DOMAIN_TYPES), 'dns _dmarc.example.com', 'dns-cache _dmarc.example.com', 'dns example.com', 'dns-cache example.com'],
  ],
  ['unknown kind without a domain: nothing it could name', config('other', { domain: null }), []],
  ['DMARC record changed in DNS', dns('DMARC', '_dmarc.example.com'), [...ofDomain(['compliance', 'dashboard']), 'dns _dmarc.example.com', 'dns-cache _dmarc.example.com']],
  ['SPF record changed in DNS', dns('SPF', 'example.com'), [...ofDomain(['compliance', 'dashboard']), 'dns example.com', 'dns-cache example.com']],
  [
    'DKIM record changed in DNS',
    dns('DKIM', 's1._domainkey.example.com'),
    [...ofDomain(['compliance', 'dashboard']), 'dns s1._domainkey.example.com', 'dns-cache s1._domainkey.example.com'],
  ],
  ['aggregates updated: dashboard and trends marked stale, nothing dropped', { topic: 'dmarc.aggregates.updated', value: updated }, [], ofDomain(['dashboard', 'trend'])],
  // Hostile names reach nothing but their own (escaped) keys: no other domain, no other tenant.
  ['a policy change of `a.com:*` drops nothing of anyone else', config('policy_changed', { domain: 'a.com:*' }), []],
  ['a policy change of `x}:tenant:2` drops nothing of anyone else', config('policy_changed', { domain: `x}:tenant:${U}` }), []],
  ['aggregates of `example.com:*`', { topic: 'dmarc.aggregates.updated', value: { ...updated, domain: 'example.com:*' } }, []],
];

describe('the invalidation policy: change -> exactly the entries dropped, in L2 and in another process’s L1', () => {
  const policies = new PolicyTable();

  it.each(CASES)('%s', async (_name, event, expected, expectedStale = []) => {
    const l2 = new MemoryCacheL2();
    const broadcast = new InProcessBroadcast();
    const api = new TieredCache({ l2, broadcast });
    const invalidatorCache = new TieredCache({ l2, broadcast });
    const discovered: string[] = [];
    const invalidator = new CacheInvalidator({
      cache: invalidatorCache,
      policies,
      deleteL2Keys: (keys) => l2.delete(keys),
      discover: async (domain) => void discovered.push(domain),
    });
    for (const e of universe) {
      if ('raw' in e) await l2.set(e.raw, '{"answer":1}', 60_000, 'dns-cache-index');
      else await api.set(e.scope, e.type, e.id, { label: e.label });
    }

    expect((await invalidator.apply(event)).applied).toBe(true);

    const dropped: string[] = [];
    const stale: string[] = [];
    for (const e of universe) {
      const gone = 'raw' in e ? (await l2.get(e.raw)) === null : (await l2.get(cacheKey(e.scope, e.type, e.id))) === null;
      if (!gone) {
        // Still in L2, so still in the other process's L1 too.
        if (!('raw' in e)) {
          expect(api.l1Has(e.scope, e.type, e.id)).toBe(true);
          if (api.l1IsStale(e.scope, e.type, e.id)) stale.push(e.label);
        }
        continue;
      }
      dropped.push(e.label);
      if (!('raw' in e)) expect(api.l1Has(e.scope, e.type, e.id)).toBe(false);
    }
    expect(dropped.sort()).toEqual([...expected].sort());
    expect(stale.sort()).toEqual([...expectedStale].sort());
    expect(discovered).toEqual(event.topic === 'dmarc.config.changes' && event.value.kind === 'domain_added' ? [D] : []);
    await api.close();
    await invalidatorCache.close();
  });

  it('writes a write-through type through with the new value instead of dropping it', async () => {
    const throughPolicies = new PolicyTable({ policy: { strategy: 'write-through' } });
    const plan = planInvalidation(config('policy_changed', { after: '{"p":"reject"}' }), (t) => throughPolicies.of(t).strategy);
    expect(plan.sets).toEqual([{ scope: { tenantId: T, tier: 'enterprise' }, type: 'policy', id: [D], value: { p: 'reject' } }]);
    expect(plan.groups.map((g) => g.type)).toEqual(['compliance', 'dashboard']);
    // No value to write (removed, or not JSON): dropped instead.
    const removed = planInvalidation(config('policy_changed', { after: 'not json' }), (t) => throughPolicies.of(t).strategy);
    expect(removed.sets).toEqual([]);
    expect(removed.groups.map((g) => g.type)).toEqual(['policy', 'compliance', 'dashboard']);
  });

  it('leaves the DNS cache library’s keys alone for names it would refuse, and names them exactly otherwise', () => {
    const strategy = (t: string) => policies.of(t).strategy;
    expect(planInvalidation(config('policy_changed', { domain: 'a.com:*' }), strategy).dnsKeys).toEqual([]);
    expect(planInvalidation(config('policy_changed', { domain: 'Example.COM' }), strategy).dnsKeys).toEqual(['global:dns:txt:_dmarc.example.com']);
  });
});
