import type { Contracts } from '@dmarc/contracts';
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { backoffDelay } from '../backoff';
import type { Subscription } from '../bus';
import type { BusStats } from '../bus-stats';
import type { ResolvedConsumeOptions } from '../consume-options';
import { DeliveryProcessor, type Outcome } from '../delivery-processor';
import { messageOf } from '../errors';
import type { BusLogger } from '../logger';
import type { SendRecords } from '../publish';

export interface KafkaConsumerDeps {
  kafka: Kafka;
  contracts: Contracts;
  logger: BusLogger;
  /** Where dead letters go (the bus's producer, allowed while the bus closes). */
  sendRaw: SendRecords;
  /** Where handled and dead-lettered messages and partition lag are counted. */
  stats?: BusStats;
  /** Told once the subscription has closed, so the bus stops tracking it. */
  onClosed?: () => void;
}

/**
 * One consumer group member on Kafka, at least once.
 *
 * Offsets: eachBatch with auto-resolve off and kafkajs autoCommit on. kafkajs only ever commits
 * offsets we resolved, and we resolve a message only once it is handled or dead-lettered, so a
 * crash at any point re-delivers exactly the unfinished messages; kafkajs also commits the
 * resolved ones when a rebalance takes the partition away, which manual commits would miss.
 * Fetch positions follow resolved offsets too, so a message left unresolved is fetched again.
 */
export class KafkaSubscription implements Subscription {
  private readonly consumer: Consumer;
  private readonly processor: DeliveryProcessor<string>;
  private readonly abort = new AbortController();
  private readonly failing = new Map<string, { offset: string; attempts: number }>();
  private readonly pauses = new Map<string, number>();
  private readonly resumeTimers = new Set<NodeJS.Timeout>();
  private closing: Promise<void> | undefined;

