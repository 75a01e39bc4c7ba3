import { InvalidCacheOptionsError, UnknownDataTypeError } from './errors';
import { DEFAULT_POLICIES, PolicyTable, isReadable, lifetimeOf } from './policy';

describe('policy table', () => {
  it('has the issue 6 defaults', () => {
    const table = new PolicyTable();
    expect(table.of('alert')).toMatchObject({ ttlMs: 0, strategy: 'write-through' });
    for (const type of ['policy', 'compliance', 'dashboard', 'auth']) expect(table.of(type)).toEqual({ ttlMs: 30_000, strategy: 'write-invalidate' });
    expect(table.of('dns')).toEqual({ ttlMs: 3_600_000, strategy: 'lazy-load' });
    expect(table.of('aggregate')).toEqual({ ttlMs: 3_600_000, strategy: 'write-behind' });
    expect(table.of('trend')).toEqual({ ttlMs: 86_400_000, strategy: 'lazy-load' });
    expect(isReadable(table.of('alert'))).toBe(false);
    expect(isReadable(table.of('policy'))).toBe(true);
  });

  it('an unknown type is a clear, non-retriable error naming the known ones', () => {
    const table = new PolicyTable();
    expect(() => table.of('polcy')).toThrow(UnknownDataTypeError);
    expect(() => table.of('polcy')).toThrow(/"polcy".*dashboard/);
    expect(() => table.of('polcy')).toThrow(expect.objectContaining({ code: 'CACHE_UNKNOWN_TYPE', retriable: false }));
  });

  it('overrides merge per type and new types can be added; bad values are refused', () => {
    const table = new PolicyTable({ dashboard: { ttlMs: 5_000 }, report: { ttlMs: 10, strategy: 'lazy-load' } });
    expect(table.of('dashboard')).toEqual({ ttlMs: 5_000, strategy: 'write-invalidate' });
    expect(table.of('report').ttlMs).toBe(10);
    expect(DEFAULT_POLICIES.dashboard.ttlMs).toBe(30_000);
    expect(() => new PolicyTable({ dashboard: { ttlMs: -1 } })).toThrow(InvalidCacheOptionsError);
    expect(() => new PolicyTable({ x: { ttlMs: 1 } })).toThrow(InvalidCacheOptionsError);
  });

  it("an entry's own TTL is capped by its type's (DNS: record TTL, at most 1 h)", () => {
    const dns = new PolicyTable().of('dns');
    expect(lifetimeOf(dns, 300_000)).toBe(300_000);
    expect(lifetimeOf(dns, 86_400_000)).toBe(3_600_000);
    expect(lifetimeOf(dns)).toBe(3_600_000);
  });
});
