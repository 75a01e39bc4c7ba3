import { isIPv6, SocketAddress } from 'node:net';
import type { AggregateRecord, ReportParsed, SourceNames } from '@dmarc/contracts';
import { AggregationError } from './errors';

/** What one (source IP, header-from) pair adds to its counters for the chunk's day. */
export interface CounterDelta {
  sourceIp: string;
  headerFrom: string;
  /** The source's PTR name and its base domain when the chunk was enriched (dmarc.reports.enriched), else null. */
  ptr: string | null;
  baseDomain: string | null;
  messages: number;
  none: number;
  quarantine: number;
  reject: number;
  pass: number;
  dkimAligned: number;
  spfAligned: number;
  dmarcPass: number;
}

/** The published policy as the reporter saw it. */
export interface PolicySeen {
  p: string | null;
  sp: string | null;
  np: string | null;
  pct: number | null;
  adkim: string | null;
  aspf: string | null;
  fo: string | null;
  testing: string | null;
}

/** Everything a chunk changes, computed in memory before any database work. */
export interface ChunkCounts {
  tenantId: string;
  reportId: string;
  chunkIndex: number;
  /** Known from the last chunk (its index + 1); null on the others. */
  chunkCount: number | null;
  recordCount: number | null;
  duplicateOf: string | null;
  domain: string;
  /** UTC day of the report's begin, YYYY-MM-DD. */
  day: string;
  orgName: string;
  externalReportId: string;
  begin: number;
  end: number;
  policy: PolicySeen;
  /** Records in this chunk. */
  records: number;
  /** Messages in this chunk (sum of the records' counts); counted only when not a duplicate. */
  messages: number;
  /** One delta per (source IP, header-from), sorted by that key; empty for a duplicate. */
  counters: CounterDelta[];
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DISPOSITIONS = new Set(['none', 'quarantine', 'reject', 'pass']);
// 1970 .. 9999: a begin outside this is a broken report, and a date column would refuse it anyway.
const MAX_TIME = Date.UTC(9999, 11, 31);

/**
 * Counts a chunk of a parsed aggregate report, or of an enriched one (whose `sources` name each source IP).
 * Pure: no clock, no database, so the numbers can be checked without PostgreSQL. Records sharing a
 * (source IP, header-from) pair are merged here, so the database sees one upsert row per pair however
 * many records the chunk has.
 */
export function countChunk(chunk: ReportParsed & { readonly sources?: readonly SourceNames[] }): ChunkCounts {
  const { metadata } = chunk;
  if (!UUID.test(chunk.tenantId)) invalid(`tenantId ${JSON.stringify(chunk.tenantId.slice(0, 64))} is not a UUID`, 'tenantId');
  if (chunk.reportId === '') invalid('reportId is empty', 'reportId');
  if (!Number.isInteger(chunk.chunkIndex) || chunk.chunkIndex < 0) invalid(`chunkIndex ${chunk.chunkIndex} is not a non-negative integer`, 'chunkIndex');
  for (const [field, value] of [['metadata.begin', metadata.begin], ['metadata.end', metadata.end]] as const) {
    if (!Number.isFinite(value) || value < 0 || value > MAX_TIME) invalid(`${field} ${value} is not a time between 1970 and 9999`, field);
  }
  const domain = normaliseDomain(metadata.policy.domain);
  if (domain === '') invalid('metadata.policy.domain is empty', 'metadata.policy.domain');

  const duplicate = chunk.duplicateOf !== null && chunk.duplicateOf !== undefined;
  // Keyed as the records spell the IP (the DNS service copies it from them).
  const names = chunk.sources && chunk.sources.length > 0 ? new Map(chunk.sources.map((s) => [s.ip, s])) : undefined;
  let messages = 0;
  const byKey = new Map<string, CounterDelta>();
  chunk.records.forEach((record, i) => {
    checkRecord(record, i);
    messages += record.count;
    if (duplicate) return;
    const sourceIp = normaliseIp(record.sourceIp);
    const headerFrom = record.headerFrom.trim().toLowerCase();
    // NUL cannot occur in either part, so the joined key is unambiguous.
    const key = `${sourceIp}\u0000${headerFrom}`;
    let delta = byKey.get(key);
    if (!delta) {
      const named = names?.get(record.sourceIp);
      delta = {
        sourceIp,
        headerFrom,
        ptr: named?.ptr ?? null,
        baseDomain: named?.baseDomain ?? null,
        messages: 0,
        none: 0,
        quarantine: 0,
        reject: 0,
        pass: 0,
        dkimAligned: 0,
        spfAligned: 0,
        dmarcPass: 0,
      };
      byKey.set(key, delta);
    }
    const n = record.count;
    delta.messages += n;
    delta[record.disposition as 'none' | 'quarantine' | 'reject' | 'pass'] += n;
    if (record.dkimAligned) delta.dkimAligned += n;
    if (record.spfAligned) delta.spfAligned += n;
    if (record.dkimAligned || record.spfAligned) delta.dmarcPass += n;
  });
  if (!Number.isSafeInteger(messages)) invalid(`the chunk's message count ${messages} is beyond 2^53`, 'records');

  // A fixed row order makes concurrent upserts of overlapping keys take their row locks in the same
  // order, so two consumers never deadlock on each other's chunks.
  const counters = [...byKey.values()].sort((a, b) => compare(a.sourceIp, b.sourceIp) || compare(a.headerFrom, b.headerFrom));
  const p = metadata.policy;
  return {
    tenantId: chunk.tenantId,
    reportId: chunk.reportId,
    chunkIndex: chunk.chunkIndex,
    chunkCount: chunk.last ? chunk.chunkIndex + 1 : null,
    recordCount: chunk.last && chunk.recordCount !== null && chunk.recordCount !== undefined ? chunk.recordCount : null,
    duplicateOf: duplicate ? chunk.duplicateOf! : null,
    domain,
    day: utcDay(metadata.begin),
    orgName: metadata.orgName,
    externalReportId: metadata.externalReportId,
    begin: metadata.begin,
    end: metadata.end,
    policy: {
      p: p.p ?? null,
      sp: p.sp ?? null,
      np: p.np ?? null,
      pct: p.pct ?? null,
      adkim: p.adkim ?? null,
      aspf: p.aspf ?? null,
      fo: p.fo ?? null,
      testing: p.testing ?? null,
    },
    records: chunk.records.length,
    messages,
    counters,
  };
}

/** The UTC calendar day of an epoch-millisecond time, YYYY-MM-DD. */
export function utcDay(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 10);
}

function checkRecord(record: AggregateRecord, i: number): void {
  if (!Number.isSafeInteger(record.count) || record.count < 0) invalid(`records[${i}].count ${record.count} is not a non-negative integer`, `records[${i}].count`);
  if (!DISPOSITIONS.has(record.disposition)) {
    invalid(`records[${i}].disposition ${JSON.stringify(record.disposition)} is not none, quarantine, reject or pass`, `records[${i}].disposition`);
  }
}

/** Domains as stored: lower-case, without a trailing dot. */
export function normaliseDomain(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '');
}

// One spelling per address: 2001:DB8:0::1 and 2001:db8::1 are the same source.
function normaliseIp(raw: string): string {
  const ip = raw.trim().toLowerCase();
  // Most are IPv4: no colon, no IPv6 (whose check is a long regular expression).
  if (!ip.includes(':') || !isIPv6(ip)) return ip;
  return new SocketAddress({ address: ip, family: 'ipv6' }).address;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function invalid(message: string, field: string): never {
  throw new AggregationError('AGGREGATION_INVALID_CHUNK', message, field);
}
