// The behaviour every Store driver must have, as one jest suite: pglite-store.test.ts runs it on PGlite,
// pg-store.int.test.ts on a real PostgreSQL. Not a test file itself (no .test.ts), so it runs only there.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { StoreError, TransactionConflictError } from './errors';
import { migrate } from './migrate';
import { loadMigrations, migrationsDir } from './migration-files';
import type { Queryable, Store } from './store';

export interface StoreContractHarness {
  /** A store on a fresh, empty database (or schema). The suite closes it. */
  openFresh(): Promise<Store>;
}

const SLOW = 60_000;

/** Awaits `promise` expecting a StoreError and returns it. */
export async function storeError(promise: Promise<unknown>): Promise<StoreError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof StoreError) return err;
    throw err;
  }
  throw new Error('expected a StoreError');
}

export function describeStoreContract(name: string, harness: StoreContractHarness): void {
  describe(`${name}: Store contract`, () => {
    let store: Store;

    beforeAll(async () => {
      store = await harness.openFresh();
      await migrate(store);
      await store.exec(`
        CREATE TABLE contract_items (
          id integer PRIMARY KEY,
          label text NOT NULL,
          big bigint,
          day date,
          at timestamptz,
          doc jsonb,
          bytes bytea,
          tags text[],
          flag boolean,
          ratio numeric
        );
        CREATE TABLE contract_children (parent integer NOT NULL REFERENCES contract_items (id));
      `);
    }, SLOW);

    afterAll(async () => {
      await store?.close();
    });

    beforeEach(async () => {
      await store.exec('DELETE FROM contract_children; DELETE FROM contract_items;');
    });

    describe('query', () => {
      it('returns rows and counts them', async () => {
        const inserted = await store.query('INSERT INTO contract_items (id, label) VALUES (1, $1), (2, $2)', ['a', 'b']);
        expect(inserted).toEqual({ rows: [], rowCount: 2 });
        const selected = await store.query<{ id: number; label: string }>('SELECT id, label FROM contract_items ORDER BY id');
        expect(selected).toStrictEqual({ rows: [{ id: 1, label: 'a' }, { id: 2, label: 'b' }], rowCount: 2 });
        const updated = await store.query('UPDATE contract_items SET label = $1 WHERE id > $2 RETURNING id', ['z', 5]);
        expect(updated).toEqual({ rows: [], rowCount: 0 });
      });

      it('round-trips values the same way on every driver', async () => {
        const at = new Date('2024-03-01T12:34:56.789Z');
        await store.query(
          'INSERT INTO contract_items (id, label, big, day, at, doc, bytes, tags, flag, ratio) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)',
          [1, 'x', '9007199254740993', '2024-03-01', at, { a: [1, 'two'] }, Buffer.from([0, 1, 254, 255]), ['a', 'b "c"'], true, '0.1'],
        );
        const { rows } = await store.query(
          'SELECT big, day, at, doc, bytes, tags, flag, ratio, NULL::text AS nothing FROM contract_items',
        );
        expect(rows[0]).toEqual({
          tags: ['a', 'b "c"'],
          flag: true,
          ratio: '0.1',
          big: '9007199254740993',
          day: '2024-03-01',
          at,
          doc: { a: [1, 'two'] },
          bytes: Buffer.from([0, 1, 254, 255]),
          nothing: null,
        });
        expect(Buffer.isBuffer(rows[0]?.bytes)).toBe(true);
        expect(rows[0]?.at).toBeInstanceOf(Date);
        // A Date as a parameter to a date column, and a string to a timestamptz one, work too.
        await store.query('UPDATE contract_items SET day = $1, at = $2', [at, '2024-03-02T00:00:00Z']);
        const again = await store.query<{ day: string; at: Date }>('SELECT day::text AS day, at FROM contract_items');
        expect(again.rows[0]?.at.toISOString()).toBe('2024-03-02T00:00:00.000Z');
      });

      it('runs one statement per query; exec runs scripts', async () => {
        const err = await storeError(store.query('SELECT 1; SELECT 2'));
        expect(err.code).toBe('STORE_INVALID_QUERY');
        await store.exec("INSERT INTO contract_items (id, label) VALUES (1, 'a'); INSERT INTO contract_items (id, label) VALUES (2, 'b');");
        expect((await store.query('SELECT id FROM contract_items')).rowCount).toBe(2);
      });

      it('runs a named statement again and again, in and out of a transaction', async () => {
        const sql = 'SELECT $1::integer * 2 AS doubled';
        for (const n of [1, 2, 3]) expect((await store.query(sql, [n], { name: 'contract-doubled' })).rows).toEqual([{ doubled: n * 2 }]);
        const inside = await store.transaction((tx) => tx.query<{ doubled: number }>(sql, [21], { name: 'contract-doubled' }));
        expect(inside.rows).toEqual([{ doubled: 42 }]);
      });

      it('answers ping', async () => {
        await expect(store.ping()).resolves.toBeUndefined();
      });
    });

    describe('transaction', () => {
      const count = async (q: Queryable = store): Promise<number> =>
        (await q.query<{ n: number }>('SELECT count(*)::int AS n FROM contract_items')).rows[0]?.n ?? -1;

      it('commits and returns what the body returned', async () => {
        const result = await store.transaction(async (tx) => {
          await tx.query("INSERT INTO contract_items (id, label) VALUES (1, 'a')");
          await tx.exec("INSERT INTO contract_items (id, label) VALUES (2, 'b'); INSERT INTO contract_items (id, label) VALUES (3, 'c');");
          return count(tx);
        });
        expect(result).toBe(3);
        expect(await count()).toBe(3);
      });

      it('rolls back when the body throws, and rethrows its error unchanged', async () => {
        const boom = new Error('boom');
        await expect(
          store.transaction(async (tx) => {
            await tx.query("INSERT INTO contract_items (id, label) VALUES (1, 'a')");
            throw boom;
          }),
        ).rejects.toBe(boom);
        expect(await count()).toBe(0);
      });

      it('rolls back on a database error, which arrives as a StoreError', async () => {
        const err = await storeError(
          store.transaction(async (tx) => {
            await tx.query("INSERT INTO contract_items (id, label) VALUES (1, 'a')");
            await tx.query("INSERT INTO contract_items (id, label) VALUES (1, 'again')");
          }),
        );
        expect(err.code).toBe('STORE_UNIQUE_VIOLATION');
        expect(await count()).toBe(0);
      });

      it('keeps the store usable after a rollback', async () => {
        await store.transaction(() => Promise.reject(new Error('x'))).catch(() => undefined);
        await store.transaction((tx) => tx.query("INSERT INTO contract_items (id, label) VALUES (1, 'a')"));
        expect(await count()).toBe(1);
      });

      it('accepts an isolation level', async () => {
        const level = await store.transaction(
          async (tx) => (await tx.query<{ l: string }>("SELECT current_setting('transaction_isolation') AS l")).rows[0]?.l,
          { isolation: 'serializable' },
        );
        expect(level).toBe('serializable');
      });

      it('refuses the handle once the transaction is over', async () => {
        let leaked: Queryable | undefined;
        await store.transaction(async (tx) => {
          leaked = tx;
        });
        const err = await storeError(leaked!.query('SELECT 1'));
        expect(err.code).toBe('STORE_CLOSED');
      });

      it('runs the body again after a conflict when asked to, and only then', async () => {
        let attempts = 0;
        const body = async (tx: Queryable): Promise<number> => {
          attempts++;
          await tx.query(`INSERT INTO contract_items (id, label) VALUES (${attempts}, 'a')`);
          if (attempts === 1) throw new TransactionConflictError('simulated serialization failure');
          return attempts;
        };
        await expect(store.transaction(body, { retries: 2 })).resolves.toBe(2);
        expect((await store.query('SELECT id FROM contract_items')).rows).toEqual([{ id: 2 }]);

        attempts = 0;
        const err = await storeError(store.transaction(body));
        expect(err.code).toBe('STORE_TRANSACTION_CONFLICT');
        expect(err.retriable).toBe(true);
      });
    });

    describe('errors', () => {
      it('gives a unique violation its own code, with the constraint', async () => {
        await store.query("INSERT INTO contract_items (id, label) VALUES (1, 'a')");
        const err = await storeError(store.query("INSERT INTO contract_items (id, label) VALUES (1, 'b')"));
        expect(err).toMatchObject({
          code: 'STORE_UNIQUE_VIOLATION',
          retriable: false,
          sqlState: '23505',
          constraint: 'contract_items_pkey',
          table: 'contract_items',
        });
        expect(err.message).toContain('contract_items_pkey');
        // detail quotes the row's values; it is kept for debugging but stays out of the message.
        expect(err.detail).toContain('(id)=(1)');
        expect(err.message).not.toContain('(id)=(1)');
      });

      it.each([
        ['a foreign key', 'INSERT INTO contract_children (parent) VALUES (42)', 'STORE_CONSTRAINT_VIOLATION', '23503'],
        ['a not-null column', 'INSERT INTO contract_items (id) VALUES (1)', 'STORE_CONSTRAINT_VIOLATION', '23502'],
        ['a malformed value', "SELECT 'nope'::uuid", 'STORE_INVALID_DATA', '22P02'],
        ['a syntax error', 'SELEC 1', 'STORE_INVALID_QUERY', '42601'],
        ['an unknown table', 'SELECT * FROM no_such_table', 'STORE_INVALID_QUERY', '42P01'],
      ])('maps %s as not retriable', async (_what, sql, code, sqlState) => {
        const err = await storeError(store.query(sql));
        expect(err).toMatchObject({ code, sqlState, retriable: false });
      });

      it('maps a wrong number of parameters as a query error', async () => {
        const err = await storeError(store.query('SELECT $1::int + $2::int', [1]));
        expect(err).toMatchObject({ code: 'STORE_INVALID_QUERY', retriable: false });
      });
    });

    describe('closing', () => {
      it('is idempotent and refuses work afterwards', async () => {
        const s = await harness.openFresh();
        await s.ping();
        await s.close();
        await s.close();
        expect((await storeError(s.query('SELECT 1'))).code).toBe('STORE_CLOSED');
        expect((await storeError(s.transaction(async () => 1))).code).toBe('STORE_CLOSED');
        expect((await storeError(s.ping())).code).toBe('STORE_CLOSED');
      }, SLOW);
    });

    describeMigrations(harness);
    describeFoundationSchema(() => store);
  });
}

