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
  // Two processes starting together may both try; kafkajs returns false for "already exists", without waiting
  // for the leaders of the topics the other one is creating: wait for every missing topic's leaders here, else a
  // subscribe right after may meet "This server does not host this topic-partition" (seen on a fresh broker).
  try {
    await admin.createTopics({ topics: missing, waitForLeaders: true });
  } catch (error) {
    // kafkajs's own wait for leaders meets UNKNOWN_TOPIC_OR_PARTITION while the other process's creation propagates.
    if (!creationRaceError(error)) throw error;
  }
  await waitForLeaders(admin, missing.map((t) => t.topic));
}

/** An error of createTopics that another process creating the same topics explains: retriable, or "already exists". */
export function creationRaceError(error: unknown): boolean {
  const e = error as { retriable?: boolean; type?: string; errors?: unknown[] };
  if (e?.retriable === true || e?.type === 'TOPIC_ALREADY_EXISTS') return true;
  return Array.isArray(e?.errors) && e.errors.length > 0 && e.errors.every(creationRaceError);
}

/** Until the metadata of every topic shows a leader on each partition (a topic being created elsewhere included). */
export async function waitForLeaders(admin: Pick<Admin, 'fetchTopicMetadata'>, topics: readonly string[], timeoutMs = 30_000, pollMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const { topics: found } = await admin.fetchTopicMetadata({ topics: [...topics] });
      if (found.length === topics.length && found.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) return;
      last = new Error(`no leader yet for ${found.filter((t) => !t.partitions.length || t.partitions.some((p) => p.leader < 0)).map((t) => t.name).join(', ') || 'some topics'}`);
    } catch (error) {
      // UNKNOWN_TOPIC_OR_PARTITION and the like while the other process's creation propagates.
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`topics ${topics.join(', ')} have no leaders after ${timeoutMs} ms: ${last instanceof Error ? last.message : String(last)}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
