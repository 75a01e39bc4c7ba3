import type { AggregateRecordV1, DkimResultV1, OverrideReasonV1, SpfResultV1 } from '@dmarc/contracts';
import type { AggregateRecord } from '@dmarc/report-parser';

/**
 * A parser record in the topic's shape (alignment as booleans, absent lists as empty). Its lists are the
 * parser's own, not copies: the encoder writes only the schema's fields (a DKIM or SPF result's humanResult
 * is not one), and nothing else reads them. Copying them was a sixth of the objects a record cost.
 */
export function toTopicRecord(r: AggregateRecord): AggregateRecordV1 {
  return {
    sourceIp: r.sourceIp,
    count: r.count,
    disposition: r.disposition,
    dkimAligned: r.dkimAligned === 'pass',
    spfAligned: r.spfAligned === 'pass',
    headerFrom: r.headerFrom,
    envelopeFrom: r.envelopeFrom,
    envelopeTo: r.envelopeTo,
    reasons: shared<OverrideReasonV1>(r.reasons),
    dkim: shared<DkimResultV1>(r.dkim),
    spf: shared<SpfResultV1>(r.spf),
  };
}

/** A parser list where the topic's value wants a mutable one: the encoder only reads it. */
function shared<T>(list: readonly T[]): T[] {
  return list as T[];
}

/**
 * What one record may cost on the wire, counted cheaply: its strings' UTF-16 lengths plus a fixed allowance
 * for its numbers, flags and list headers. Avro writes strings as UTF-8, at most 3 bytes per UTF-16 unit.
 */
export function recordChars(r: AggregateRecordV1): number {
  let n = RECORD_FIXED_CHARS + r.sourceIp.length + r.disposition.length + (r.headerFrom?.length ?? 0) + (r.envelopeFrom?.length ?? 0) + (r.envelopeTo?.length ?? 0);
  for (const x of r.reasons) n += 4 + x.type.length + (x.comment?.length ?? 0);
  for (const d of r.dkim) n += 4 + d.domain.length + (d.selector?.length ?? 0) + d.result.length;
  for (const x of r.spf) n += 4 + x.domain.length + (x.scope?.length ?? 0) + x.result.length;
  return n;
}

const RECORD_FIXED_CHARS = 24;
/**
 * A chunk's strings stop at this many UTF-16 units: 3 UTF-8 bytes each at worst is 960,000 bytes, under the
 * broker's 1 MiB message limit with room for the chunk's header fields and the record batch around it. Typical
 * ASCII records (~100 characters) reach it at about 3,000; the record count is the limit that usually applies.
 */
export const MAX_CHUNK_CHARS = 320_000;

/**
 * Cuts a report's records into chunks of at most `size` records and MAX_CHUNK_CHARS characters, so every
 * chunk travels under the broker's message size limit whatever its records hold. Boundaries depend only on the
 * records and their order, so a redelivered report is cut the same way and consumers stay idempotent on
 * (reportId, chunkIndex). One chunk is held back so the final one can be marked `last` when the report ends.
 */
export class RecordChunker {
  private pending: AggregateRecordV1[] = [];
  private pendingChars = 0;
  private nextIndex = 0;

  constructor(
    private readonly size: number,
    private readonly maxChars = MAX_CHUNK_CHARS,
  ) {}

  /** Full chunks ready to go (never the last one, which waits for `finish`). */
  add(records: readonly AggregateRecord[]): Array<{ index: number; records: AggregateRecordV1[] }> {
    const ready: Array<{ index: number; records: AggregateRecordV1[] }> = [];
    for (const r of records) {
      const record = toTopicRecord(r);
      const chars = recordChars(record);
      if (this.pending.length === this.size || (this.pending.length > 0 && this.pendingChars + chars > this.maxChars)) {
        ready.push({ index: this.nextIndex++, records: this.pending });
        this.pending = [];
        this.pendingChars = 0;
      }
      this.pending.push(record);
      this.pendingChars += chars;
    }
    return ready;
  }

  /** The last chunk (possibly empty, for a report without records). */
  finish(): { index: number; records: AggregateRecordV1[] } {
    const last = { index: this.nextIndex++, records: this.pending };
    this.pending = [];
    this.pendingChars = 0;
    return last;
  }
}
