/**
 * Every topic of the platform, named once: each is a folder of `schemas/` (a test checks it), and the libraries
 * and services that read or write one take its name from here.
 */
export const TOPICS = {
  inbound: 'dmarc.reports.inbound',
  received: 'dmarc.reports.received',
  parsed: 'dmarc.reports.parsed',
  forensicParsed: 'dmarc.reports.forensic.parsed',
  tlsParsed: 'dmarc.reports.tls.parsed',
  enriched: 'dmarc.reports.enriched',
  aggregatesUpdated: 'dmarc.aggregates.updated',
  dnsChanges: 'dmarc.dns.changes',
  configChanges: 'dmarc.config.changes',
  alerts: 'dmarc.alerts',
} as const;

/** The subject whose schema every dead-letter topic uses. */
export const DLQ_SUBJECT = 'dmarc.reports.dlq';

const DLQ_SUFFIX = '.dlq';

/** Where a consumer of `topic` sends what it cannot process: `<topic>.dlq`, one DLQ schema for all. */
export function dlqTopicOf(topic: string): string {
  return `${topic}${DLQ_SUFFIX}`;
}

export function isDlqTopic(topic: string): boolean {
  return topic.endsWith(DLQ_SUFFIX);
}
