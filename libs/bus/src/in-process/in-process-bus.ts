import { type Contracts, dlqTopicOf, type TopicInput } from '@dmarc/contracts';
import type { Bus, ConsumeOptions, EncodedMessage, OutgoingMessage, Publisher, RawMessage, Subscription, TopicSpec } from '../bus';
import { BusStats, type BusStatsSnapshot } from '../bus-stats';
import { type ResolvedConsumeOptions, resolveConsumeOptions } from '../consume-options';
import { DeliveryProcessor } from '../delivery-processor';
import { BusClosedError } from '../errors';
import { type BusLogger, silentLogger } from '../logger';
import type { WireRecord } from '../outgoing';
import { publishTyped, rawRecords } from '../publish';
import { GroupMember, InProcessGroup } from './in-process-group';
import { InProcessTopic } from './partition-log';

export interface InProcessBusOptions {
  contracts: Contracts;
  logger?: BusLogger;
  /** Partitions of a topic created on first use. Default 3. */
  defaultPartitions?: number;
}

const SYSTEM = 'in-process';

/**
 * The bus inside one process, for the embedded mode and unit tests: the same encoding, headers,
 * tracing, retries, pauses and dead letters as Kafka (they share the delivery processor), with
 * partitions and consumer groups kept in memory. Records are kept for the life of the bus.
 */
export class InProcessBus implements Bus {
  private readonly topics = new Map<string, InProcessTopic>();
  private readonly groups = new Map<string, InProcessGroup>();
  private readonly subscriptions = new Set<Subscription>();
  private readonly counters = new BusStats();
  private readonly logger: BusLogger;
  private readonly defaultPartitions: number;
  private closed = false;

  constructor(private readonly options: InProcessBusOptions) {
    this.logger = options.logger ?? silentLogger;
    this.defaultPartitions = options.defaultPartitions ?? 3;
  }

  producer(): Publisher {
    return { publish: (topic, messages) => this.publish(topic, messages), publishRaw: (topic, messages) => this.publishRaw(topic, messages) };
  }

  publish<T extends string>(topic: T, messages: ReadonlyArray<OutgoingMessage<TopicInput<T>> | EncodedMessage>): Promise<void> {
    return publishTyped(this.options.contracts, SYSTEM, topic, messages, (t, records) => this.append(t, records));
  }

  publishRaw(topic: string, messages: ReadonlyArray<RawMessage>): Promise<void> {
    return this.append(topic, rawRecords(messages));
  }

  async consume<T extends string>(options: ConsumeOptions<T>): Promise<Subscription> {
    if (this.closed) throw new BusClosedError('in-process bus');
    // Members of one group may consume different topics; the group works on the widened type.
    const resolved = resolveConsumeOptions(options, this.options.contracts) as unknown as ResolvedConsumeOptions<string>;
    let group = this.groups.get(resolved.groupId);
    if (!group) {
      group = new InProcessGroup(resolved.groupId, (name) => this.topic(name), this.logger);
      this.groups.set(resolved.groupId, group);
    }
    const member = new GroupMember(
      resolved,
      (signal) =>
        new DeliveryProcessor({
          contracts: this.options.contracts,
          options: resolved,
          system: SYSTEM,
          logger: this.logger,
          sendRaw: (topic, records) => this.append(topic, records, true),
          signal,
          stats: this.counters,
        }),
    );
    const joined = group;
    joined.join(member);
    const subscription: Subscription = {
      groupId: resolved.groupId,
      close: async () => {
        this.subscriptions.delete(subscription);
        await joined.leave(member);
      },
    };
    this.subscriptions.add(subscription);
    return subscription;
  }

  stats(): BusStatsSnapshot {
    return this.counters.snapshot();
  }

  /** Always answers while open: there is no broker to lose. */
  async ping(): Promise<void> {
    if (this.closed) throw new BusClosedError('in-process bus');
  }

  async ensureTopics(specs: readonly TopicSpec[]): Promise<void> {
    for (const spec of specs) {
      this.topic(spec.topic, spec.partitions);
      if (spec.dlq !== false) this.topic(dlqTopicOf(spec.topic), spec.partitions);
    }
  }

  async close(): Promise<void> {
    // Consumers first: handlers in flight may still publish.
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    this.closed = true;
  }

  private topic(name: string, partitions = this.defaultPartitions): InProcessTopic {
    let topic = this.topics.get(name);
    if (!topic) {
      topic = new InProcessTopic(name, partitions);
      this.topics.set(name, topic);
    }
    return topic;
  }

  // Dead letters may still leave while the bus closes: they finish a message already in hand.
  private async append(topicName: string, records: WireRecord[], deadLetter = false): Promise<void> {
    if (this.closed && !deadLetter) throw new BusClosedError('in-process bus');
    const topic = this.topic(topicName);
    for (const record of records) {
      const key = record.key === null ? null : Buffer.isBuffer(record.key) ? record.key : Buffer.from(record.key, 'utf8');
      topic.partitions[topic.partitionFor(key)].append({ key, value: record.value, headers: { ...record.headers } });
    }
    this.counters.recordPublished(topicName, records.length);
  }
}

export function createInProcessBus(options: InProcessBusOptions): Bus {
  return new InProcessBus(options);
}
