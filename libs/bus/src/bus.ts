import type { EncodedValue, TopicInput, TopicValue } from '@dmarc/contracts';
import type { Context } from '@opentelemetry/api';
import type { BusStatsSnapshot } from './bus-stats';

/**
 * Where a delivered message sits in its trace (its CONSUMER span). Opaque: hand it back on the messages
 * published because of it (`OutgoingMessage.trace`) when they are published outside its handler, as a batch
 * handler does, so the trace of each report still runs through every hop.
 */
export type MessageTrace = Context;

/** A typed message to publish; its value is encoded with the topic's schema. */
export interface OutgoingMessage<V> {
  /** Partitioning key: messages with the same key keep their order. */
  key?: string;
  value: V;
  /** Required; travels as the `tenant-id` header and must match a `tenantId` field in the value. */
  tenantId: string;
  /** Extra headers. The bus's own (tenant-id, traceparent, tracestate, avro-*) take precedence. */
  headers?: Readonly<Record<string, string>>;
  /**
   * The delivered message this one follows from (`Delivered.trace`): its trace context goes in this
   * message's headers instead of the active one's. For batch handlers, which publish for many messages at once.
   */
  trace?: MessageTrace;
}

/**
 * A message whose value is already encoded with the topic's current schema, by @dmarc/contracts (a
 * `ValueExtension` writing dmarc.reports.enriched from the parsed bytes read). Published like a typed
 * message (tenant, trace and headers added), without encoding the value again; refused when the encoding is
 * not the topic's current schema.
 */
export interface EncodedMessage extends Omit<OutgoingMessage<never>, 'value'> {
  encoded: EncodedValue;
}

/** Bytes as they are, for tests and replays: nothing is encoded, checked or added. */
export interface RawMessage {
  key?: string | Buffer | null;
  value: Buffer | null;
  headers?: Readonly<Record<string, string | Buffer>>;
}

export interface Publisher {
  /**
   * Encodes and publishes; resolves once the broker has them (acks from all in-sync replicas).
   * @throws EncodeError / MissingTenantError / TenantMismatchError before anything is sent;
   *   PublishError when the broker does not take them; BusClosedError after close.
   */
  publish<T extends string>(topic: T, messages: ReadonlyArray<OutgoingMessage<TopicInput<T>> | EncodedMessage>): Promise<void>;
  /** Publishes bytes untouched (hostile-input tests, DLQ replays). */
  publishRaw(topic: string, messages: ReadonlyArray<RawMessage>): Promise<void>;
}

/** What a handler receives for one message of topic T. */
export interface Delivered<T extends string> {
  topic: T;
  partition: number;
  /** Kafka offsets are 64-bit; kept as the decimal string the client gives. */
  offset: string;
  key: string | null;
  value: TopicValue<T>;
  /** From the `tenant-id` header; '' only on `.dlq` topics, where it may be absent. */
  tenantId: string;
  /** Every header, as UTF-8 strings. */
  headers: Readonly<Record<string, string>>;
  /** The encoded value bytes as read. */
  raw: Buffer;
  /** 1 on first delivery; counts every try of this message by this group, across pauses. */
  attempt: number;
  /** Writer schema, `<subject>/v<N>`. */
  writer: string;
  /** This message's place in its trace, for what a batch handler publishes on its behalf. */
  trace: MessageTrace;
}

/** One of `Delivered<'a'> | Delivered<'b'>`, so `switch (message.topic)` narrows `value`. */
export type DeliveredMessage<T extends string> = T extends string ? Delivered<T> : never;

export type MessageHandler<T extends string> = (message: DeliveredMessage<T>) => Promise<void>;

/**
 * Handles several messages of one partition at once: one database transaction and one publish for all of
 * them instead of one each. A fast path in front of `handler`, never instead of it: it resolves with the
 * messages it left undone (a bad report, one too big to batch), and the bus hands those to `handler` one by
 * one, in order, with its retries and dead letters. Throwing leaves the whole batch to `handler`. So it must
 * be idempotent with `handler`: a message it did, or half did, may reach `handler` too.
 */
export type BatchHandler<T extends string> = (messages: ReadonlyArray<DeliveredMessage<T>>) => Promise<ReadonlyArray<DeliveredMessage<T>> | void>;

