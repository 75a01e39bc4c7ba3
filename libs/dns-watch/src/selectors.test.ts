import type { Queryable } from '@dmarc/store';
import { DnsWatchError } from './errors';
import { SelectorRecorder } from './selectors';

const TENANT = '00000000-0000-4000-8000-000000000001';
const OTHER = '00000000-0000-4000-8000-000000000002';

/** Counts statements and what they were given; fails while `failing` is set. */
function fakeDb() {
  const calls: unknown[][] = [];
  const db = {
    failing: false,
    calls,
    query: async (_sql: string, params?: unknown[]) => {
      if (db.failing) throw new Error('connection refused');
      calls.push(params ?? []);
      return { rows: [], rowCount: 0 };
    },
    exec: async () => {},
  };
  return db;
}

describe('SelectorRecorder', () => {
  let clock: number;
  const now = () => clock;
  beforeEach(() => (clock = 1_700_000_000_000));

  it('writes a selector once per tenant, domain and hour, however many reports show it', async () => {
    const db = fakeDb();
    const recorder = new SelectorRecorder(db as unknown as Queryable, { now });
    expect(await recorder.record(TENANT, 'example.com', ['s1', 's2'])).toEqual(['s1', 's2']);
    expect(await recorder.record(TENANT, 'example.com', ['s2', 's1'])).toEqual([]);
    // A new selector alone is written; the same selector for another tenant or domain is its own row.
    expect(await recorder.record(TENANT, 'example.com', ['s1', 's3'])).toEqual(['s3']);
    expect(await recorder.record(OTHER, 'example.com', ['s1'])).toEqual(['s1']);
    expect(await recorder.record(TENANT, 'example.org', ['s1'])).toEqual(['s1']);
    expect(db.calls.map((c) => c[2])).toEqual([['s1', 's2'], ['s3'], ['s1'], ['s1']]);
    clock += 3_599_999;
    expect(await recorder.record(TENANT, 'example.com', ['s1'])).toEqual([]);
    clock += 1;
    expect(await recorder.record(TENANT, 'example.com', ['s1'])).toEqual(['s1']);
    expect(db.calls).toHaveLength(5);
  });

  it('forgets what a failed statement tried, so the next report writes it', async () => {
    const db = fakeDb();
    const recorder = new SelectorRecorder(db as unknown as Queryable, { now });
    db.failing = true;
    await expect(recorder.record(TENANT, 'example.com', ['s1'])).rejects.toThrow('connection refused');
    db.failing = false;
    expect(await recorder.record(TENANT, 'example.com', ['s1'])).toEqual(['s1']);
    expect(db.calls).toHaveLength(1);
  });

  it('remembers at most maxEntries, forgetting the least recently written', async () => {
    const db = fakeDb();
    const recorder = new SelectorRecorder(db as unknown as Queryable, { now, maxEntries: 2 });
    await recorder.record(TENANT, 'a.example', ['s']);
    await recorder.record(TENANT, 'b.example', ['s']);
    await recorder.record(TENANT, 'c.example', ['s']);
    expect(recorder.size).toBe(2);
    expect(await recorder.record(TENANT, 'c.example', ['s'])).toEqual([]);
    expect(await recorder.record(TENANT, 'a.example', ['s'])).toEqual(['s']);
    // Past the bound the oldest tenth goes at once: of 20, the 2 least recently written.
    const twenty = new SelectorRecorder(db as unknown as Queryable, { now, maxEntries: 20 });
    for (let i = 0; i <= 20; i++) await twenty.record(TENANT, `d${i}.example`, ['s']);
    expect(twenty.size).toBe(19);
    expect(await twenty.record(TENANT, 'd2.example', ['s'])).toEqual([]);
    expect(await twenty.record(TENANT, 'd1.example', ['s'])).toEqual(['s']);
    expect(() => new SelectorRecorder(db as unknown as Queryable, { maxEntries: 0 })).toThrow(RangeError);
  });

  it('still refuses what recordSelectors refuses, and remembers none of it', async () => {
    const recorder = new SelectorRecorder(fakeDb() as unknown as Queryable, { now });
    await expect(recorder.record('not-a-uuid', 'example.com', ['s1'])).rejects.toBeInstanceOf(DnsWatchError);
    expect(recorder.size).toBe(0);
  });
});
