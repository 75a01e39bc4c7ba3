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

  it('evicts in order of last use under churn, as a reference model does, and deletes anywhere in the order', () => {
    const lru = new LruMap<number>(50);
    const model: string[] = []; // least recent first
    const touch = (k: string) => {
      const at = model.indexOf(k);
      if (at >= 0) model.splice(at, 1);
      model.push(k);
    };
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 5000; i++) {
      const k = `k${Math.floor(rnd() * 120)}`;
      const op = rnd();
      if (op < 0.5) {
        lru.set(k, i);
        touch(k);
        if (model.length > 50) model.shift();
      } else if (op < 0.9) {
        const had = model.includes(k);
        expect(lru.get(k) !== undefined).toBe(had);
        if (had) touch(k);
      } else {
        expect(lru.delete(k)).toBe(model.includes(k));
        if (model.includes(k)) model.splice(model.indexOf(k), 1);
      }
      expect(lru.size).toBe(model.length);
    }
    for (const k of model) expect(lru.peek(k)).toBeDefined();
    lru.clear();
    expect(lru.size).toBe(0);
    lru.set('x', 1);
    expect(lru.get('x')).toBe(1);
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
