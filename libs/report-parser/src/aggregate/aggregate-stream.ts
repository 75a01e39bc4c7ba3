import { ReportError } from '../errors';
import type { ByteReader } from '../input/byte-reader';
import type { RepairLog } from '../repair-log';
import { XmlTextDecoder } from '../xml/xml-text-decoder';
import { XmlTokenizer } from '../xml/xml-tokenizer';
import { AggregateBuilder, type AggregateOutput } from './aggregate-builder';

export interface AggregateStreamLimits {
  readonly maxTextLength: number;
  readonly maxXmlDepth: number;
  readonly recordBatchSize: number;
}

/**
 * Reads one aggregate report from XML bytes: the header, then record batches as the bytes arrive, then the
 * summary. Memory holds one input chunk and one batch, whatever the report's size.
 */
export async function* readAggregate(
  reader: ByteReader,
  repairs: RepairLog,
  limits: AggregateStreamLimits,
): AsyncGenerator<AggregateOutput> {
  const decoder = new XmlTextDecoder(repairs);
  const builder = new AggregateBuilder(repairs, limits.recordBatchSize);
  const tokenizer = new XmlTokenizer(builder, { maxTextLength: limits.maxTextLength, maxDepth: limits.maxXmlDepth });
  builder.attach(tokenizer);
  let end: AggregateOutput | null = null;

  for (let chunk = await reader.read(); chunk; chunk = await reader.read()) {
    // Past </feedback> the rest is still read, not parsed: a compressed layer below checks its CRC at its end.
    if (builder.isFinished) continue;
    tokenizer.write(decoder.decode(chunk));
    for (const out of builder.take()) {
      if (out.type === 'end') end = out;
      else yield out;
    }
  }
  if (!builder.isFinished) {
    tokenizer.write(decoder.end());
    tokenizer.end();
    for (const out of builder.take()) {
      if (out.type === 'end') end = out;
      else yield out;
    }
  }
  if (end?.type !== 'end') {
    const root = builder.firstElement;
    throw new ReportError(
      'REPORT_XML_NOT_AGGREGATE',
      `no <feedback> element: this XML is not a DMARC aggregate report${root ? ` (its root is <${root}>)` : ''}`,
    );
  }
  // Repairs noted after </feedback> (bytes trailing a gzip stream) belong to the report too.
  yield { type: 'end', summary: { ...end.summary, repairs: repairs.list() } };
}
