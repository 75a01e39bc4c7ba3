// The L2 driver in memory: unit tests (several caches sharing one instance behave like processes sharing
// one Redis) and the embedded mode. Expiry follows the given clock, so tests move time by hand.
import { systemClock, type Clock } from './clock';
import type { L2Driver, L2Lease } from './l2-driver';

interface Stored {
  value: string;
  expiresAt: number;
}

export class MemoryL2 implements L2Driver {
  private readonly values = new Map<string, Stored>();
  private readonly listeners = new Map<string, Set<(message: string) => void>>();
  /** Operations served, for tests that count round trips. */
  operations = 0;
  /** When set, every operation rejects with it (an L2 outage). */
  failWith?: Error;

  constructor(private readonly clock: Clock = systemClock) {}

  async get(key: string): Promise<string | null> {
    this.touch();
    return this.read(key) ?? null;
  }

  async getMany(keys: readonly string[]): Promise<Array<string | null>> {
    this.touch();
    return keys.map((key) => this.read(key) ?? null);
  }

  async land(key: string, value: string, ttlMs: number, channel: string, lease?: L2Lease): Promise<void> {
    this.touch();
    this.values.set(key, { value, expiresAt: this.clock.now() + ttlMs });
    const subscribers = this.listeners.get(channel);
    if (subscribers) {
      // Redis delivers after the publish returns; so does this.
      for (const fn of [...subscribers]) queueMicrotask(() => fn(value));
    }
    if (lease) this.dropLease(lease);
  }

  async acquireLease(lease: L2Lease, ttlMs: number): Promise<boolean> {
    this.touch();
    if (this.read(lease.key) !== undefined) return false;
    this.values.set(lease.key, { value: lease.token, expiresAt: this.clock.now() + ttlMs });
    return true;
  }

  async renewLease(lease: L2Lease, ttlMs: number): Promise<boolean> {
    this.touch();
    if (this.read(lease.key) !== lease.token) return false;
    this.values.set(lease.key, { value: lease.token, expiresAt: this.clock.now() + ttlMs });
    return true;
  }

  async releaseLease(lease: L2Lease): Promise<void> {
    this.touch();
    this.dropLease(lease);
  }

  async subscribe(channel: string, onMessage: (message: string) => void): Promise<() => void> {
    this.touch();
    let set = this.listeners.get(channel);
    if (!set) this.listeners.set(channel, (set = new Set()));
    set.add(onMessage);
    return () => {
      set.delete(onMessage);
      if (set.size === 0 && this.listeners.get(channel) === set) this.listeners.delete(channel);
    };
  }

  /** Live keys (leases included), for tests that check the key layout. */
  keys(): string[] {
    return [...this.values.keys()].filter((key) => this.read(key) !== undefined);
  }

  /** Subscribed channels, for tests that check nothing leaks. */
  get channelCount(): number {
    return this.listeners.size;
  }

  private dropLease(lease: L2Lease): void {
    if (this.read(lease.key) === lease.token) this.values.delete(lease.key);
  }

  private read(key: string): string | undefined {
    const stored = this.values.get(key);
    if (!stored) return undefined;
    if (stored.expiresAt <= this.clock.now()) {
      this.values.delete(key);
      return undefined;
    }
    return stored.value;
  }

  private touch(): void {
    this.operations++;
    if (this.failWith) throw this.failWith;
  }
}
