import { RefreshDebounce } from './refresh-debounce';

describe('RefreshDebounce', () => {
  let t = 0;
  const now = () => t;
  beforeEach(() => {
    jest.useFakeTimers();
    t = 1_000_000;
  });
  afterEach(() => jest.useRealTimers());

  const advance = async (ms: number) => {
    t += ms;
    await jest.advanceTimersByTimeAsync(ms);
  };

  it('runs the first submit at once and folds the rest of the window into one trailing run', async () => {
    const runs: string[] = [];
    const d = new RefreshDebounce(5000, () => undefined, now);
    await d.submit('t:a.com', async () => void runs.push('1'));
    expect(runs).toEqual(['1']);
    for (let i = 2; i <= 10; i++) {
      await advance(100);
      await d.submit('t:a.com', async () => void runs.push(String(i)));
    }
    expect(runs).toEqual(['1']);
    expect(d.waiting).toBe(1);
    await advance(4099);
    expect(runs).toEqual(['1']);
    await advance(1);
    // One trailing run, the latest plan, at the end of the window opened by the first run.
    expect(runs).toEqual(['1', '10']);
    expect(d.waiting).toBe(0);
  });

  it('keeps keys apart: one domain busy does not hold back another', async () => {
    const runs: string[] = [];
    const d = new RefreshDebounce(5000, () => undefined, now);
    await d.submit('t:a.com', async () => void runs.push('a1'));
    await d.submit('t:a.com', async () => void runs.push('a2'));
    await d.submit('t:b.com', async () => void runs.push('b1'));
    expect(runs).toEqual(['a1', 'b1']);
  });

  it('runs at once again once a whole window has passed quietly', async () => {
    const runs: string[] = [];
    const d = new RefreshDebounce(1000, () => undefined, now);
    await d.submit('k', async () => void runs.push('1'));
    await advance(1000);
    await d.submit('k', async () => void runs.push('2'));
    expect(runs).toEqual(['1', '2']);
    expect(d.waiting).toBe(0);
  });

  it('flush runs every waiting trailing run now, and later submits at once', async () => {
    const runs: string[] = [];
    const d = new RefreshDebounce(60_000, () => undefined, now);
    await d.submit('a', async () => void runs.push('a1'));
    await d.submit('a', async () => void runs.push('a2'));
    await d.submit('b', async () => void runs.push('b1'));
    await d.submit('b', async () => void runs.push('b2'));
    await d.flush();
    expect(runs).toEqual(['a1', 'b1', 'a2', 'b2']);
    await d.submit('a', async () => void runs.push('a3'));
    expect(runs).toContain('a3');
  });

  it('reports a failed trailing run and keeps serving the key', async () => {
    const errors: string[] = [];
    const runs: string[] = [];
    const d = new RefreshDebounce(1000, (key) => errors.push(key), now);
    await d.submit('k', async () => void runs.push('1'));
    await d.submit('k', async () => {
      throw new Error('redis down');
    });
    await advance(1000);
    expect(errors).toEqual(['k']);
    await advance(1000);
    await d.submit('k', async () => void runs.push('3'));
    expect(runs).toEqual(['1', '3']);
  });

  it('a window of 0 runs every submit at once', async () => {
    const runs: number[] = [];
    const d = new RefreshDebounce(0, () => undefined, now);
    for (let i = 0; i < 3; i++) await d.submit('k', async () => void runs.push(i));
    expect(runs).toEqual([0, 1, 2]);
  });
});
