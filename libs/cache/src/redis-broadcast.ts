// The broadcast on Redis pub/sub. Publishes go out on the given client; messages arrive on a dedicated
// subscriber connection duplicated from it (a subscribed connection can send nothing else). ioredis'
// own resubscribe is off: it reports 'ready' before the SUBSCRIBE is acknowledged, and a message published
// in that gap would be missed after the cache had already been told it was connected. We subscribe on every
// 'ready' and report connected only once Redis has acknowledged.
import type { Redis } from 'ioredis';
import { parseMessage, type BroadcastListener, type InvalidationBroadcast, type InvalidationMessage } from './broadcast';

export const DEFAULT_INVALIDATION_CHANNEL = 'dmarc:cache:invalidate';

export class RedisBroadcast implements InvalidationBroadcast {
  private readonly subscriber: Redis;
  private readonly listeners = new Set<BroadcastListener>();
  private connected = false;
  private closed = false;
  private closing?: Promise<void>;
  private readonly firstConnect: Promise<void>;

  constructor(
    private readonly publisher: Redis,
    readonly channel: string = DEFAULT_INVALIDATION_CHANNEL,
  ) {
    // The offline queue stays on for this connection: its only command is the SUBSCRIBE sent on 'ready'.
    this.subscriber = publisher.duplicate({ autoResubscribe: false, enableOfflineQueue: true, enableAutoPipelining: false });
    let connectedOnce: () => void = () => undefined;
    this.firstConnect = new Promise((resolve) => (connectedOnce = resolve));
    this.subscriber.on('ready', () => {
      this.subscriber.subscribe(this.channel).then(
        () => {
          if (this.closed || this.connected) return;
          this.connected = true;
          connectedOnce();
          for (const listener of [...this.listeners]) listener.onConnected?.();
        },
        // The connection dropped again before the acknowledgement; the next 'ready' tries again.
        () => undefined,
      );
    });
    this.subscriber.on('close', () => {
      if (!this.connected) return;
      this.connected = false;
      for (const listener of [...this.listeners]) listener.onDisconnected?.();
    });
    this.subscriber.on('message', (channel: string, raw: string) => {
      if (channel !== this.channel) return;
      const message = parseMessage(raw);
      if (message) for (const listener of [...this.listeners]) listener.onMessage(message);
    });
    // Errors show as the 'close' above; an unhandled 'error' event would kill the process.
    this.subscriber.on('error', () => undefined);
  }

  /** Resolves once the first subscription is acknowledged (or after `timeoutMs`, connected or not). */
  async ready(timeoutMs = 10_000): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.firstConnect, new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    return this.connected;
  }

  async publish(message: InvalidationMessage): Promise<void> {
    await this.publisher.publish(this.channel, JSON.stringify(message));
  }

  subscribe(listener: BroadcastListener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  isConnected(): boolean {
    return this.connected;
  }

  /** Idempotent: a second QUIT on a closing ioredis connection leaves a 2 s timer holding the process. */
  close(): Promise<void> {
    this.closed = true;
    this.connected = false;
    this.listeners.clear();
    this.closing ??= this.subscriber.quit().then(
      () => undefined,
      () => this.subscriber.disconnect(),
    );
    return this.closing;
  }
}
