import { L1Store, type L1Put } from './l1-store';

const put = (key: string, partition: string, over: Partial<L1Put> = {}): L1Put => ({
  key,
  partition,
  budget: 1000,
  group: key.split(':').slice(0, 4).join(':'),
  value: key,
  expiresAt: 10_000,
  storedAt: 0,
  bytes: 100,
  ...over,
});

describe('L1 store', () => {
  it('never serves an entry at or past its expiry, and forgets it', () => {
    const l1 = new L1Store();
    l1.set(put('tenant:a:policy:x', 'tenant:a', { expiresAt: 500 }));
    expect(l1.get('tenant:a:policy:x', 499)?.value).toBe('tenant:a:policy:x');
    expect(l1.get('tenant:a:policy:x', 500)).toBeUndefined();
    expect(l1.size).toBe(0);
    expect(l1.bytesOf('tenant:a')).toBe(0);
  });

  it("over a partition's budget evicts that partition's least recently used entries, never another's", () => {
    const l1 = new L1Store();
    for (let i = 0; i < 5; i++) l1.set(put(`tenant:b:policy:b${i}`, 'tenant:b', { budget: 500 }));
    for (let i = 0; i < 5; i++) l1.set(put(`tenant:a:policy:a${i}`, 'tenant:a', { budget: 500 }));
    // a0 read, so a1 is now the least recently used of tenant a.
    expect(l1.get('tenant:a:policy:a0', 0)).toBeDefined();
    l1.set(put('tenant:a:policy:a5', 'tenant:a', { budget: 500 }));
    expect(l1.has('tenant:a:policy:a1')).toBe(false);
    expect(l1.has('tenant:a:policy:a0')).toBe(true);
    expect(l1.bytesOf('tenant:a')).toBe(500);
    for (let i = 0; i < 5; i++) expect(l1.has(`tenant:b:policy:b${i}`)).toBe(true);
    expect(l1.bytesOf('tenant:b')).toBe(500);
    expect(l1.evictions).toBe(1);
  });

  it('a big entry evicts as many small ones as it needs; one bigger than the budget is not kept', () => {
    const l1 = new L1Store();
    for (let i = 0; i < 4; i++) l1.set(put(`tenant:a:p:${i}`, 'tenant:a', { budget: 400 }));
    l1.set(put('tenant:a:p:big', 'tenant:a', { budget: 400, bytes: 250 }));
    expect(l1.entriesOf('tenant:a')).toBe(2);
    expect(l1.bytesOf('tenant:a')).toBe(350);
    l1.set(put('tenant:a:p:huge', 'tenant:a', { budget: 400, bytes: 401 }));
    expect(l1.has('tenant:a:p:huge')).toBe(false);
    expect(l1.bytesOf('tenant:a')).toBe(350);
  });

  it('replacing an entry accounts its bytes once', () => {
    const l1 = new L1Store();
    l1.set(put('tenant:a:p:x', 'tenant:a', { bytes: 100 }));
    l1.set(put('tenant:a:p:x', 'tenant:a', { bytes: 300 }));
    expect(l1.bytesOf('tenant:a')).toBe(300);
    expect(l1.size).toBe(1);
  });

  it('serves only entries stored at or after trustedSince when asked to', () => {
    const l1 = new L1Store();
    l1.set(put('tenant:a:p:old', 'tenant:a', { storedAt: 100 }));
    expect(l1.get('tenant:a:p:old', 200, 101)).toBeUndefined();
    expect(l1.get('tenant:a:p:old', 200, 100)).toBeDefined();
  });

  it('drops a group by its base and nothing else', () => {
    const l1 = new L1Store();
    for (const key of ['tenant:a:c:example.com', 'tenant:a:c:example.com:x', 'tenant:a:c:example.co:x', 'tenant:a:c:example.com.evil:x', 'tenant:b:c:example.com:x']) {
      l1.set(put(key, key.split(':').slice(0, 2).join(':'), { group: key.split(':').slice(0, 4).join(':') }));
    }
    expect(l1.deleteGroup('tenant:a:c:example.com')).toBe(2);
    expect(l1.size).toBe(3);
    expect(l1.has('tenant:a:c:example.co:x')).toBe(true);
    expect(l1.has('tenant:a:c:example.com.evil:x')).toBe(true);
    expect(l1.has('tenant:b:c:example.com:x')).toBe(true);
  });
});