export interface BatchOptions<T extends string> {
  handler: BatchHandler<T>;
  /** Most messages per call. Default 100. */
  maxMessages?: number;
}

export interface RetryOptions {
  /** Tries in place, with backoff, before the partition is paused. Default 3. */
  attempts?: number;
  /** Default 100 ms. */
  initialMs?: number;
  /** Default 2 s. */
  maxMs?: number;
}

export interface PauseOptions {
  /** First pause of a partition after its tries in place ran out. Default 1 s. */
  initialMs?: number;
  /** Longest pause while a downstream stays out. Default 30 s. */
  maxMs?: number;
}

export interface ConsumeOptions<T extends string> {
  groupId: string;
  topics: readonly T[];
  handler: MessageHandler<T>;
  /**
   * Where a group with no committed offset starts. Default true (earliest): a service deployed
   * after reports were published must still process them.
   */
  fromBeginning?: boolean;
  retry?: RetryOptions;
  pause?: PauseOptions;
  /**
   * Total tries of a message failing with retriable errors before it is dead-lettered. Default
   * Infinity: a downstream outage must not empty a topic into its DLQ; the partition waits instead.
   */
  maxAttempts?: number;
  /** Partitions handled in parallel (each one in order). Default 1. */
  partitionsConsumedConcurrently?: number;
  /**
   * Kafka only: messages of one partition in hand at once. Messages with the same key are still handled
   * one after another and offsets are committed in order, but when one fails, later ones of other keys
   * that already finished are delivered again: for idempotent handlers only. Default 1 (strictly in order).
   */
  messageConcurrency?: number;
  /**
   * Handles messages in batches first (see BatchHandler); `handler` gets what the batch left, and every
   * retry. Messages of one partition: each batch after the previous one, offsets committed in order.
   */
  batch?: BatchOptions<T>;
  /** Named in dead letters as the consumer that gave up. Default: the group id. */
  service?: string;
  /** Kafka only: how often resolved offsets are committed while a batch is handled. Default 5 s. */
  commitIntervalMs?: number;
  /** Kafka only; group session timeout. Default 30 s. */
  sessionTimeoutMs?: number;
  /** Kafka only. Default 3 s. */
  heartbeatIntervalMs?: number;
  /** Kafka only: longest a fetch waits for `minBytes` to gather (fetch.max.wait.ms). Default 500 ms. */
  maxWaitTimeMs?: number;
  /**
   * Kafka only: bytes a fetch waits for (fetch.min.bytes), up to `maxWaitTimeMs`. Default 1: answer as soon as
   * anything is there. More makes bigger batches under load (fewer round trips and statements per message) for
   * at most `maxWaitTimeMs` of latency.
   */
  minBytes?: number;
  /** Called when the consumer stopped for good on an error it cannot recover from (logged too). */
  onCrash?: (error: Error) => void;
}

export interface Subscription {
  readonly groupId: string;
  /**
   * Stops fetching, lets the handler in flight finish and commits its offset, then leaves the
   * group. Messages not yet started are left for the next member.
   */
  close(): Promise<void>;
}

export interface TopicSpec {
  topic: string;
  /** Default 3. */
  partitions?: number;
  /** Default: the broker's default. */
  replicationFactor?: number;
  /** Also create `<topic>.dlq` with the same partitions. Default true. */
  dlq?: boolean;
}

/** The message bus: Kafka in production, in-process for the embedded mode and unit tests. */
export interface Bus extends Publisher {
  /** The publishing half alone, to hand to code that only publishes. */
  producer(): Publisher;
  /** Starts a consumer; resolves once it is running. */
  consume<T extends string>(options: ConsumeOptions<T>): Promise<Subscription>;
  /** Creates the topics (and their DLQ topics) that do not exist yet. */
  ensureTopics(specs: readonly TopicSpec[]): Promise<void>;
  /** Messages published, handled and dead-lettered, and consumer lag, since the bus started. */
  stats(): BusStatsSnapshot;
  /** Resolves while the broker answers; rejects while it is unreachable (for readiness). */
  ping(): Promise<void>;
  /** Closes every consumer (each finishing its message in hand), then flushes and closes the producer. */
  close(): Promise<void>;
}
