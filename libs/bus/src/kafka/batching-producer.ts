import type { Message, TopicMessages } from 'kafkajs';
import { BusClosedError, isRetriable, PublishError } from '../errors';

export interface BatchingOptions {
  /** How long a message waits for others to share its request. Default 5 ms. */
  lingerMs: number;
  /** Largest batch per request. Default 500. */
  maxBatchMessages: number;
  /**
   * Most bytes (keys, values, headers) per request, so calls gathered together stay under the broker's
   * message.max.bytes (1 MiB by default). A call over it is sent in parts under it; a single message over
   * it still goes, alone. Default 512 KiB.
   */
  maxBatchBytes?: number;
}

const DEFAULT_MAX_BATCH_BYTES = 512 * 1024;

interface Pending {
  topic: string;
  messages: Message[];
  bytes: number;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * Gathers publish calls for a few milliseconds (or until a batch is full) into one sendBatch,
 * one request in flight at a time: the idempotent producer needs that for its sequence numbers,
 * and it keeps publish order, so per-key order, intact. Each call resolves when its batch is acked.
 */
export class BatchingProducer {
  private pending: Pending[] = [];
  private pendingCount = 0;
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private draining: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly sendBatch: (topicMessages: TopicMessages[]) => Promise<unknown>,
    private readonly options: BatchingOptions,
  ) {}

  /** `force` lets dead letters out while the bus is closing. */
  send(topic: string, messages: Message[], force = false): Promise<void> {
    if (this.closed && !force) return Promise.reject(new BusClosedError('kafka producer'));
    if (messages.length === 0) return Promise.resolve();
    const sizes = messages.map(sizeOf);
    const bytes = sizes.reduce((sum, n) => sum + n, 0);
    if (bytes <= this.maxBatchBytes || messages.length === 1) return this.enqueue(topic, messages, bytes);
    // A call over the limit goes as consecutive parts under it (a message over it alone), queued together so
    // nothing overtakes them: sent whole, the messages of one partition would make one record batch past the
    // broker's message.max.bytes, and the broker refuses it whole (MESSAGE_TOO_LARGE). The call resolves when
    // every part is acked; a part that fails fails the call (parts before it may be in: at least once, as
    // any retried publish).
    const parts: Array<Promise<void>> = [];
    let from = 0;
    let partBytes = 0;
    for (let i = 0; i < messages.length; i++) {
      if (i > from && partBytes + sizes[i] > this.maxBatchBytes) {
        parts.push(this.enqueue(topic, messages.slice(from, i), partBytes));
        from = i;
        partBytes = 0;
      }
      partBytes += sizes[i];
    }
    parts.push(this.enqueue(topic, messages.slice(from), partBytes));
    return Promise.all(parts).then(() => undefined);
  }

  private enqueue(topic: string, messages: Message[], bytes: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ topic, messages, bytes, resolve, reject });
      this.pendingCount += messages.length;
      this.pendingBytes += bytes;
      // Once closing, nothing lingers: the only senders left are dead letters of the last messages.
      if (this.closed || this.pendingCount >= this.options.maxBatchMessages || this.pendingBytes >= this.maxBatchBytes) void this.drain();
      else this.timer ??= setTimeout(() => void this.drain(), this.options.lingerMs);
    });
  }

  /** Sends everything queued and waits for it. */
  async flush(): Promise<void> {
    while (this.pending.length > 0 || this.draining) await this.drain();
  }

  /** Refuses new messages (dead letters aside), then flushes. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  private drain(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.draining ??= this.sendAll().finally(() => {
      this.draining = undefined;
    });
    return this.draining;
  }

  private async sendAll(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.takeBatch();
      try {
        await this.sendBatch(groupByTopic(batch));
        for (const p of batch) p.resolve();
      } catch (error) {
        const failure = new PublishError([...new Set(batch.map((p) => p.topic))], anyRetriable(error), { cause: error });
        for (const p of batch) p.reject(failure);
      }
    }
  }

  // Whole parts only (a call under the limit is one part), so a part's messages succeed or fail together.
  private takeBatch(): Pending[] {
    const batch: Pending[] = [];
    let count = 0;
    let bytes = 0;
    const fits = (p: Pending) => count + p.messages.length <= this.options.maxBatchMessages && bytes + p.bytes <= this.maxBatchBytes;
    while (this.pending.length > 0 && (batch.length === 0 || fits(this.pending[0]))) {
      const next = this.pending.shift() as Pending;
      count += next.messages.length;
      bytes += next.bytes;
      batch.push(next);
    }
    this.pendingCount -= count;
    this.pendingBytes -= bytes;
    return batch;
  }

  private get maxBatchBytes(): number {
    return this.options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES;
  }
}

function sizeOf(m: Message): number {
  const len = (v: Buffer | string | null | undefined) => (v == null ? 0 : typeof v === 'string' ? Buffer.byteLength(v) : v.length);
  let headers = 0;
  for (const [k, v] of Object.entries(m.headers ?? {})) headers += k.length + (Array.isArray(v) ? v.reduce((s: number, x) => s + len(x), 0) : len(v as Buffer | string | undefined));
  return len(m.key) + len(m.value) + headers;
}

function groupByTopic(batch: Pending[]): TopicMessages[] {
  const byTopic = new Map<string, Message[]>();
  for (const p of batch) {
    const list = byTopic.get(p.topic) ?? [];
    list.push(...p.messages);
    byTopic.set(p.topic, list);
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

// kafkajs wraps a retriable error in a non-retriable "retries exceeded" once its own retries run
// out; for our consumers the outage is still transient, so the cause decides.
function anyRetriable(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (isRetriable(e)) return true;
  }
  return false;
}
