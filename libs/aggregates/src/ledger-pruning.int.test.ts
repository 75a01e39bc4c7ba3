import { PgStore, runMigrations } from '@dmarc/store';
import { pruneLedger } from './ledger-pruning';

describe('pruneLedger (real PostgreSQL)', () => {
  let store: PgStore;
  const consumer = `prune-test-${Date.now()}`;
  beforeAll(async () => {
    await runMigrations(process.env.DATABASE_URL!, { info: () => undefined });
    store = new PgStore({ url: process.env.DATABASE_URL!, poolSize: 2 });
  });
  afterAll(async () => {
    await store?.query('DELETE FROM processed_messages WHERE consumer = ANY($1)', [[consumer, `${consumer}-other`]]);
    await store?.close();
  });

  it('deletes only this consumer\'s rows older than the cut, in batches, and keeps the rest', async () => {
    const day = 86_400_000;
    const now = Date.now();
    const insert = (who: string, id: string, ageDays: number) =>
      store.query('INSERT INTO processed_messages (consumer, message_id, processed_at) VALUES ($1, $2, $3)', [who, id, new Date(now - ageDays * day)]);
    for (let i = 0; i < 25; i++) await insert(consumer, `old-${i}`, 10);
    for (let i = 0; i < 5; i++) await insert(consumer, `new-${i}`, 1);
    await insert(`${consumer}-other`, 'old-other', 10);

    const pruned = await pruneLedger(store, { consumer, olderThan: new Date(now - 8 * day), batchSize: 10 });
    expect(pruned).toBe(25);
    const left = await store.query<{ consumer: string; message_id: string }>(
      'SELECT consumer, message_id FROM processed_messages WHERE consumer = ANY($1) ORDER BY message_id',
      [[consumer, `${consumer}-other`]],
    );
    expect(left.rows.map((r) => r.message_id)).toEqual(['new-0', 'new-1', 'new-2', 'new-3', 'new-4', 'old-other']);
    expect(await pruneLedger(store, { consumer, olderThan: new Date(now - 8 * day), batchSize: 10 })).toBe(0);
  });

  it('stops after maxBatches and goes on at the next call', async () => {
    const old = new Date(Date.now() - 30 * 86_400_000);
    for (let i = 0; i < 7; i++) {
      await store.query('INSERT INTO processed_messages (consumer, message_id, processed_at) VALUES ($1, $2, $3)', [consumer, `batch-${i}`, old]);
    }
    const cut = new Date(Date.now() - 8 * 86_400_000);
    expect(await pruneLedger(store, { consumer, olderThan: cut, batchSize: 2, maxBatches: 2 })).toBe(4);
    expect(await pruneLedger(store, { consumer, olderThan: cut, batchSize: 2, maxBatches: 10 })).toBe(3);
  });
});
