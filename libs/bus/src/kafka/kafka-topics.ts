import { dlqTopicOf } from '@dmarc/contracts';
import type { Admin, ITopicConfig } from 'kafkajs';
import type { TopicSpec } from '../bus';

const DEFAULT_PARTITIONS = 3;

/** The topics to create for `specs`: each topic, and its `<topic>.dlq` with the same partitions unless `dlq: false`. */
export function topicConfigs(specs: readonly TopicSpec[]): ITopicConfig[] {
  const configs = new Map<string, ITopicConfig>();
  for (const spec of specs) {
    const base = { numPartitions: spec.partitions ?? DEFAULT_PARTITIONS, replicationFactor: spec.replicationFactor ?? -1 };
    configs.set(spec.topic, { topic: spec.topic, ...base });
    if (spec.dlq !== false) configs.set(dlqTopicOf(spec.topic), { topic: dlqTopicOf(spec.topic), ...base });
  }
  return [...configs.values()];
}

/**
 * Creates the topics that do not exist yet (existing ones are left as they are, whatever their
 * partition count) and waits for their leaders, so a publish right after does not race them.
 */
export async function ensureKafkaTopics(admin: Admin, specs: readonly TopicSpec[]): Promise<void> {
  const wanted = topicConfigs(specs);
  const existing = new Set(await admin.listTopics());
  const missing = wanted.filter((t) => !existing.has(t.topic));
  if (missing.length === 0) return;
  // Two replicas starting together may both try; kafkajs returns false for "already exists".
  await admin.createTopics({ topics: missing, waitForLeaders: true });
}
