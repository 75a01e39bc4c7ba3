import type { Queryable } from '@dmarc/store';
import { type ChunkCounts, type CounterDelta, UUID } from './chunk-counts';
import { mergeCounters } from './counter-merge';
import { AggregationError } from './errors';

/** The consumer name in processed_messages: the ledger of chunks already applied. */
export const AGGREGATION_CONSUMER = 'aggregation';

/** Where the chunk was read from, kept in the ledger for tracing a count back to a message. */
export interface ChunkSource {
  topic: string;
  partition: number;
  offset: string;
}

export interface ApplyResult {
  /** False when the ledger already had this chunk: a redelivery, nothing was written. */
  applied: boolean;
  /** Every chunk of the report has now been applied (also true on a redelivery of a complete report). */
  reportComplete: boolean;
  /** Counter rows inserted or updated. */
  counterRows: number;
}

/** The ledger key of a chunk: the same on every delivery of it, whatever topic, partition or offset. */
export function chunkMessageId(reportId: string, chunkIndex: number): string {
  return `${reportId}:${chunkIndex}`;
}

/** One chunk to apply, and where it was read from. */
export interface ChunkToApply {
  counts: ChunkCounts;
  source?: ChunkSource;
}

// What the statement knows of each chunk: one column of its `item` rows per entry, in parameter order
// from $2 ($1 is the ledger's consumer name).
const ITEM_COLUMNS: ReadonlyArray<readonly [name: string, type: string, value: (c: ChunkCounts, s: ChunkSource | undefined) => unknown]> = [
  ['message_id', 'text', (c) => chunkMessageId(c.reportId, c.chunkIndex)],
  ['topic', 'text', (_, s) => s?.topic ?? null],
  ['kafka_partition', 'integer', (_, s) => s?.partition ?? null],
  ['kafka_offset', 'bigint', (_, s) => s?.offset ?? null],
  ['tenant_id', 'uuid', (c) => c.tenantId],
  ['domain', 'text', (c) => c.domain],
  ['day', 'date', (c) => c.day],
  // Every chunk repeats the policy: writing it from chunk 0 alone is enough, and a duplicate report
  // is not evidence of anything new.
  ['write_policy', 'boolean', (c) => c.chunkIndex === 0 && c.duplicateOf === null],
  ['p', 'text', (c) => c.policy.p],
  ['sp', 'text', (c) => c.policy.sp],
  ['np', 'text', (c) => c.policy.np],
  ['pct', 'integer', (c) => c.policy.pct],
  ['adkim', 'text', (c) => c.policy.adkim],
  ['aspf', 'text', (c) => c.policy.aspf],
  ['fo', 'text', (c) => c.policy.fo],
  ['testing', 'text', (c) => c.policy.testing],
  ['report_id', 'text', (c) => c.reportId],
  ['org_name', 'text', (c) => c.orgName],
  ['external_report_id', 'text', (c) => c.externalReportId],
  ['begin_ms', 'double precision', (c) => c.begin],
  ['end_ms', 'double precision', (c) => c.end],
  ['duplicate_of', 'text', (c) => c.duplicateOf],
  ['chunk_count', 'integer', (c) => c.chunkCount],
  ['records', 'bigint', (c) => c.records],
  ['record_count', 'bigint', (c) => c.recordCount],
  ['messages', 'bigint', (c) => c.messages],
  ['raw_id', 'uuid', (c) => (UUID.test(c.reportId) ? c.reportId : null)],
];
const COUNTER_FIELDS = ['messages', 'none', 'quarantine', 'reject', 'pass', 'dkimAligned', 'spfAligned', 'dmarcPass'] as const;
// Their names in the statement, in the same order.
const COUNTER_COLUMNS = ['messages', 'n', 'q', 'r', 'p', 'dkim', 'spf', 'dmarc'];
const COUNTERS_AT = ITEM_COLUMNS.length + 2;
const param = (i: number, type: string) => `$${i + 2}::${type}`;

// One chunk is read from scalars, cheaper to send and to parse than 27 one-element arrays; a batch from
// parallel arrays, one element per chunk. Both then go through the same statement. `merged` is a batch
// whose counters were already summed per key across its chunks in memory (a write-behind flush).
const BATCH_ROWS = `SELECT * FROM unnest(${ITEM_COLUMNS.map(([, type], i) => param(i, `${type}[]`)).join(', ')}) WITH ORDINALITY
    AS i(${ITEM_COLUMNS.map(([name]) => name).join(', ')}, ord)`;
