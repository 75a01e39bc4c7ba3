import { cacheKey, escapeKeyPart, groupBase, groupIndexKey, isInGroup, type CacheScope } from './cache-key';
import { InvalidKeyError } from './errors';

const HOSTILE = ['a.com:*', 'x}:tenant:2', '%', '%25', '*', '?', '[', ']', '[a-z]', '\\', '{', '}', '{t}', '\n', 'a\nb', ':', '::', '', ' ', 'ü', '%u00fc', '\ud800', '\udc00', 'A', '%41', 'tenant:2:policy:a.com', 'example.com'];
const t1: CacheScope = { tenantId: '1', tier: 'starter' };
const t2: CacheScope = { tenantId: '2', tier: 'starter' };

describe('cache keys', () => {
  it('builds tenant:{id}:{type}:{segments} and global:{type}:{segments}', () => {
    expect(cacheKey(t1, 'policy', ['example.com'])).toBe('tenant:1:policy:example.com');
    expect(cacheKey('global', 'dns', ['_dmarc.example.com', 'txt'])).toBe('global:dns:_dmarc.example.com:txt');
  });

  it('escapes every character outside [A-Za-z0-9._-], so no part can hold a colon, a glob or a brace', () => {
    for (const part of HOSTILE) expect(escapeKeyPart(part)).toMatch(/^[A-Za-z0-9._%u-]*$/);
    expect(escapeKeyPart('a.com:*')).toBe('a.com%3a%2a');
    expect(escapeKeyPart('x}:tenant:2')).toBe('x%7d%3atenant%3a2');
  });

  it('is injective: different hostile parts never give the same text', () => {
    const escaped = HOSTILE.map(escapeKeyPart);
    expect(new Set(escaped).size).toBe(HOSTILE.length);
  });

  it('hostile ids map to distinct keys inside a tenant and never equal a key of another tenant', () => {
    // Every id of one or two hostile segments, in two tenants, and tenant ids that are themselves hostile.
    const tenants: CacheScope[] = [t1, t2, { tenantId: '1:policy', tier: 'starter' }, { tenantId: 'x}', tier: 'business' }, 'global'];
    const ids: string[][] = [];
    for (const a of HOSTILE) {
      ids.push([a]);
      for (const b of ['', 'x', ':*', 'tenant']) ids.push([a, b]);
    }
    const owner = new Map<string, string>();
    for (const scope of tenants) {
      const who = scope === 'global' ? 'global' : scope.tenantId;
      for (const type of ['policy', 'dashboard']) {
        for (const id of ids) {
          const key = cacheKey(scope, type, id);
          const previous = owner.get(key);
          if (previous !== undefined) throw new Error(`${key} of ${who} ${JSON.stringify(id)} collides with ${previous}`);
          owner.set(key, `${who} ${type} ${JSON.stringify(id)}`);
        }
      }
    }
    expect(owner.size).toBe(tenants.length * 2 * ids.length);
  });

  it('a hostile segment cannot reach into a group or another tenant', () => {
    const base = groupBase(t1, 'compliance', 'a.com');
    expect(isInGroup(cacheKey(t1, 'compliance', ['a.com', 'x']), base)).toBe(true);
    expect(isInGroup(cacheKey(t1, 'compliance', ['a.com:*']), base)).toBe(false);
    expect(isInGroup(cacheKey(t1, 'compliance', ['a.com.evil']), base)).toBe(false);
    expect(isInGroup(cacheKey(t2, 'compliance', ['a.com', 'x']), base)).toBe(false);
    expect(cacheKey(t1, 'compliance', ['x}:tenant:2']).startsWith('tenant:2')).toBe(false);
  });

  it('the group index key cannot equal any entry key', () => {
    const index = groupIndexKey(groupBase(t1, 'compliance', 'a.com'));
    expect(index).toBe('tenant:1:compliance:a.com:~idx');
    for (const seg of ['~idx', '~', 'idx']) expect(cacheKey(t1, 'compliance', ['a.com', seg])).not.toBe(index);
  });

  it('refuses what the format cannot hold unambiguously', () => {
    expect(() => cacheKey(t1, 'policy', [])).toThrow(InvalidKeyError);
    expect(() => cacheKey({ tenantId: '', tier: 'starter' }, 'policy', ['a'])).toThrow(InvalidKeyError);
    expect(() => cacheKey(t1, '', ['a'])).toThrow(InvalidKeyError);
    expect(() => cacheKey(t1, 'policy', [1 as unknown as string])).toThrow(InvalidKeyError);
    expect(() => cacheKey({ tenantId: '1', tier: 'gold' as 'starter' }, 'policy', ['a'])).toThrow(/unknown tenant tier/);
  });
});
