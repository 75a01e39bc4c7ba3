import type { AggregateRecordV1 } from '@dmarc/contracts';
import type { AggregateRecord } from '@dmarc/report-parser';

/** A parser record in the topic's shape (alignment as booleans, absent lists as empty). */
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
    reasons: r.reasons.map((x) => ({ type: x.type, comment: x.comment })),
    dkim: r.dkim.map((d) => ({ domain: d.domain, selector: d.selector, result: d.result })),
    spf: r.spf.map((s) => ({ domain: s.domain, scope: s.scope, result: s.result })),
  };
}

/**
 * Cuts a report's records into chunks of a fixed size. Boundaries depend only on the record order, so a
 * redelivered report is cut the same way and consumers stay idempotent on (reportId, chunkIndex). One
 * chunk is held back so the final one can be marked `last` when the report ends.
 */
export class RecordChunker {
  private pending: AggregateRecordV1[] = [];
  private nextIndex = 0;

  constructor(private readonly size: number) {}

  /** Full chunks ready to go (never the last one, which waits for `finish`). */
  add(records: readonly AggregateRecord[]): Array<{ index: number; records: AggregateRecordV1[] }> {
    const ready: Array<{ index: number; records: AggregateRecordV1[] }> = [];
    for (const r of records) {
      if (this.pending.length === this.size) {
        ready.push({ index: this.nextIndex++, records: this.pending });
        this.pending = [];
      }
      this.pending.push(toTopicRecord(r));
    }
    return ready;
  }

  /** The last chunk (possibly empty, for a report without records). */
  finish(): { index: number; records: AggregateRecordV1[] } {
    const last = { index: this.nextIndex++, records: this.pending };
    this.pending = [];
    return last;
  }
}