const ITEM_ROWS = {
  single: `SELECT ${ITEM_COLUMNS.map(([name, type], i) => `${param(i, type)} AS ${name}`).join(', ')}, 1::bigint AS ord`,
  batch: BATCH_ROWS,
  merged: BATCH_ROWS,
};
type Shape = keyof typeof ITEM_ROWS;

// One statement, so one transaction and one round trip, for a whole batch of chunks. The ledger rows go
// in first; every other write reads the chunks the ledger took (`fresh`), so a chunk already in the
// ledger (a redelivery after a crash between commit and offset commit) adds nothing. A concurrent second
// delivery waits on the ledger row's unique index and then finds it taken.
//
// An upsert may not touch one row twice in a statement, so counters are summed per key across the
// batch's new chunks first, and each report's chunks become one bookkeeping row. Every insert runs in
// the order of its conflict key: concurrent batches over the same counter, policy or report rows take
// their locks in the same order and so never deadlock on each other.
//
// Counters come as parallel arrays, one element per (chunk, source IP, header-from), already merged per
// chunk in memory, naming their chunk by its position in the batch.
//
// `merged` counters are one element per counter key for the whole batch, each naming one chunk of its tenant,
// domain and day: exact only when every chunk of the batch is new. So when the ledger already holds one of
// them (a redelivery after a crash) the statement writes nothing and says so (`all_new` false), and the caller
// applies the batch chunk by chunk, where the ledger decides per chunk. A chunk the ledger took between that
// check and the insert (a concurrent delivery of it) makes the statement fail instead (a boolean cast of a
// sentence, evaluated only then), which rolls it back whole: failing costs a round trip and more, so it is
// kept for that race.
const COUNTER_ROWS = `FROM unnest($${COUNTERS_AT}::integer[], $${COUNTERS_AT + 1}::text[], $${COUNTERS_AT + 2}::text[],
                ${COUNTER_FIELDS.map((_, i) => `$${COUNTERS_AT + 3 + i}::bigint[]`).join(', ')},
                $${COUNTERS_AT + 3 + COUNTER_FIELDS.length}::text[], $${COUNTERS_AT + 4 + COUNTER_FIELDS.length}::text[])
         AS k(item, source_ip, header_from, ${COUNTER_COLUMNS.join(', ')}, ptr, base_domain)
    JOIN fresh f ON f.ord = k.item`;

