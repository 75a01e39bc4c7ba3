import type { Contracts } from '@dmarc/contracts';
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { backoffDelay } from '../backoff';
import type { Subscription } from '../bus';
import type { ResolvedConsumeOptions } from '../consume-options';
import { DeliveryProcessor } from '../delivery-processor';
import { messageOf } from '../errors';
import type { BusLogger } from '../logger';
import type { SendRecords } from '../publish';

export interface KafkaConsumerDeps {
  kafka: Kafka;
  contracts: Contracts;
  logger: BusLogger;
  /** Where dead letters go (the bus's producer, allowed while the bus closes). */
  sendRaw: SendRecords;
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
        this.deps.onClosed?.();
      }
    })();
    return this.closing;
  }

  private async handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, pause, commitOffsetsIfNecessary, uncommittedOffsets, isRunning, isStale } = payload;
    const id = `${batch.topic}|${batch.partition}`;
    for (const message of batch.messages) {
      if (this.closing || !isRunning() || isStale()) break;
      const failing = this.failing.get(id);
      const prior = failing?.offset === message.offset ? failing.attempts : 0;
      const outcome = await this.processor.process(
        {
          topic: batch.topic,
          partition: batch.partition,
          offset: message.offset,
          key: message.key,
          value: message.value,
          headers: message.headers ?? {},
        },
        prior,
        heartbeat,
      );
      if (outcome.kind === 'done') {
        resolveOffset(message.offset);
        this.failing.delete(id);
        this.pauses.delete(id);
        await commitOffsetsIfNecessary();
        await heartbeat();
        continue;
      }
      if (outcome.kind === 'retry-later') {
        // The downstream is still out: keep the message unresolved and stop reading this
        // partition for a while; later messages of the same keys must not overtake it.
        const pauses = (this.pauses.get(id) ?? 0) + 1;
        this.pauses.set(id, pauses);
        this.failing.set(id, { offset: message.offset, attempts: outcome.attempts });
        const pauseMs = backoffDelay(pauses, this.options.pauseBackoff);
        const resume = pause();
        const timer = setTimeout(() => {
          this.resumeTimers.delete(timer);
          resume();
        }, pauseMs);
        this.resumeTimers.add(timer);
        this.deps.logger.warn(
          { topic: batch.topic, partition: batch.partition, offset: message.offset, attempts: outcome.attempts, pauseMs, groupId: this.options.groupId },
          `pausing ${batch.topic}[${batch.partition}] for ${pauseMs} ms: ${messageOf(outcome.error)}`,
        );
      }
      break;
    }
    // Commit what this batch finished now, not at the next interval: the batch may have ended
    // early because the consumer is closing or the partition paused.
    const pending = uncommittedOffsets();
    if (pending.topics.length > 0) await commitOffsetsIfNecessary(pending);
  }
}
