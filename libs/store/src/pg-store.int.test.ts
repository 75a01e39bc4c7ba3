import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { migrate } from './migrate';
import { loadMigrations } from './migration-files';
import { PgStore } from './pg-store';
import { runMigrations } from './run-migrations';
import { describeStoreContract, storeError } from './store-contract';
import type { Queryable } from './store';

// Given by the integration global setup (scripts/jest/global-setup.js). Every store below works in a
// throwaway schema, so runs in parallel and leftovers never collide; all are dropped at the end.
const url = process.env.DATABASE_URL as string;
let admin: PgStore;
const schemas: string[] = [];

async function freshSchema(): Promise<string> {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  await admin.exec(`CREATE SCHEMA ${schema}`);
  schemas.push(schema);
  return schema;
}

beforeAll(() => {
  if (!url) throw new Error('DATABASE_URL is not set; the integration global setup should have set it');
  admin = new PgStore({ url, poolSize: 2 });
});

afterAll(async () => {
  for (const schema of schemas) await admin.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.close();
});

describeStoreContract('PgStore', { openFresh: async () => new PgStore({ url, schema: await freshSchema(), poolSize: 4 }) });

describe('PgStore on PostgreSQL', () => {
  it('counts the statements it sends: one per query or exec, BEGIN and COMMIT for a transaction', async () => {
    const store = new PgStore({ url, schema: await freshSchema(), poolSize: 2 });
    try {
      expect(store.statementsSent).toBe(0);
      await store.query('SELECT 1');
      await store.exec('CREATE TABLE counted (x int)');
      expect(store.statementsSent).toBe(2);
      await store.transaction(async (tx) => {
        await tx.query('INSERT INTO counted VALUES (1)');
        await tx.query('INSERT INTO counted VALUES (2)');
      });
      expect(store.statementsSent).toBe(6);
      await expect(store.query('SELECT * FROM no_such_table')).rejects.toThrow();
      expect(store.statementsSent).toBe(7);
    } finally {
      await store.close();
    }
  });

  it('applies each migration once when two stores migrate the same schema at once', async () => {
    const schema = await freshSchema();
    const a = new PgStore({ url, schema });
    const b = new PgStore({ url, schema });
    try {
      const shipped = await loadMigrations();
      const results = await Promise.all([migrate(a), migrate(b), migrate(a), migrate(b)]);
      const applied = results.flatMap((r) => r.applied.map((m) => m.name)).sort();
      expect(applied).toEqual(shipped.map((m) => m.name));
      expect(results.every((r) => r.applied.length + r.alreadyApplied === shipped.length)).toBe(true);
      expect((await a.query('SELECT version FROM schema_migrations')).rowCount).toBe(shipped.length);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('reports an unreachable server as a retriable StoreError with a one-line message', async () => {
    const port = await closedPort();
    const store = new PgStore({ url: `postgres://dmarc:s3cr3t@127.0.0.1:${port}/dmarc`, connectTimeoutMs: 2000 });
    try {
      for (const attempt of [store.query('SELECT 1'), store.ping(), store.transaction(async () => 1)]) {
        const err = await storeError(attempt);
        expect(err).toMatchObject({ code: 'STORE_UNAVAILABLE', retriable: true });
        expect(err.message).toBe(`cannot reach PostgreSQL at 127.0.0.1:${port}/dmarc: connection refused (ECONNREFUSED)`);
      }
    } finally {
      await store.close();
    }
  });

  it('fails runMigrations on an unreachable server the same way, and lets go of the pool', async () => {
    const port = await closedPort();
    const err = await storeError(runMigrations(`postgres://dmarc:dmarc@127.0.0.1:${port}/dmarc`, { info: () => undefined }));
    expect(err).toMatchObject({ code: 'STORE_UNAVAILABLE', retriable: true });
  });

  it('runMigrations applies, reports what it applied, and is a no-op the second time', async () => {
    const schema = await freshSchema();
    const target = withSearchPath(url, schema);
    const lines: string[] = [];
    const logger = { info: (line: string) => lines.push(line) };
    const shipped = await loadMigrations();
    await runMigrations(target, logger);
    expect(lines).toEqual([
      ...shipped.map((m) => expect.stringMatching(new RegExp(`^applied ${m.name.replace('.', '\\.')} \\(\\d+ ms\\)$`))),
      `applied ${shipped.length} migration(s); 0 were already applied`,
    ]);
    lines.length = 0;
    await runMigrations(target, logger);
    expect(lines).toEqual([`database is up to date (${shipped.length} migrations applied earlier)`]);
    const { rows } = await admin.query<{ t: string }>('SELECT table_name AS t FROM information_schema.tables WHERE table_schema = $1', [
      schema,
    ]);
    expect(rows.map((r) => r.t)).toEqual(expect.arrayContaining(['tenants', 'raw_reports', 'schema_migrations']));
  });

  it('retries a real serialization failure when asked, and reports it as retriable when not', async () => {
    const store = new PgStore({ url, schema: await freshSchema(), poolSize: 4 });
    try {
      await store.exec('CREATE TABLE counter (n int NOT NULL); INSERT INTO counter VALUES (0);');
      // Both transactions read before either writes, so SERIALIZABLE must fail one of them.
      const raceOnce = (retries: number): Promise<PromiseSettledResult<void>[]> => {
        let reads = 0;
        let release!: () => void;
        const bothRead = new Promise<void>((r) => (release = r));
        const increment = (tx: Queryable): Promise<void> =>
          (async () => {
            const n = (await tx.query<{ n: number }>('SELECT n FROM counter')).rows[0]!.n;
            if (++reads === 2) release();
            await Promise.race([bothRead, new Promise((r) => setTimeout(r, 200))]);
            await tx.query('UPDATE counter SET n = $1', [n + 1]);
          })();
        return Promise.allSettled([0, 1].map(() => store.transaction(increment, { isolation: 'serializable', retries })));
      };

      const withoutRetry = await raceOnce(0);
      const failed = withoutRetry.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(failed).toHaveLength(1);
      expect(failed[0]?.reason).toMatchObject({ code: 'STORE_TRANSACTION_CONFLICT', retriable: true, sqlState: '40001' });

      const withRetry = await raceOnce(3);
      expect(withRetry.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
      expect((await store.query<{ n: number }>('SELECT n FROM counter')).rows[0]?.n).toBe(3);
    } finally {
      await store.close();
    }
  });

  it('reports a statement timeout as retriable STORE_TIMEOUT', async () => {
    const store = new PgStore({ url, statementTimeoutMs: 100 });
    try {
      const err = await storeError(store.query('SELECT pg_sleep(2)'));
      expect(err).toMatchObject({ code: 'STORE_TIMEOUT', retriable: true, sqlState: '57014' });
    } finally {
      await store.close();
    }
  });

  it('survives the server dropping its connection mid-transaction', async () => {
    const errors: string[] = [];
    const store = new PgStore({ url, poolSize: 1, onError: (e) => errors.push(e.code) });
    try {
      const err = await storeError(
        store.transaction(async (tx) => {
          const pid = (await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
          await admin.query('SELECT pg_terminate_backend($1)', [pid]);
          await tx.query('SELECT 1');
        }),
      );
      expect(err).toMatchObject({ code: 'STORE_UNAVAILABLE', retriable: true });
      // The broken connection was thrown away; the next call gets a new one.
      await expect(store.query('SELECT 1 AS ok')).resolves.toMatchObject({ rows: [{ ok: 1 }] });
    } finally {
      await store.close();
    }
  });
});

/** A port nothing listens on: bound by the OS, then released. */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function withSearchPath(databaseUrl: string, schema: string): string {
  const u = new URL(databaseUrl);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return u.toString();
}