const applySql = (shape: Shape) => `
WITH item AS (
  ${ITEM_ROWS[shape]}
),
${
  shape === 'merged'
    ? `precheck AS (
  SELECT NOT EXISTS (SELECT 1 FROM processed_messages p WHERE p.consumer = $1::text AND p.message_id IN (SELECT message_id FROM item)) AS all_new
),`
    : ''
}
ledger AS (
  INSERT INTO processed_messages (consumer, message_id, topic, kafka_partition, kafka_offset)
  SELECT $1::text, message_id, topic, kafka_partition, kafka_offset FROM item
   ${shape === 'merged' ? 'WHERE (SELECT all_new FROM precheck)' : ''}
   ORDER BY message_id
  ON CONFLICT (consumer, message_id) DO NOTHING
  RETURNING message_id
),
fresh AS (
  SELECT item.* FROM item JOIN ledger USING (message_id)
),
counters AS (
  INSERT INTO aggregate_counters AS c (
    tenant_id, domain, day, source_ip, header_from, messages, disposition_none, disposition_quarantine,
    disposition_reject, disposition_pass, dkim_aligned, spf_aligned, dmarc_pass, source_ptr, source_base_domain)
  SELECT f.tenant_id, f.domain, f.day, k.source_ip, k.header_from,
         ${COUNTER_COLUMNS.map((c) => (shape === 'batch' ? `sum(k.${c})::bigint` : `k.${c}`)).join(', ')},
         ${shape === 'batch' ? 'max(k.ptr), max(k.base_domain)' : 'k.ptr, k.base_domain'}
    ${COUNTER_ROWS}
   -- One chunk's counters are already one row per key (merged in memory), and so are a merged batch's; a batch's are summed here.
   ${shape === 'batch' ? 'GROUP BY f.tenant_id, f.domain, f.day, k.source_ip, k.header_from' : ''}
   ORDER BY f.tenant_id, f.domain, f.day, k.source_ip, k.header_from
  ON CONFLICT (tenant_id, domain, day, source_ip, header_from) DO UPDATE SET
    messages = c.messages + excluded.messages,
    disposition_none = c.disposition_none + excluded.disposition_none,
    disposition_quarantine = c.disposition_quarantine + excluded.disposition_quarantine,
    disposition_reject = c.disposition_reject + excluded.disposition_reject,
    disposition_pass = c.disposition_pass + excluded.disposition_pass,
    dkim_aligned = c.dkim_aligned + excluded.dkim_aligned,
    spf_aligned = c.spf_aligned + excluded.spf_aligned,
    dmarc_pass = c.dmarc_pass + excluded.dmarc_pass,
    source_ptr = coalesce(excluded.source_ptr, c.source_ptr),
    source_base_domain = coalesce(excluded.source_base_domain, c.source_base_domain),
    updated_at = now()
),
domain_days AS (
  -- Each domain's totals per day beside its counters, in the same statement: what the threat rules read for a
  -- day or a baseline of days without summing every source's counters each time.
  INSERT INTO aggregate_domain_days AS dd (tenant_id, domain, day, messages, failing)
  SELECT f.tenant_id, f.domain, f.day, sum(k.messages)::bigint, sum(k.messages - k.dmarc)::bigint
    ${COUNTER_ROWS}
   GROUP BY f.tenant_id, f.domain, f.day
   ORDER BY f.tenant_id, f.domain, f.day
  ON CONFLICT (tenant_id, domain, day) DO UPDATE SET
    messages = dd.messages + excluded.messages,
    failing = dd.failing + excluded.failing
),
policy AS (
  -- Of the batch's reports of one domain and day, the one the table would keep anyway: period ending last,
  -- ties to the greater report id.
  INSERT INTO aggregate_policies AS ap (tenant_id, domain, day, p, sp, np, pct, adkim, aspf, fo, testing, observed_at, report_id)
  SELECT DISTINCT ON (tenant_id, domain, day)
         tenant_id, domain, day, p, sp, np, pct, adkim, aspf, fo, testing, to_timestamp(end_ms / 1000), report_id
    FROM fresh WHERE write_policy
   ORDER BY tenant_id, domain, day, to_timestamp(end_ms / 1000) DESC, report_id DESC
  ON CONFLICT (tenant_id, domain, day) DO UPDATE SET
    p = excluded.p, sp = excluded.sp, np = excluded.np, pct = excluded.pct, adkim = excluded.adkim,
    aspf = excluded.aspf, fo = excluded.fo, testing = excluded.testing,
    observed_at = excluded.observed_at, report_id = excluded.report_id
    WHERE (excluded.observed_at, excluded.report_id) > (ap.observed_at, ap.report_id)
),
report_delta AS (
  -- One row per report: its new chunks summed, the rest as the first of them delivered says.
  SELECT DISTINCT ON (tenant_id, report_id)
         tenant_id, report_id, domain, day, org_name, external_report_id, begin_ms, end_ms, duplicate_of, raw_id,
         count(*) OVER w AS chunks, max(chunk_count) OVER w AS chunk_count, sum(records) OVER w AS records,
         max(record_count) OVER w AS record_count, sum(messages) OVER w AS messages
    FROM fresh
  WINDOW w AS (PARTITION BY tenant_id, report_id)
   ORDER BY tenant_id, report_id, ord
),
report AS (
  INSERT INTO aggregate_reports AS r (
    tenant_id, report_id, domain, day, org_name, external_report_id, begin_at, end_at, duplicate_of,
    chunks_seen, chunk_count, records_seen, record_count, messages, completed_at)
  SELECT tenant_id, report_id, domain, day, org_name, external_report_id, to_timestamp(begin_ms / 1000), to_timestamp(end_ms / 1000),
         duplicate_of, chunks, chunk_count, records, record_count, messages, CASE WHEN chunks = chunk_count THEN now() END
    FROM report_delta ORDER BY tenant_id, report_id
  ON CONFLICT (tenant_id, report_id) DO UPDATE SET
    chunks_seen = r.chunks_seen + excluded.chunks_seen,
    chunk_count = coalesce(excluded.chunk_count, r.chunk_count),
    records_seen = r.records_seen + excluded.records_seen,
    record_count = coalesce(excluded.record_count, r.record_count),
    messages = r.messages + excluded.messages,
    completed_at = CASE WHEN r.chunks_seen + excluded.chunks_seen = coalesce(excluded.chunk_count, r.chunk_count) THEN now() ELSE r.completed_at END
  RETURNING tenant_id, report_id, completed_at IS NOT NULL AS complete
),
raw AS (
  -- The pipeline's status of the raw report; only forward, never over a failure.
  UPDATE raw_reports SET status = 'aggregated'
   WHERE id = ANY (ARRAY(SELECT d.raw_id FROM report JOIN report_delta d USING (tenant_id, report_id) WHERE report.complete))
     AND (id, tenant_id) IN (SELECT d.raw_id, d.tenant_id FROM report_delta d)
     AND status IN ('received', 'parsed', 'enriched')
)
SELECT ledger.message_id IS NOT NULL AS applied,
       coalesce(report.complete,
                (SELECT completed_at IS NOT NULL FROM aggregate_reports a WHERE a.tenant_id = item.tenant_id AND a.report_id = item.report_id)) AS complete
       ${
         shape === 'merged'
           ? `, CASE WHEN NOT (SELECT all_new FROM precheck) THEN false
                 WHEN (SELECT count(*) FROM ledger) = (SELECT count(*) FROM item) THEN true
                 ELSE ('merged batch refused: ' || (SELECT count(*) FROM item) - (SELECT count(*) FROM ledger) || ' chunks taken by a concurrent delivery')::boolean END AS all_new`
           : ''
       }
  FROM item
  LEFT JOIN ledger USING (message_id)
  LEFT JOIN report USING (tenant_id, report_id)
 ORDER BY item.ord`;