function describeMigrations(harness: StoreContractHarness): void {
  describe('migrate', () => {
    let dir: string;
    const stores: Store[] = [];
    const fresh = async (): Promise<Store> => {
      const s = await harness.openFresh();
      stores.push(s);
      return s;
    };
    const tables = async (s: Store): Promise<string[]> =>
      (
        await s.query<{ t: string }>(
          "SELECT table_name AS t FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1",
        )
      ).rows.map((r) => r.t);

    beforeEach(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'migrations-'));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
      await Promise.all(stores.splice(0).map((s) => s.close()));
    });

    it('applies the shipped migrations once; running again is a no-op', async () => {
      const shipped = await loadMigrations();
      const s = await fresh();
      const first = await migrate(s);
      expect(first.applied.map((m) => m.name)).toEqual(shipped.map((m) => m.name));
      expect(first.applied[0]?.name).toBe('0001_foundation.sql');
      expect(first.alreadyApplied).toBe(0);
      expect(await tables(s)).toEqual(
        expect.arrayContaining(['api_keys', 'audit_log', 'domains', 'processed_messages', 'raw_reports', 'schema_migrations', 'tenants']),
      );
      const second = await migrate(s);
      expect(second).toEqual({ applied: [], alreadyApplied: shipped.length, unknown: [] });
      const { rows } = await s.query<{ version: number; name: string; checksum: string }>(
        'SELECT version, name, checksum FROM schema_migrations ORDER BY version',
      );
      expect(rows).toEqual(shipped.map(({ version, name, checksum }) => ({ version, name, checksum })));
    }, SLOW);

    it('applies new files in version order, reporting each', async () => {
      await writeFile(path.join(dir, '0002_second.sql'), 'CREATE TABLE second (id int);');
      await writeFile(path.join(dir, '0001_first.sql'), 'CREATE TABLE first (id int);');
      await writeFile(path.join(dir, 'README.md'), 'not a migration');
      const s = await fresh();
      const seen: string[] = [];
      const result = await migrate(s, { dir, onApplied: (m) => seen.push(m.name) });
      expect(seen).toEqual(['0001_first.sql', '0002_second.sql']);
      expect(result.applied).toHaveLength(2);

      await writeFile(path.join(dir, '0003_third.sql'), 'CREATE TABLE third (id int);');
      const next = await migrate(s, { dir });
      expect(next.applied.map((m) => m.name)).toEqual(['0003_third.sql']);
      expect(next.alreadyApplied).toBe(2);
    }, SLOW);

    it('refuses to go on when an applied file has changed, naming it', async () => {
      await writeFile(path.join(dir, '0001_first.sql'), 'CREATE TABLE first (id int);');
      const s = await fresh();
      await migrate(s, { dir });
      await writeFile(path.join(dir, '0001_first.sql'), 'CREATE TABLE first (id bigint);');
      await writeFile(path.join(dir, '0002_second.sql'), 'CREATE TABLE second (id int);');
      const err = await storeError(migrate(s, { dir }));
      expect(err.code).toBe('STORE_MIGRATION_CHANGED');
      expect(err.message).toMatch(/^migration 0001_first\.sql was changed after it was applied/);
      expect(await tables(s)).not.toContain('second');
    }, SLOW);

    it('does not count a change of line endings as a change', async () => {
      await writeFile(path.join(dir, '0001_first.sql'), 'CREATE TABLE first (id int);\n-- note\n');
      const s = await fresh();
      await migrate(s, { dir });
      await writeFile(path.join(dir, '0001_first.sql'), 'CREATE TABLE first (id int);\r\n-- note\r\n');
      await expect(migrate(s, { dir })).resolves.toMatchObject({ applied: [], alreadyApplied: 1 });
    }, SLOW);

    it('rolls back a failing migration entirely and records nothing', async () => {
      await writeFile(path.join(dir, '0001_first.sql'), 'CREATE TABLE first (id int);');
      await writeFile(path.join(dir, '0002_broken.sql'), 'CREATE TABLE half (id int);\nCREATE TABLE oops (id nosuchtype);');
      const s = await fresh();
      const err = await storeError(migrate(s, { dir }));
      expect(err).toMatchObject({ code: 'STORE_MIGRATION_FAILED', retriable: false, file: '0002_broken.sql' });
      expect(err.message).toContain('0002_broken.sql');
      expect(err.message).toContain('nosuchtype');
      expect(await tables(s)).toEqual(['first', 'schema_migrations']);
      expect((await s.query('SELECT version FROM schema_migrations')).rows).toEqual([{ version: 1 }]);
    }, SLOW);

    it('rejects misnamed files and duplicate versions before touching the database', async () => {
      await writeFile(path.join(dir, '1_first.sql'), 'SELECT 1;');
      const s = await fresh();
      expect(await storeError(migrate(s, { dir }))).toMatchObject({ code: 'STORE_MIGRATION_FILE_INVALID', file: '1_first.sql' });
      await rm(path.join(dir, '1_first.sql'));
      await writeFile(path.join(dir, '0001_a.sql'), 'SELECT 1;');
      await writeFile(path.join(dir, '0001_b.sql'), 'SELECT 1;');
      const err = await storeError(migrate(s, { dir }));
      expect(err.message).toBe('migration 0001_b.sql: has the same version as 0001_a.sql');
      expect(await tables(s)).toEqual([]);
    }, SLOW);

    it('reports recorded migrations this code does not have', async () => {
      await writeFile(path.join(dir, '0001_first.sql'), 'SELECT 1;');
      await writeFile(path.join(dir, '0002_second.sql'), 'SELECT 1;');
      const s = await fresh();
      await migrate(s, { dir });
      await rm(path.join(dir, '0002_second.sql'));
      await expect(migrate(s, { dir })).resolves.toEqual({ applied: [], alreadyApplied: 1, unknown: ['0002_second.sql'] });
    }, SLOW);

    it('applies each migration once when migrators race on one store', async () => {
      const shipped = await loadMigrations();
      const s = await fresh();
      const results = await Promise.all([migrate(s), migrate(s), migrate(s)]);
      const applied = results.flatMap((r) => r.applied.map((m) => m.name)).sort();
      expect(applied).toEqual(shipped.map((m) => m.name));
      expect((await s.query('SELECT version FROM schema_migrations')).rowCount).toBe(shipped.length);
    }, SLOW);

    it('ships migrations that exist', async () => {
      expect((await readFile(path.join(migrationsDir, '0001_foundation.sql'), 'utf8')).length).toBeGreaterThan(0);
    });
  });
}

