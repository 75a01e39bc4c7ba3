import type { MessageTrace, OutgoingMessage, Publisher } from '@dmarc/bus';
import { type AggregateMetadataV1, type AggregateRecordV1, type TopicInput, TOPICS } from '@dmarc/contracts';
import type { AggregateHeader, ForensicReport, Report, TlsReport } from '@dmarc/report-parser';

export const PARSED_TOPIC = TOPICS.parsed;
export const FORENSIC_TOPIC = TOPICS.forensicParsed;
export const TLS_TOPIC = TOPICS.tlsParsed;

/** Failure and TLS reports: small, published whole. */
export type WholeReport = Exclude<Report, { kind: 'aggregate' }>;

export interface Chunk {
  index: number;
  records: AggregateRecordV1[];
}

/** What every message of one document carries: its id, its tenant, what its identity claim found. */
export interface DocumentRef {
  docId: string;
  tenantId: string;
  duplicateOf: string | null;
  /** The received message's trace, when published outside its handler (a batch). */
  trace?: MessageTrace;
}

export type Outgoing =
  | { topic: typeof PARSED_TOPIC; message: OutgoingMessage<TopicInput<typeof PARSED_TOPIC>> }
  | { topic: typeof FORENSIC_TOPIC; message: OutgoingMessage<TopicInput<typeof FORENSIC_TOPIC>> }
  | { topic: typeof TLS_TOPIC; message: OutgoingMessage<TopicInput<typeof TLS_TOPIC>> };

const ms = (iso: string) => Date.parse(iso);

function envelope(doc: DocumentRef, key = doc.docId) {
  return doc.trace === undefined ? { key, tenantId: doc.tenantId } : { key, tenantId: doc.tenantId, trace: doc.trace };
}

/**
 * The key of a report's chunk: its own, so a huge report's chunks spread over every partition and are
 * aggregated in parallel. Nothing downstream needs them in order: each chunk is counted once by its ledger
 * row, counters add up in any order, and a report completes when its chunk count is reached, whichever
 * chunk comes last.
 */
export function chunkKey(docId: string, chunkIndex: number): string {
  return chunkIndex === 0 ? docId : `${docId}:${chunkIndex}`;
}

export function chunkMessage(
  doc: DocumentRef,
  metadata: AggregateMetadataV1,
  chunk: Chunk,
  last: boolean,
  recordCount: number | null,
  parsedAt: number,
): OutgoingMessage<TopicInput<typeof PARSED_TOPIC>> {
  const { docId: reportId, tenantId, duplicateOf } = doc;
  return {
    ...envelope(doc, chunkKey(doc.docId, chunk.index)),
    value: { reportId, tenantId, chunkIndex: chunk.index, last, recordCount, duplicateOf, metadata, records: chunk.records, parsedAt },
  };
}

export function wholeMessage(doc: DocumentRef, report: WholeReport, parsedAt: number): Outgoing {
  const value = { reportId: doc.docId, tenantId: doc.tenantId, duplicateOf: doc.duplicateOf, report: JSON.stringify(report), parsedAt };
  if (report.kind === 'forensic') return { topic: FORENSIC_TOPIC, message: { ...envelope(doc), value: { ...value, ...forensicFields(report) } } };
  return { topic: TLS_TOPIC, message: { ...envelope(doc), value: { ...value, ...tlsFields(report) } } };
}

/**
 * Publishes with one call per topic (the producer sends calls of one tick together anyway) and waits for every
 * one, so nothing is left travelling unobserved; the first failure is thrown.
 */
export async function publishAll(publisher: Publisher, outgoing: readonly Outgoing[]): Promise<void> {
  const parsed: Array<OutgoingMessage<TopicInput<typeof PARSED_TOPIC>>> = [];
  const forensic: Array<OutgoingMessage<TopicInput<typeof FORENSIC_TOPIC>>> = [];
  const tls: Array<OutgoingMessage<TopicInput<typeof TLS_TOPIC>>> = [];
  for (const out of outgoing) {
    if (out.topic === PARSED_TOPIC) parsed.push(out.message);
    else if (out.topic === FORENSIC_TOPIC) forensic.push(out.message);
    else tls.push(out.message);
  }
  const sends: Array<Promise<void>> = [];
  if (parsed.length > 0) sends.push(publisher.publish(PARSED_TOPIC, parsed));
  if (forensic.length > 0) sends.push(publisher.publish(FORENSIC_TOPIC, forensic));
  if (tls.length > 0) sends.push(publisher.publish(TLS_TOPIC, tls));
  await firstFailure(sends);
}

/** Waits for all; throws the first rejection in order, after every one has settled. */
export async function firstFailure(sends: ReadonlyArray<Promise<void>>): Promise<void> {
  for (const outcome of await Promise.allSettled(sends)) if (outcome.status === 'rejected') throw outcome.reason;
}

export function toMetadata(h: AggregateHeader, repairs: string[]): AggregateMetadataV1 {
  return {
    orgName: h.orgName,
    email: h.email,
    externalReportId: h.reportId,
    begin: ms(h.dateRange.begin),
    end: ms(h.dateRange.end),
    version: h.version,
    generator: h.generator,
    policy: { ...h.policy, domain: h.policy.domain.toLowerCase() },
    repairs,
  };
}

function forensicFields(report: ForensicReport) {
  const arrival = report.arrivalDate ? ms(report.arrivalDate) : NaN;
  return {
    format: report.format,
    feedbackType: report.feedbackType,
    reportedDomain: report.reportedDomain,
    sourceIp: report.sourceIp,
    arrivalDate: Number.isFinite(arrival) ? arrival : null,
    originalMailFrom: report.originalMailFrom,
    authFailure: [...report.authFailure],
    identityAlignment: report.identityAlignment ? [...report.identityAlignment] : null,
    deliveryResult: report.deliveryResult,
    subject: report.originalHeaders.subject,
  };
}

function tlsFields(report: TlsReport) {
  return {
    organizationName: report.organizationName,
    externalReportId: report.reportId,
    begin: ms(report.dateRange.begin),
    end: ms(report.dateRange.end),
    policies: report.policies.map((p) => ({
      policyType: p.policyType,
      policyDomain: p.policyDomain,
      successfulSessions: p.totalSuccessfulSessionCount,
      failedSessions: p.totalFailureSessionCount,
    })),
  };
}