const APPLY_SQL = { single: applySql('single'), batch: applySql('batch'), merged: applySql('merged') };

/**
 * Applies a counted chunk exactly once: the counters, the day's policy, the report's bookkeeping,
 * the raw report's status when the report is complete, and the ledger row, in one statement (one
 * transaction). A chunk already in the ledger changes nothing and reports `applied: false`.
 */
export async function applyChunk(db: Queryable, counts: ChunkCounts, source?: ChunkSource): Promise<ApplyResult> {
  return (await applyChunks(db, [{ counts, source }]))[0];
}

/**
 * Applies a batch of counted chunks, each exactly once, in one statement (one transaction, one round
 * trip): as if applied one by one in order, except that the whole batch commits or nothing does. One
 * result per item, in order. A chunk given twice is applied once; the second reports `applied: false`.
 */
export async function applyChunks(db: Queryable, items: ReadonlyArray<ChunkToApply>): Promise<ApplyResult[]> {
  return (await apply(db, items, false))!;
}

/**
 * The same effect as `applyChunks`, with the counters summed per key across the chunks in memory first: a
 * write-behind flush of many small reports of the same sources sends and upserts each counter row once. When
 * a chunk of the batch is already in the ledger (a redelivery after a crash) the merged statement refuses
 * the batch as a whole and it is applied by `applyChunks`, which skips exactly the chunks already applied.
 */
export async function applyChunksMerged(db: Queryable, items: ReadonlyArray<ChunkToApply>): Promise<ApplyResult[]> {
  let merged: ApplyResult[] | undefined;
  try {
    merged = await applyChunksMergedIfNew(db, items);
  } catch {
    // Whatever failed, nothing of the statement was written; the exact path fails again with the real cause
    // if it was not the race with a concurrent delivery.
  }
  return merged ?? (await apply(db, items, false))!;
}

/**
 * The merged statement alone: undefined when the ledger already holds a chunk of the batch (nothing written; apply
 * it with `applyChunks`), and an error when a concurrent delivery took one meanwhile. For a caller inside its own
 * transaction, which that error aborts: it runs the transaction again with `applyChunks`.
 */
export function applyChunksMergedIfNew(db: Queryable, items: ReadonlyArray<ChunkToApply>): Promise<ApplyResult[] | undefined> {
  return apply(db, items, true);
}

/** Undefined when a merged batch was refused (a chunk already in the ledger): nothing was written. */
async function apply(db: Queryable, items: ReadonlyArray<ChunkToApply>, merge: boolean): Promise<ApplyResult[] | undefined> {
  if (items.length === 0) return [];
  // The ledger takes a chunk once per statement: a second copy in the batch would read as new twice.
  const firstOf = new Map<string, number>();
  const unique: ChunkToApply[] = [];
  const slot = items.map((item) => {
    const key = chunkMessageId(item.counts.reportId, item.counts.chunkIndex);
    let at = firstOf.get(key);
    if (at === undefined) {
      at = unique.push(item) - 1;
      firstOf.set(key, at);
    }
    return at;
  });
  const shape: Shape = unique.length === 1 ? 'single' : merge ? 'merged' : 'batch';
  const { rows } = await db.query<{ applied: boolean; complete: boolean | null; all_new?: boolean }>(APPLY_SQL[shape], parameters(unique, shape), {
    // Parsed and planned once per connection: most chunks are small, where planning is a good part of the cost.
    name: `aggregation-apply-chunks-${shape}`,
  });
  if (shape === 'merged' && rows[0]?.all_new === false) return undefined;
  const results: ApplyResult[] = [];
  const seen = new Set<number>();
  for (let i = 0; i < items.length; i++) {
    const { counts } = items[i];
    const row = rows[slot[i]];
    const copy = seen.has(slot[i]);
    seen.add(slot[i]);
    const applied = row.applied && !copy;
    // A copy from another tenant must not pass for a redelivery: the report row found is not its own.
    const complete = copy && unique[slot[i]].counts.tenantId !== counts.tenantId ? null : row.complete;
    if (!applied && complete === null && !(await reportKnown(db, counts))) {
      throw new AggregationError(
        'AGGREGATION_REPORT_ID_COLLISION',
        `chunk ${chunkMessageId(counts.reportId, counts.chunkIndex)} is in the ledger but report ${counts.reportId} is not tenant ${counts.tenantId}'s: report ids must be unique across tenants`,
        'reportId',
      );
    }
    // An upsert returns one row per input row, so a chunk touches exactly its own delta rows.
    results.push({ applied, reportComplete: complete ?? false, counterRows: applied ? counts.counters.length : 0 });
  }
  return results;
}