  constructor(
    private readonly deps: KafkaConsumerDeps,
    private readonly options: ResolvedConsumeOptions<string>,
  ) {
    this.consumer = deps.kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: options.sessionTimeoutMs,
      heartbeatInterval: options.heartbeatIntervalMs,
      maxWaitTimeInMs: options.maxWaitTimeMs,
      minBytes: options.minBytes,
      allowAutoTopicCreation: false,
      // kafkajs restarts a consumer after retriable crashes by itself; once we close, it must not.
      retry: { restartOnFailure: async () => !this.closing },
    });
    this.processor = new DeliveryProcessor({
      contracts: deps.contracts,
      options,
      system: 'kafka',
      logger: deps.logger,
      sendRaw: deps.sendRaw,
      signal: this.abort.signal,
      stats: deps.stats,
    });
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
      const restart = payload.restart && !this.closing;
      const line = `consumer ${options.groupId} crashed${restart ? ', restarting' : ' and stopped'}: ${messageOf(payload.error)}`;
      if (restart) deps.logger.warn({ groupId: options.groupId, error: messageOf(payload.error) }, line);
      else {
        deps.logger.error({ groupId: options.groupId, error: messageOf(payload.error) }, line);
        if (!this.closing) options.onCrash?.(payload.error);
      }
    });
  }

  get groupId(): string {
    return this.options.groupId;
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [...this.options.topics], fromBeginning: this.options.fromBeginning });
    await this.consumer.run({
      autoCommit: true,
      autoCommitInterval: this.options.commitIntervalMs,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently,
      eachBatch: (payload) => this.handleBatch(payload),
    });
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      // Cut retry waits short; a handler already running is left to finish.
      this.abort.abort();
      for (const timer of this.resumeTimers) clearTimeout(timer);
      this.resumeTimers.clear();
      // Stops fetching, waits for the batch in hand (which stops after its current message and
      // commits), then leaves the group so its partitions move at once.
      try {
        await this.consumer.disconnect();
      } finally {
        this.deps.stats?.forgetGroup(this.options.groupId);
        this.deps.onClosed?.();
      }
    })();
    return this.closing;
  }

  private async handleBatch(payload: EachBatchPayload): Promise<void> {
    if (this.options.batch) return this.handleInBatches(payload, this.options.batch.maxMessages);
    if (this.options.messageConcurrency > 1) return this.handleBatchConcurrently(payload);
    const { batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, uncommittedOffsets, isRunning, isStale } = payload;
    const id = `${batch.topic}|${batch.partition}`;
    for (const message of batch.messages) {
      if (this.closing || !isRunning() || isStale()) break;
      const outcome = await this.process(batch.topic, batch.partition, message, heartbeat);
      if (outcome.kind === 'done') {
        resolveOffset(message.offset);
        this.finished(payload, message.offset);
        this.failing.delete(id);
        this.pauses.delete(id);
        await commitOffsetsIfNecessary();
        await heartbeat();
        continue;
      }
      if (outcome.kind === 'retry-later') this.pausePartition(payload, message.offset, outcome);
      break;
    }
    // Commit what this batch finished now, not at the next interval: the batch may have ended
    // early because the consumer is closing or the partition paused.
    const pending = uncommittedOffsets();
    if (pending.topics.length > 0) await commitOffsetsIfNecessary(pending);
  }

  /**
   * The fetched batch in slices of up to `maxMessages`, each through the batch handler (then the
   * per-message handler for what it left): offsets resolved in order up to the first message not done.
   */
  private async handleInBatches(payload: EachBatchPayload, maxMessages: number): Promise<void> {
    const { batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, uncommittedOffsets, isRunning, isStale } = payload;
    const id = `${batch.topic}|${batch.partition}`;
    const failing = this.failing.get(id);
    const prior = (record: { offset: string }) => (failing?.offset === record.offset ? failing.attempts : 0);
    for (let start = 0; start < batch.messages.length; start += maxMessages) {
      if (this.closing || !isRunning() || isStale()) break;
      const records = batch.messages.slice(start, start + maxMessages).map((message) => ({
        topic: batch.topic,
        partition: batch.partition,
        offset: message.offset,
        key: message.key,
        value: message.value,
        headers: message.headers ?? {},
      }));
      const outcomes = await this.processor.processBatch(records, prior, heartbeat);
      let stopped = false;
      for (let i = 0; i < outcomes.length; i++) {
        const outcome = outcomes[i];
        if (outcome.kind === 'done') {
          resolveOffset(records[i].offset);
          this.finished(payload, records[i].offset);
          this.failing.delete(id);
          this.pauses.delete(id);
          continue;
        }
        if (outcome.kind === 'retry-later') this.pausePartition(payload, records[i].offset, outcome);
        stopped = true;
        break;
      }
      await commitOffsetsIfNecessary();
      await heartbeat();
      if (stopped) break;
    }
    const pending = uncommittedOffsets();
    if (pending.topics.length > 0) await commitOffsetsIfNecessary(pending);
  }

  /**
   * The batch with up to `messageConcurrency` messages in hand at once: messages with the same key
   * still one after another (each waits for the previous one of its key), offsets resolved in order,
   * only up to the first message not done. Messages after it that finished are delivered again, so
   * this is for idempotent handlers only.
   */
  private async handleBatchConcurrently(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, uncommittedOffsets, isRunning, isStale } = payload;
    const id = `${batch.topic}|${batch.partition}`;
    const lastOfKey = new Map<string, Promise<Outcome>>();
    const window: Array<{ offset: string; outcome: Promise<Outcome> }> = [];
    let stopped = false;
    // Takes the oldest message in hand: resolves it when done, else stops the batch there.
    const settleOldest = async (): Promise<void> => {
      const { offset, outcome } = window.shift()!;
      const result = await outcome;
      if (result.kind === 'done') {
        resolveOffset(offset);
        this.finished(payload, offset);
        this.failing.delete(id);
        this.pauses.delete(id);
        await commitOffsetsIfNecessary();
        await heartbeat();
        return;
      }
      stopped = true;
      if (result.kind === 'retry-later') this.pausePartition(payload, offset, result);
    };
    for (const message of batch.messages) {
      if (stopped || this.closing || !isRunning() || isStale()) break;
      const key = message.key ? message.key.toString('latin1') : undefined;
      const before = key === undefined ? undefined : lastOfKey.get(key);
      const outcome = (async (): Promise<Outcome> => {
        if (before && (await before).kind !== 'done') return { kind: 'stopped' };
        if (stopped || this.closing) return { kind: 'stopped' };
        return this.process(batch.topic, batch.partition, message, heartbeat);
      })();
      // Awaited in order below; a rejection seen only there must not count as unhandled meanwhile.
      outcome.catch(() => undefined);
      if (key !== undefined) lastOfKey.set(key, outcome);
      window.push({ offset: message.offset, outcome });
      while (window.length >= this.options.messageConcurrency && !stopped) await settleOldest();
    }
    while (window.length > 0 && !stopped) await settleOldest();
    // Whatever is still in hand finishes before the batch returns; it stays unresolved.
    await Promise.allSettled(window.map((w) => w.outcome));
    const pending = uncommittedOffsets();
    if (pending.topics.length > 0) await commitOffsetsIfNecessary(pending);
  }

  private finished(payload: EachBatchPayload, offset: string): void {
    const { batch } = payload;
    this.deps.stats?.recordPosition(batch.topic, this.options.groupId, batch.partition, offset, batch.highWatermark);
  }

  private process(topic: string, partition: number, message: KafkaMessage, heartbeat: () => Promise<void>): Promise<Outcome> {
    const failing = this.failing.get(`${topic}|${partition}`);
    const prior = failing?.offset === message.offset ? failing.attempts : 0;
    return this.processor.process(
      { topic, partition, offset: message.offset, key: message.key, value: message.value, headers: message.headers ?? {} },
      prior,
      heartbeat,
    );
  }

  /**
   * The downstream is still out: keep the message unresolved and stop reading this partition for a
   * while; later messages of the same keys must not overtake it.
   */
  private pausePartition(payload: EachBatchPayload, offset: string, outcome: { attempts: number; error: unknown }): void {
    const { batch, pause } = payload;
    const id = `${batch.topic}|${batch.partition}`;
    const pauses = (this.pauses.get(id) ?? 0) + 1;
    this.pauses.set(id, pauses);
    this.failing.set(id, { offset, attempts: outcome.attempts });
    const pauseMs = backoffDelay(pauses, this.options.pauseBackoff);
    const resume = pause();
    const timer = setTimeout(() => {
      this.resumeTimers.delete(timer);
      resume();
    }, pauseMs);
    this.resumeTimers.add(timer);
    this.deps.logger.warn(
      { topic: batch.topic, partition: batch.partition, offset, attempts: outcome.attempts, pauseMs, groupId: this.options.groupId },
      `pausing ${batch.topic}[${batch.partition}] for ${pauseMs} ms: ${messageOf(outcome.error)}`,
    );
  }
}
