import type { Contracts, TopicInput } from '@dmarc/contracts';
import { type Admin, Kafka, type KafkaConfig, Partitioners, type Producer } from 'kafkajs';
import type { Bus, ConsumeOptions, EncodedMessage, OutgoingMessage, Publisher, RawMessage, Subscription, TopicSpec } from '../bus';
import { BusStats, type BusStatsSnapshot } from '../bus-stats';
import { resolveConsumeOptions, type ResolvedConsumeOptions } from '../consume-options';
import { BusClosedError } from '../errors';
import { type BusLogger, silentLogger } from '../logger';
import type { WireRecord } from '../outgoing';
import { publishTyped, rawRecords } from '../publish';
import { BatchingProducer, type BatchingOptions } from './batching-producer';
import { type ConnectRetryOptions, waitForBrokers } from './broker-connection';
import { KafkaSubscription } from './kafka-consumer';
import { KAFKAJS_LOG_LEVELS, type KafkaLogLevel, kafkaLogCreator } from './kafka-logging';
import { ensureKafkaTopics } from './kafka-topics';

export interface KafkaBusOptions {
  brokers: string[];
  clientId: string;
  contracts: Contracts;
  logger?: BusLogger;
  ssl?: KafkaConfig['ssl'];
  sasl?: KafkaConfig['sasl'];
  /** Per connection attempt. Default 3 s. */
  connectionTimeoutMs?: number;
  /** How start-up waits for an unreachable Kafka. */
  connectRetry?: ConnectRetryOptions;
  producer?: Partial<BatchingOptions>;
  /** Which kafkajs lines reach our logger (as warnings). Default 'error'. */
  kafkaLogLevel?: KafkaLogLevel;
  /** Fetch settings for every consumer of this bus that does not set its own. */
  consumerDefaults?: Pick<ConsumeOptions<string>, 'minBytes' | 'maxWaitTimeMs'>;
  /** Aborts start-up while it waits for Kafka (SIGTERM during a long outage). */
  signal?: AbortSignal;
}

const SYSTEM = 'kafka';

/**
 * The bus on Kafka (kafkajs): an idempotent producer (acks from all in-sync replicas, one request
 * in flight, small linger batching) and at-least-once consumer group members.
 */
export class KafkaBus implements Bus {
  private readonly subscriptions = new Set<KafkaSubscription>();
  private readonly counters = new BusStats();
  private admin: Promise<Admin> | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly kafka: Kafka,
    private readonly kafkaProducer: Producer,
    private readonly batcher: BatchingProducer,
    private readonly contracts: Contracts,
    private readonly logger: BusLogger,
    private readonly consumerDefaults: KafkaBusOptions['consumerDefaults'] = {},
  ) {}

  /** Waits for a broker (one log line per failed attempt), then connects the producer. */
  static async connect(options: KafkaBusOptions): Promise<KafkaBus> {
    const logger = options.logger ?? silentLogger;
    const config = {
      clientId: options.clientId,
      brokers: options.brokers,
      ssl: options.ssl,
      sasl: options.sasl,
      connectionTimeout: options.connectionTimeoutMs ?? 3_000,
    };
    await waitForBrokers(config, options.connectRetry ?? {}, logger, options.signal);
    const kafka = new Kafka({
      ...config,
      logLevel: KAFKAJS_LOG_LEVELS[options.kafkaLogLevel ?? 'error'],
      logCreator: kafkaLogCreator(logger),
    });
    // Idempotence needs acks=all and at most one request in flight (KIP-98); retries are left
    // to kafkajs (unbounded count, bounded by its maxRetryTime) so a leader change loses nothing.
    const producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    const batcher = new BatchingProducer((topicMessages) => producer.sendBatch({ topicMessages, acks: -1 }), {
      lingerMs: options.producer?.lingerMs ?? 5,
      maxBatchMessages: options.producer?.maxBatchMessages ?? 500,
      maxBatchBytes: options.producer?.maxBatchBytes,
    });
    return new KafkaBus(kafka, producer, batcher, options.contracts, logger, options.consumerDefaults);
  }

  producer(): Publisher {
    return { publish: (topic, messages) => this.publish(topic, messages), publishRaw: (topic, messages) => this.publishRaw(topic, messages) };
  }

  publish<T extends string>(topic: T, messages: ReadonlyArray<OutgoingMessage<TopicInput<T>> | EncodedMessage>): Promise<void> {
    return publishTyped(this.contracts, SYSTEM, topic, messages, (t, records) => this.send(t, records));
  }

  publishRaw(topic: string, messages: ReadonlyArray<RawMessage>): Promise<void> {
    return this.send(topic, rawRecords(messages));
  }

  async consume<T extends string>(options: ConsumeOptions<T>): Promise<Subscription> {
    if (this.closed) throw new BusClosedError('kafka bus');
    const resolved = resolveConsumeOptions({ ...this.consumerDefaults, ...options }, this.contracts) as unknown as ResolvedConsumeOptions<string>;
    const subscription: KafkaSubscription = new KafkaSubscription(
      {
        kafka: this.kafka,
        contracts: this.contracts,
        logger: this.logger,
        sendRaw: (topic, records) => this.send(topic, records, true),
        stats: this.counters,
        onClosed: () => this.subscriptions.delete(subscription),
      },
      resolved,
    );
    this.subscriptions.add(subscription);
    try {
      await subscription.start();
    } catch (error) {
      await subscription.close();
      throw error;
    }
    return subscription;
  }

  async ensureTopics(specs: readonly TopicSpec[]): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      await ensureKafkaTopics(admin, specs);
    } finally {
      await admin.disconnect();
    }
  }

  stats(): BusStatsSnapshot {
    return this.counters.snapshot();
  }

  /**
   * Asks the cluster for its brokers through one admin connection kept for the purpose, with no retries:
   * rejects while no broker answers (readiness turns false), resolves again once one does.
   */
  async ping(): Promise<void> {
    if (this.closed) throw new BusClosedError('kafka bus');
    this.admin ??= (async () => {
      const admin = this.kafka.admin({ retry: { retries: 0 } });
      await admin.connect();
      return admin;
    })();
    try {
      await (await this.admin).describeCluster();
    } catch (error) {
      const stale = this.admin;
      this.admin = undefined;
      void stale.then((a) => a.disconnect()).catch(() => undefined);
      throw error;
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      // Consumers first: their handlers may still publish, and their dead letters must get out.
      await Promise.all([...this.subscriptions].map((s) => s.close()));
      this.closed = true;
      const admin = this.admin;
      this.admin = undefined;
      await admin?.then((a) => a.disconnect()).catch(() => undefined);
      await this.batcher.close();
      await this.kafkaProducer.disconnect();
    })();
    return this.closing;
  }

  private send(topic: string, records: WireRecord[], deadLetter = false): Promise<void> {
    if (this.closed && !deadLetter) return Promise.reject(new BusClosedError('kafka bus'));
    return this.batcher
      .send(
        topic,
        records.map((r) => ({ key: r.key, value: r.value, headers: r.headers })),
        deadLetter,
      )
      .then(() => this.counters.recordPublished(topic, records.length));
  }
}

export function createKafkaBus(options: KafkaBusOptions): Promise<Bus> {
  return KafkaBus.connect(options);
}
