import { WriteBehindBuffer, type WriteBehindOptions } from './write-behind-buffer';

// A clock and timers the test moves by hand, so "by time" is checked without sleeping.
function manualTime() {
  let now = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  let next = 0;
  return {
    now: () => now,
    setTimer: (fn: () => void, ms: number) => {
      timers.set(++next, { at: now + ms, fn });
      return next;
    },
    clearTimer: (t: unknown) => void timers.delete(t as number),
    advance(ms: number) {
      now += ms;
      for (const [id, t] of [...timers].sort((a, b) => a[1].at - b[1].at)) {
        if (t.at > now) continue;
        timers.delete(id);
        t.fn();
      }
    },
  };
}

// Items are row counts; a flush returns each item doubled, and can be held open or made to fail.
function harness(options: WriteBehindOptions, failOn?: (items: number[]) => boolean) {
  const time = manualTime();
  const flushes: number[][] = [];
  const gates: Array<() => void> = [];
  let hold = false;
  const buffer = new WriteBehindBuffer<number, number>(
    {
      flush: async (items) => {
        flushes.push(items);
        if (hold) await new Promise<void>((r) => gates.push(r));
        if (failOn?.(items)) throw new Error(`refused ${items.join(',')}`);
        return items.map((i) => i * 2);
      },
      rowsOf: (i) => i,
      ...time,
    },
    options,
  );
  return {
    buffer,
    time,
    flushes,
    hold: (on: boolean) => void (hold = on),
    release: () => gates.splice(0).forEach((g) => g()),
  };
}
const settle = () => new Promise((r) => setImmediate(r));

describe('WriteBehindBuffer', () => {
  it('flushes by time: nothing before lingerMs, everything added meanwhile in one flush after it', async () => {
    const h = harness({ lingerMs: 100, maxRows: 1000 });
    const a = h.buffer.add([1, 2]);
    h.time.advance(60);
    const b = h.buffer.add([3]);
    h.time.advance(39);
    await settle();
    expect(h.flushes).toEqual([]);
    expect(h.buffer.rows).toBe(6);
    h.time.advance(1);
    expect(await a).toEqual([2, 4]);
    expect(await b).toEqual([6]);
    expect(h.flushes).toEqual([[1, 2, 3]]);
    expect(h.buffer.rows).toBe(0);
  });

  it('flushes by size at once when maxRows are pending, without waiting for the linger', async () => {
    const h = harness({ lingerMs: 10_000, maxDelayMs: 10_000, maxRows: 10 });
    const a = h.buffer.add([4]);
    await settle();
    expect(h.flushes).toEqual([]);
    const b = h.buffer.add([6]);
    expect(await Promise.all([a, b])).toEqual([[8], [12]]);
    expect(h.flushes).toEqual([[4, 6]]);
  });

  it('takes at most maxRows per flush, whole additions only, and the rest in the next', async () => {
    const h = harness({ lingerMs: 50, maxRows: 10 });
    h.hold(true);
    const adds = [h.buffer.add([3, 3]), h.buffer.add([3]), h.buffer.add([5])];
    await settle();
    // 6 + 3 < 10; with 5 more it would be 14: the third addition waits for the second flush.
    expect(h.flushes).toEqual([[3, 3, 3]]);
    h.hold(false);
    h.release();
    await adds[1];
    // Below maxRows, the rest waits for its linger.
    expect(h.flushes).toHaveLength(1);
    h.time.advance(50);
    await Promise.all(adds);
    expect(h.flushes).toEqual([[3, 3, 3], [5]]);
  });

  it('group commit: with no linger, flushes at once when idle, and what arrives during a flush goes in the next one', async () => {
    const h = harness({ maxRows: 1000 });
    h.hold(true);
    const first = h.buffer.add([1]);
    await settle();
    expect(h.flushes).toEqual([[1]]);
    const later = [h.buffer.add([2]), h.buffer.add([3])];
    await settle();
    expect(h.flushes).toHaveLength(1);
    h.hold(false);
    h.release();
    expect(await first).toEqual([2]);
    expect(await Promise.all(later)).toEqual([[4], [6]]);
    expect(h.flushes).toEqual([[1], [2, 3]]);
  });

  it('past maxDelayMs starts a second flush beside a slow one, never a third', async () => {
    const h = harness({ maxDelayMs: 200, maxRows: 1000 });
    h.hold(true);
    void h.buffer.add([1]);
    await settle();
    void h.buffer.add([2]);
    h.time.advance(199);
    expect(h.flushes).toEqual([[1]]);
    h.time.advance(1);
    expect(h.flushes).toEqual([[1], [2]]);
    void h.buffer.add([3]);
    h.time.advance(1000);
    expect(h.flushes).toEqual([[1], [2]]);
    h.hold(false);
    h.release();
    await settle();
    await h.buffer.drain();
    expect(h.flushes).toEqual([[1], [2], [3]]);
  });

  it('a failed flush of several additions is retried per addition: only the culprit rejects', async () => {
    const h = harness({ lingerMs: 10, maxRows: 1000 }, (items) => items.includes(7));
    const good = h.buffer.add([1, 2]);
    const bad = h.buffer.add([7]);
    const alsoGood = h.buffer.add([3]);
    h.time.advance(10);
    await expect(bad).rejects.toThrow('refused 7');
    expect(await good).toEqual([2, 4]);
    expect(await alsoGood).toEqual([6]);
    expect(h.flushes).toEqual([[1, 2, 7, 3], [1, 2], [7], [3]]);
  });

  it('drain flushes what is pending without waiting for the linger', async () => {
    const h = harness({ lingerMs: 10_000, maxDelayMs: 10_000 });
    const a = h.buffer.add([5]);
    await h.buffer.drain();
    expect(await a).toEqual([10]);
  });

  it('refuses options that cannot work', () => {
    expect(() => harness({ maxRows: 0 })).toThrow(RangeError);
    expect(() => harness({ lingerMs: 300, maxDelayMs: 200 })).toThrow(RangeError);
  });
});
