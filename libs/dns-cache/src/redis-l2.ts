// The L2 driver on Redis (ioredis). The client is passed in (CONVENTIONS §8); pub/sub needs a connection of
// its own, duplicated from it and closed by close(). One channel per key, subscribed only while someone
// in this process waits on it, so a process hears only about the names it is waiting for.
import type { Redis } from 'ioredis';
import type { L2Driver, L2Lease } from './l2-driver';

// Compare-and-delete: a holder whose lease already expired must not drop its successor's.
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

// The landing in one command: store, tell the waiters, drop our lease if still ours. One script is less work
// for both ends than MULTI / SET / PUBLISH / EVAL / EXEC (five commands, five replies) on every upstream answer.
const LAND = `redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('publish', ARGV[3], ARGV[1])
if KEYS[2] and redis.call('get', KEYS[2]) == ARGV[4] then redis.call('del', KEYS[2]) end
return 1`;

const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;

export class RedisL2 implements L2Driver {
  private readonly subscriber: Redis;
  private readonly listeners = new Map<string, Set<(message: string) => void>>();
  /** One SUBSCRIBE / UNSUBSCRIBE at a time per channel, in order. */
  private readonly pending = new Map<string, Promise<unknown>>();

  constructor(private readonly redis: Redis) {
    // A subscriber connection sends nothing worth pipelining.
    this.subscriber = redis.duplicate({ enableAutoPipelining: false });
    this.subscriber.on('message', (channel: string, message: string) => {
      const set = this.listeners.get(channel);
      if (set) for (const fn of [...set]) fn(message);
    });
    // Errors surface on the commands; an unhandled 'error' event would kill the process.
    this.subscriber.on('error', () => undefined);
  }

  get(key: string): Promise<string | null> {
    return this.redis.get(key);
  }

  getMany(keys: readonly string[]): Promise<Array<string | null>> {
    return keys.length === 0 ? Promise.resolve([]) : this.redis.mget(...keys);
  }

  async land(key: string, value: string, ttlMs: number, channel: string, lease?: L2Lease): Promise<void> {
    const px = Math.max(1, Math.ceil(ttlMs));
    if (lease) await this.redis.eval(LAND, 2, key, lease.key, value, px, channel, lease.token);
    else await this.redis.eval(LAND, 1, key, value, px, channel);
  }

  async acquireLease(lease: L2Lease, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(lease.key, lease.token, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX')) === 'OK';
  }

  async renewLease(lease: L2Lease, ttlMs: number): Promise<boolean> {
    return (await this.redis.eval(RENEW, 1, lease.key, lease.token, Math.max(1, Math.ceil(ttlMs)))) === 1;
  }

  async releaseLease(lease: L2Lease): Promise<void> {
    await this.redis.eval(RELEASE, 1, lease.key, lease.token);
  }

  async subscribe(channel: string, onMessage: (message: string) => void): Promise<() => void> {
    let set = this.listeners.get(channel);
    const first = !set;
    if (!set) this.listeners.set(channel, (set = new Set()));
    // Registered before the await, so a concurrent unsubscribe never sees an empty set it should not drop.
    set.add(onMessage);
    const unsubscribe = (): void => {
      set.delete(onMessage);
      if (set.size === 0 && this.listeners.get(channel) === set) {
        this.listeners.delete(channel);
        void this.serial(channel, () => this.subscriber.unsubscribe(channel)).catch(() => undefined);
      }
    };
    try {
      // A later subscriber still waits for the first one's SUBSCRIBE to be acknowledged.
      await (first ? this.serial(channel, () => this.subscriber.subscribe(channel)) : this.pending.get(channel));
    } catch (error) {
      unsubscribe();
      throw error;
    }
    return unsubscribe;
  }

  async close(): Promise<void> {
    this.listeners.clear();
    await this.subscriber.quit().catch(() => this.subscriber.disconnect());
  }

  private serial(channel: string, op: () => Promise<unknown>): Promise<unknown> {
    const previous = this.pending.get(channel) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(op);
    this.pending.set(channel, next);
    void next.finally(() => {
      if (this.pending.get(channel) === next) this.pending.delete(channel);
    }).catch(() => undefined);
    return next;
  }
}