function describeFoundationSchema(getStore: () => Store): void {
  describe('0001 foundation schema', () => {
    let store: Store;
    let tenant: string;

    beforeAll(async () => {
      store = getStore();
      const { rows } = await store.query<{ id: string }>("INSERT INTO tenants (name, tier) VALUES ('Acme', 'business') RETURNING id");
      tenant = rows[0]!.id;
    });

    it('generates uuid ids and checks the tier', async () => {
      expect(tenant).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      const err = await storeError(store.query("INSERT INTO tenants (name, tier) VALUES ('x', 'platinum')"));
      expect(err).toMatchObject({ code: 'STORE_CONSTRAINT_VIOLATION', sqlState: '23514' });
    });

    it('keeps one key hash per key, and one spelling per domain', async () => {
      await store.query('INSERT INTO api_keys (tenant_id, key_hash) VALUES ($1, $2)', [tenant, 'h1']);
      expect((await storeError(store.query('INSERT INTO api_keys (tenant_id, key_hash) VALUES ($1, $2)', [tenant, 'h1']))).code).toBe(
        'STORE_UNIQUE_VIOLATION',
      );
      await store.query('INSERT INTO domains (tenant_id, name) VALUES ($1, $2)', [tenant, 'example.com']);
      expect((await storeError(store.query('INSERT INTO domains (tenant_id, name) VALUES ($1, $2)', [tenant, 'example.com']))).code).toBe(
        'STORE_UNIQUE_VIOLATION',
      );
      expect((await storeError(store.query('INSERT INTO domains (tenant_id, name) VALUES ($1, $2)', [tenant, 'Example.org']))).code).toBe(
        'STORE_CONSTRAINT_VIOLATION',
      );
    });

    it('keeps the audit log append-only', async () => {
      const { rows } = await store.query<{ id: string }>(
        "INSERT INTO audit_log (tenant_id, actor, action, entity, before, after) VALUES ($1, 'alice', 'update', 'domain:example.com', $2, $3) RETURNING id",
        [tenant, { p: 'none' }, { p: 'reject' }],
      );
      expect(rows[0]?.id).toMatch(/^\d+$/);
      const update = await storeError(store.query("UPDATE audit_log SET actor = 'mallory'"));
      expect(update).toMatchObject({ code: 'STORE_CONSTRAINT_VIOLATION', sqlState: '23001', retriable: false });
      expect(update.message).toContain('append-only');
      expect((await storeError(store.query('DELETE FROM audit_log'))).sqlState).toBe('23001');
    });

    it('deduplicates raw reports per tenant and keeps updated_at current', async () => {
      const sha = 'a'.repeat(64);
      const insert = (): Promise<unknown> =>
        store.query(
          "INSERT INTO raw_reports (tenant_id, sha256, size_bytes, content_type, filename, payload) VALUES ($1, $2, 3, 'application/gzip', 'r.xml.gz', $3)",
          [tenant, sha, Buffer.from('abc')],
        );
      await insert();
      expect((await storeError(insert())).code).toBe('STORE_UNIQUE_VIOLATION');
      const before = (await store.query<{ updated_at: Date }>('SELECT updated_at FROM raw_reports')).rows[0]!.updated_at;
      await new Promise((r) => setTimeout(r, 5));
      await store.query("UPDATE raw_reports SET status = 'parsed'");
      const after = (await store.query<{ updated_at: Date; status: string }>('SELECT updated_at, status FROM raw_reports')).rows[0]!;
      expect(after.status).toBe('parsed');
      expect(after.updated_at.getTime()).toBeGreaterThan(before.getTime());
      expect((await storeError(store.query("UPDATE raw_reports SET status = 'lost'"))).code).toBe('STORE_CONSTRAINT_VIOLATION');
    });

    it('records a processed message once per consumer', async () => {
      const mark = (consumer: string): Promise<unknown> =>
        store.query(
          "INSERT INTO processed_messages (consumer, message_id, topic, kafka_partition, kafka_offset) VALUES ($1, 'dmarc.reports.parsed/0/42', 'dmarc.reports.parsed', 0, 42)",
          [consumer],
        );
      await mark('aggregation');
      await mark('dns');
      const again = await storeError(mark('aggregation'));
      expect(again).toMatchObject({ code: 'STORE_UNIQUE_VIOLATION', constraint: 'processed_messages_pkey' });
    });
  });
}
