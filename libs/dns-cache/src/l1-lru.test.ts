import { LruMap } from './l1-lru';

describe('LruMap', () => {
  it('keeps at most maxEntries, dropping the least recently used', () => {
    const lru = new LruMap<number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    expect(lru.get('a')).toBe(1);
    lru.set('c', 3);
    expect(lru.peek('b')).toBeUndefined();
    expect(lru.peek('a')).toBe(1);
    expect(lru.size).toBe(2);
  });

  it('peek does not refresh recency', () => {
    const lru = new LruMap<number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    lru.peek('a');
    lru.set('c', 3);
    expect(lru.peek('a')).toBeUndefined();
  });

  it('a key read since it was last moved outlives maxEntries / 2 newer insertions', () => {
    const lru = new LruMap<number>(4);
    for (const k of ['a', 'b', 'c', 'd']) lru.set(k, 1);
    // 'a' is in the older half: the read moves it to the back.
    expect(lru.get('a')).toBe(1);
    lru.set('e', 1);
    lru.set('f', 1);
    expect(lru.peek('a')).toBe(1);
    expect(lru.peek('b')).toBeUndefined();
    expect(lru.peek('c')).toBeUndefined();
    expect(lru.size).toBe(4);
  });
});
