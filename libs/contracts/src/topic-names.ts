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
