import type { AggregateRecord, ReportParsed } from '@dmarc/contracts';
import type { Queryable } from '@dmarc/store';

// Builders of parsed report chunks for tests of this library, of the services over it and of the
// pipeline end to end: one place that knows the shape of a chunk.

/** A record with defaults: one message from 192.0.2.1 as example.com, DKIM and SPF aligned, delivered. */
export function fixtureRecord(overrides: Partial<AggregateRecord> = {}): AggregateRecord {
  return {
    sourceIp: '192.0.2.1',
    count: 1,
    disposition: 'none',
    dkimAligned: true,
    spfAligned: true,
    headerFrom: 'example.com',
    envelopeFrom: null,
    envelopeTo: null,
    reasons: [],
    dkim: [],
    spf: [],
    ...overrides,
  };
}

export const FIXTURE_BEGIN = Date.UTC(2025, 2, 10); // 2025-03-10T00:00Z
export const FIXTURE_END = FIXTURE_BEGIN + 86_400_000 - 1000;

/** A one-chunk report of example.com for 2025-03-10 unless told otherwise. */
export function fixtureChunk(tenantId: string, reportId: string, records: AggregateRecord[], overrides: Partial<ReportParsed> = {}): ReportParsed {
  const base: ReportParsed = {
    reportId,
    tenantId,
    chunkIndex: 0,
    last: true,
    recordCount: records.length,
    duplicateOf: null,
    metadata: {
      orgName: 'google.com',
      email: null,
      externalReportId: `ext-${reportId}`,
      begin: FIXTURE_BEGIN,
      end: FIXTURE_END,
      version: '1.0',
      generator: null,
      policy: { domain: 'example.com', p: 'reject', sp: null, np: null, pct: 100, adkim: 'r', aspf: 'r', fo: null, testing: null, discoveryMethod: null },
      repairs: [],
    },
    records,
    parsedAt: FIXTURE_BEGIN + 2 * 86_400_000,
  };
  return { ...base, ...overrides };
}

/** Splits records into `n` chunks of one report, each repeating the metadata, the last one flagged. */
export function fixtureChunks(tenantId: string, reportId: string, records: AggregateRecord[], n: number): ReportParsed[] {
  const size = Math.ceil(records.length / n);
  return Array.from({ length: n }, (_, i) =>
    fixtureChunk(tenantId, reportId, records.slice(i * size, (i + 1) * size), {
      chunkIndex: i,
      last: i === n - 1,
      recordCount: i === n - 1 ? records.length : null,
    }),
  );
}

/** A raw report row of the tenant, status `parsed`, so a report id is a real one and its status can be followed. */
export async function fixtureRawReport(db: Queryable, tenantId: string): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO raw_reports (tenant_id, sha256, size_bytes, content_type, status)
     VALUES ($1, encode(sha256(gen_random_uuid()::text::bytea), 'hex'), 100, 'text/xml', 'parsed') RETURNING id`,
    [tenantId],
  );
  return rows[0].id;
}
