import { randomBytes } from 'node:crypto';
import { migrate, PgStore } from '@dmarc/store';
import { describeAcceptMany } from './__test-support__/accept-many-suite';

// Given by the integration global setup. The store works in a throwaway schema, dropped at the end.
const url = process.env.DATABASE_URL as string;
const schema = `intake_${randomBytes(6).toString('hex')}`;

afterAll(async () => {
  const admin = new PgStore({ url, poolSize: 1 });
  await admin.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.close();
});

// node-postgres sends the arrays and the bytea of the batch statement its own way: checked here on PostgreSQL.
describeAcceptMany('PostgreSQL', async () => {
  const admin = new PgStore({ url, poolSize: 1 });
  await admin.exec(`CREATE SCHEMA ${schema}`);
  await admin.close();
  const store = new PgStore({ url, schema, poolSize: 4 });
  await migrate(store);
  return store;
});
