// Coalescing across processes: the first process to miss a key takes a short Redis lease (SET NX PX) and
// loads; the others, instead of loading too, re-read L2 every poll interval until the value lands, the lease
// is gone (holder failed or finished without writing: they try to take it), or they have waited long enough
// (then they load unshared). A holder that dies is replaced when its lease expires. Polling rather than
// pub/sub keeps it to one mechanism; a waiter pays at most one poll interval after the value lands.
import { randomUUID } from 'node:crypto';
import type { CacheEntry } from './entry';
import type { CacheL2Driver } from './l2-driver';

export type SharedOutcome<E> =
  /** Load from the source. `token` is absent when no lease was taken (disabled, L2 unreachable, waited too long). */
  | { kind: 'load'; token?: string }
  /** Another process's value landed in L2. */
  | { kind: 'landed'; entry: E };

/** `~` is always escaped inside key parts, so no entry or index key can equal a lease key. */
export const leaseKeyOf = (key: string): string => `${key}:~lease`;

export interface SharedLoadOptions {
  /** How long a lease holds; 0 disables sharing. */
  leaseMs: number;
  pollMs: number;
  /** After this long waiting on someone else's lease, load anyway. */
  maxWaitMs: number;
  /** Told of each L2 failure (the cache's circuit). */
  onL2Error: () => void;
}

export class SharedLoad {
  constructor(
    private readonly l2: CacheL2Driver,
    private readonly options: SharedLoadOptions,
  ) {}

  get enabled(): boolean {
    return this.options.leaseMs > 0 && this.l2.acquireLease !== undefined;
  }

  /**
   * Takes the lease of `key` or waits for another process's value. `readL2` re-reads the key (undefined: not
   * there, or L2 unreachable); `abandoned` says the wait no longer makes sense (an invalidation arrived).
   */
  async acquireOrWait<E extends CacheEntry>(key: string, readL2: () => Promise<E | undefined>, abandoned: () => boolean): Promise<SharedOutcome<E>> {
    if (!this.enabled) return { kind: 'load' };
    // Unique per attempt, so a release can only ever drop the lease this attempt took.
    const token = randomUUID();
    const polls = Math.max(1, Math.ceil(this.options.maxWaitMs / this.options.pollMs));
    for (let i = 0; i <= polls; i++) {
      const taken = await this.tryAcquire(key, token);
      if (taken === undefined) return { kind: 'load' };
      if (taken) {
        // Taken just now: a value may have landed between our miss and the lease.
        const landed = await readL2();
        if (landed) {
          await this.release({ key, token });
          return { kind: 'landed', entry: landed };
        }
        return { kind: 'load', token };
      }
      if (i === polls || abandoned()) break;
      await new Promise((resolve) => setTimeout(resolve, this.options.pollMs));
      const landed = await readL2();
      if (landed) return { kind: 'landed', entry: landed };
    }
    return { kind: 'load' };
  }

  async release(lease: { key: string; token: string }): Promise<void> {
    try {
      await this.l2.releaseLease?.(leaseKeyOf(lease.key), lease.token);
    } catch {
      // It expires by itself.
      this.options.onL2Error();
    }
  }

  /** true: taken; false: someone else holds it; undefined: L2 could not be asked. */
  private async tryAcquire(key: string, token: string): Promise<boolean | undefined> {
    try {
      return await this.l2.acquireLease!(leaseKeyOf(key), token, this.options.leaseMs);
    } catch {
      this.options.onL2Error();
      return undefined;
    }
  }
}
