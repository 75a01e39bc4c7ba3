import { backoffDelay, sleep } from '../backoff';
import type { ResolvedConsumeOptions } from '../consume-options';
import type { DeliveryProcessor, Outcome } from '../delivery-processor';
import { messageOf } from '../errors';
import type { BusLogger } from '../logger';
import type { InProcessTopic } from './partition-log';

/** One consume() call: its options, its processor, and what it has in flight. */
export class GroupMember {
  readonly abort = new AbortController();
  readonly processor: DeliveryProcessor<string>;
  private readonly inFlight = new Set<Promise<unknown>>();

  /** `makeProcessor` gets the signal that ends the member's retry waits when it leaves. */
  constructor(
    readonly options: ResolvedConsumeOptions<string>,
    makeProcessor: (signal: AbortSignal) => DeliveryProcessor<string>,
  ) {
    this.processor = makeProcessor(this.abort.signal);
  }

  track<R>(work: Promise<R>): Promise<R> {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
    return work;
  }

  async drain(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }
}

/**
 * A consumer group of the in-process bus: committed offsets, members, and one worker per
 * subscribed partition. A partition is handled by one worker, one message at a time, so per-key
 * order holds whichever member's handler runs it.
 */
export class InProcessGroup {
  private readonly committed = new Map<string, number>();
  private readonly members: GroupMember[] = [];
  private readonly workers = new Map<string, PartitionWorker>();

  constructor(
    readonly groupId: string,
    private readonly topicNamed: (name: string) => InProcessTopic,
    private readonly logger: BusLogger,
  ) {}

  join(member: GroupMember): void {
    this.members.push(member);
    for (const name of member.options.topics) {
      const topic = this.topicNamed(name);
      topic.partitions.forEach((log, partition) => {
        const id = `${name}|${partition}`;
        if (!this.committed.has(id)) this.committed.set(id, member.options.fromBeginning ? 0 : log.end);
        if (!this.workers.has(id)) {
          const worker = new PartitionWorker(this, topic, partition, this.logger);
          this.workers.set(id, worker);
          worker.start();
        }
      });
    }
  }

  /** Leaves the group: the member's message in hand finishes (and is committed) first. */
  async leave(member: GroupMember): Promise<void> {
    const index = this.members.indexOf(member);
    if (index === -1) return;
    this.members.splice(index, 1);
    member.abort.abort();
    await member.drain();
    const stopping: Promise<void>[] = [];
    for (const [id, worker] of this.workers) {
      if (this.memberFor(worker.topic.name, worker.partition) === undefined) {
        this.workers.delete(id);
        stopping.push(worker.stop());
      }
    }
    await Promise.all(stopping);
  }

  memberFor(topic: string, partition: number): GroupMember | undefined {
    const subscribed = this.members.filter((m) => m.options.topics.includes(topic));
    return subscribed.length === 0 ? undefined : subscribed[partition % subscribed.length];
  }

  committedOffset(topic: string, partition: number): number {
    return this.committed.get(`${topic}|${partition}`) ?? 0;
  }

  commit(topic: string, partition: number, next: number): void {
    this.committed.set(`${topic}|${partition}`, next);
  }

  isEmpty(): boolean {
    return this.members.length === 0;
  }
}

class PartitionWorker {
  private readonly abort = new AbortController();
  private loop: Promise<void> = Promise.resolve();
  private pausedUntil = 0;
  private pauses = 0;
  private failing: { offset: number; attempts: number } | undefined;

  constructor(
    private readonly group: InProcessGroup,
    readonly topic: InProcessTopic,
    readonly partition: number,
    private readonly logger: BusLogger,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const log = this.topic.partitions[this.partition];
    const signal = this.abort.signal;
    while (!signal.aborted) {
      const wait = this.pausedUntil - Date.now();
      if (wait > 0) {
        await sleep(wait, signal);
        continue;
      }
      const offset = this.group.committedOffset(this.topic.name, this.partition);
      const stored = log.at(offset);
      if (!stored) {
        await log.waitFor(offset, signal);
        continue;
      }
      const member = this.group.memberFor(this.topic.name, this.partition);
      if (!member) return;
      const prior = (at: number) => (this.failing?.offset === at ? this.failing.attempts : 0);
      const record = (at: number, entry: NonNullable<typeof stored>) => ({ topic: this.topic.name, partition: this.partition, offset: String(at), ...entry });
      if (member.options.batch) {
        // What is already in the log, up to a batch: the same slices a Kafka fetch would hand over.
        const records = [record(offset, stored)];
        for (let at = offset + 1; records.length < member.options.batch.maxMessages; at++) {
          const next = log.at(at);
          if (!next) break;
          records.push(record(at, next));
        }
        const outcomes = await member.track(member.processor.processBatch(records, (r) => prior(Number(r.offset))));
        const done = outcomes.findIndex((o) => o.kind !== 'done');
        const settled = done === -1 ? outcomes.length : done;
        if (settled > 0) {
          this.group.commit(this.topic.name, this.partition, offset + settled);
          this.failing = undefined;
          this.pauses = 0;
        }
        if (done !== -1) this.afterFailure(member, offset + settled, outcomes[done]);
        continue;
      }
      const outcome = await member.track(member.processor.process(record(offset, stored), prior(offset)));
      if (outcome.kind === 'done') {
        this.group.commit(this.topic.name, this.partition, offset + 1);
        this.failing = undefined;
        this.pauses = 0;
      } else this.afterFailure(member, offset, outcome);
    }
  }

  private afterFailure(member: GroupMember, offset: number, outcome: Outcome): void {
    if (outcome.kind !== 'retry-later') return;
    // Nothing is committed and nothing skipped: the same message is tried again after the pause.
    this.failing = { offset, attempts: outcome.attempts };
    this.pauses++;
    const pauseMs = backoffDelay(this.pauses, member.options.pauseBackoff);
    this.pausedUntil = Date.now() + pauseMs;
    this.logger.warn(
      { topic: this.topic.name, partition: this.partition, offset, attempts: outcome.attempts, pauseMs, groupId: this.group.groupId },
      `pausing ${this.topic.name}[${this.partition}] for ${pauseMs} ms: ${messageOf(outcome.error)}`,
    );
  }
}
