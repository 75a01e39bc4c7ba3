import type { Publisher } from '@dmarc/bus';
import type { ReportReceivedV1 } from '@dmarc/contracts';
import { PgStore, runMigrations } from '@dmarc/store';
import { ParsingStage } from './index';

const xml = (id: string) =>
  `<?xml version="1.0"?><feedback><report_metadata><org_name>Race</org_name><email>a@b.c</email><report_id>${id}</report_id>` +
  `<date_range><begin>1700000000</begin><end>1700086399</end></date_range></report_metadata>` +
  `<policy_published><domain>race.example</domain><p>none</p></policy_published>` +
  `<record><row><source_ip>192.0.2.1</source_ip><count>1</count><policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row>` +
  `<identifiers><header_from>race.example</header_from></identifiers><auth_results><spf><domain>race.example</domain><result>pass</result></spf></auth_results></record></feedback>`;

describe('ParsingStage on PostgreSQL: identity claims racing another transaction', () => {
  let store: PgStore;
  let tenantId: string;
  const published: Array<{ reportId: string; duplicateOf: string | null }> = [];
  const publisher: Publisher = {
    publish: async (_topic, messages) => {
      for (const m of messages) if ('value' in m) published.push(m.value as { reportId: string; duplicateOf: string | null });
    },
    publishRaw: async () => undefined,
  };

  beforeAll(async () => {
    await runMigrations(process.env.DATABASE_URL!, { info: () => undefined });
    store = new PgStore({ url: process.env.DATABASE_URL! });
    tenantId = (await store.query<{ id: string }>(`INSERT INTO tenants (name) VALUES ('parsing-race') RETURNING id`)).rows[0].id;
  });
  afterAll(async () => {
    await store?.query('DELETE FROM tenants WHERE id = $1', [tenantId]);
    await store?.close();
  });

  const received = (reportId: string, id: string): ReportReceivedV1 => ({
    reportId,
    tenantId,
    sha256: 'x',
    sizeBytes: 1,
    contentType: 'application/xml',
    filename: 'r.xml',
    raw: Buffer.from(xml(id)),
    receivedAt: 0,
  });

  /** Claims `identity`'s report id in a transaction that commits only after `during` has started and waited on it. */
  async function whileAnotherClaims(id: string, owner: string, during: () => Promise<unknown>): Promise<unknown> {
    let started!: () => void;
    const inserted = new Promise<void>((resolve) => (started = resolve));
    const other = store.transaction(async (tx) => {
      await tx.query(`INSERT INTO report_identities (tenant_id, identity, report_id) VALUES ($1, $2, $3)`, [
        tenantId,
        `aggregate/race.example/race/${id}`,
        owner,
      ]);
      started();
      // Long enough for the claim below to start and wait on this row's lock.
      await new Promise((resolve) => setTimeout(resolve, 300));
    });
    await inserted;
    const [result] = await Promise.all([during(), other]);
    return result;
  }

  it('a claim that waited on a concurrent one and lost finds the winner (handle and handleMany)', async () => {
    const stage = new ParsingStage({ store, publisher, now: () => 42 });
    const run = `${Date.now()}`;
    const one = received(crypto.randomUUID(), `one-${run}`);
    expect(await whileAnotherClaims(`one-${run}`, 'winner-1', () => stage.handle(one))).toMatchObject({ duplicates: 1 });
    expect(published.find((p) => p.reportId === one.reportId)?.duplicateOf).toBe('winner-1');

    const many = received(crypto.randomUUID(), `many-${run}`);
    expect(await whileAnotherClaims(`many-${run}`, 'winner-2', () => stage.handleMany([{ received: many }]))).toEqual([
      { documents: 1, records: 1, chunks: 1, duplicates: 1 },
    ]);
    expect(published.find((p) => p.reportId === many.reportId)?.duplicateOf).toBe('winner-2');
  });
});