function parameters(items: ReadonlyArray<ChunkToApply>, shape: Shape): unknown[] {
  const counters: ReadonlyArray<{ item: number; counters: readonly CounterDelta[] }> =
    shape === 'merged' ? mergeCounters(items.map(({ counts }) => counts)) : items.map(({ counts }, item) => ({ item, counters: counts.counters }));
  const size = counters.reduce((s, c) => s + c.counters.length, 0);
  const at = new Array<number>(size);
  const sourceIp = new Array<string>(size);
  const headerFrom = new Array<string>(size);
  const numbers = COUNTER_FIELDS.map(() => new Array<number>(size));
  const ptr = new Array<string | null>(size);
  const baseDomain = new Array<string | null>(size);
  let named = false;
  let k = 0;
  counters.forEach(({ item, counters: deltas }) => {
    for (const d of deltas) {
      at[k] = item + 1;
      sourceIp[k] = d.sourceIp;
      headerFrom[k] = d.headerFrom;
      ptr[k] = d.ptr;
      baseDomain[k] = d.baseDomain;
      if (d.ptr !== null || d.baseDomain !== null) named = true;
      for (let n = 0; n < COUNTER_FIELDS.length; n++) numbers[n][k] = d[COUNTER_FIELDS[n]];
      k++;
    }
  });
  const columns = ITEM_COLUMNS.map(([, , value]) =>
    shape === 'single' ? value(items[0].counts, items[0].source) : items.map(({ counts, source }) => value(counts, source)),
  );
  // Chunks from dmarc.reports.parsed name no source: NULL arrays, which unnest reads as all-null columns.
  const names = named ? [nullableTexts(ptr), nullableTexts(baseDomain)] : [null, null];
  return [AGGREGATION_CONSUMER, ...columns, integers(at), texts(sourceIp), texts(headerFrom), ...numbers.map(integers), ...names];
}

// The counter arrays as PostgreSQL array literals, which the statement's casts read as arrays. node-postgres
// would build the same text, but element by element: over 100,000 elements it took three times as long as
// the same elements in arrays of 2000, and a batch of a huge report's chunks has 200,000.
function integers(values: number[]): string {
  return `{${values.join(',')}}`;
}

function texts(values: string[]): string {
  // Every element quoted: inside quotes only a backslash and a double quote need escaping.
  return `{${values.map(quoted).join(',')}}`;
}

function nullableTexts(values: Array<string | null>): string {
  return `{${values.map((v) => (v === null ? 'NULL' : quoted(v))).join(',')}}`;
}

const NEEDS_ESCAPE = /[\\"]/;

function quoted(value: string): string {
  // Most values (addresses, domains) have nothing to escape: tested without building a copy.
  return NEEDS_ESCAPE.test(value) ? `"${value.replace(/[\\"]/g, '\\$&')}"` : `"${value}"`;
}

// The ledger is keyed by report id and chunk alone. Report ids are derived from the tenant and the
// bytes, so a ledger hit without this tenant's report row means another tenant used the same id:
// refused loudly (to the DLQ) rather than skipped as a redelivery. Asked again in a new statement
// because the first one's snapshot may predate a concurrent delivery of the same chunk.
async function reportKnown(db: Queryable, counts: ChunkCounts): Promise<boolean> {
  const { rows } = await db.query('SELECT 1 FROM aggregate_reports WHERE tenant_id = $1::uuid AND report_id = $2', [counts.tenantId, counts.reportId]);
  return rows.length > 0;
}
