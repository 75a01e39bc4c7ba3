import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PgliteStore } from './pglite-store';
import { describeStoreContract, storeError } from './store-contract';

describeStoreContract('PgliteStore', { openFresh: () => PgliteStore.open() });

describe('PgliteStore', () => {
  let store: PgliteStore;

  beforeAll(async () => {
    store = await PgliteStore.open();
    await store.exec('CREATE TABLE counter (n int NOT NULL); INSERT INTO counter VALUES (0);');
  }, 30_000);
  afterAll(() => store.close());

  it('refuses a call on the store from inside its own transaction instead of hanging', async () => {
    const err = await storeError(store.transaction(() => store.query('SELECT 1')));
    expect(err.code).toBe('STORE_MISUSE');
    expect(err.message).toContain('use the tx passed to transaction()');
    // The refusal rolled the transaction back and left the store usable.
    await expect(store.query('SELECT 1')).resolves.toMatchObject({ rowCount: 1 });
  });

  it('allows the store again once the transaction is over, even from work it started', async () => {
    let later: Promise<unknown> = Promise.resolve();
    await store.transaction(async () => {
      later = new Promise((r) => setTimeout(r, 10)).then(() => store.query('SELECT 1'));
    });
    await expect(later).resolves.toMatchObject({ rowCount: 1 });
  });

  it('runs transactions one at a time, so read-modify-write does not lose updates', async () => {
    const increment = (): Promise<void> =>
      store.transaction(async (tx) => {
        const { rows } = await tx.query<{ n: number }>('SELECT n FROM counter');
        await new Promise((r) => setTimeout(r, 1));
        await tx.query('UPDATE counter SET n = $1', [rows[0]!.n + 1]);
      });
    await Promise.all(Array.from({ length: 20 }, increment));
    expect((await store.query<{ n: number }>('SELECT n FROM counter')).rows[0]?.n).toBe(20);
  });

  it('keeps its data in a folder across reopening', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'pglite-'));
    try {
      const first = await PgliteStore.open({ dataDir: dir });
      await first.exec("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here');");
      await first.close();
      const second = await PgliteStore.open({ dataDir: dir });
      expect((await second.query('SELECT v FROM kept')).rows).toEqual([{ v: 'still here' }]);
      await second.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
