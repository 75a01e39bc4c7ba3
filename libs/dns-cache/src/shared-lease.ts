// The in-progress state shared between processes: a short Redis lease (SET NX PX) per question. The process
// that takes it asks the upstream; the others wait for the answer to land (pub/sub on the key's channel),
// re-reading L2 and retrying the lease every poll interval, so a missed message costs one poll and a holder
// that died is replaced as soon as its lease expires.
import { randomUUID } from 'node:crypto';
import type { Clock } from './clock';
import { decodeEntry, isNewer, type DnsEntry } from './entry';
import { isServable } from './freshness';
import type { L2Driver, L2Lease } from './l2-driver';
import type { ResolvedTiming } from './options';

export type LeaseOutcome =
  /** Ask the upstream. `lease` is absent when L2 could not be reached: the query goes ahead unshared. */
  | { kind: 'acquired'; lease?: L2Lease }
  /** Another process's answer landed (or was already there). */
  | { kind: 'landed'; entry: DnsEntry };

export const leaseKey = (key: string): string => `${key}:lease`;
export const landingChannel = (key: string): string => `${key}:landed`;

export class SharedLease {
  private readonly owner = randomUUID();
  private seq = 0;

  constructor(
    private readonly l2: L2Driver,
    private readonly timing: ResolvedTiming,
    private readonly clock: Clock,
    private readonly onL2Error: (error: unknown) => void,
    private readonly onWait: () => void,
  ) {}

  /** Takes the lease of `key`, or waits until an entry newer than `known` lands there. */
  async acquireOrWait(key: string, known: DnsEntry | undefined): Promise<LeaseOutcome> {
    const lease: L2Lease = { key: leaseKey(key), token: `${this.owner}:${++this.seq}` };
    const first = await this.tryAcquire(lease);
    if (first) return first;
    this.onWait();

    const mailbox = new Mailbox(this.clock);
    let unsubscribe: (() => void) | undefined;
    try {
      unsubscribe = await this.l2.subscribe(landingChannel(key), (message) => mailbox.put(message));
    } catch (error) {
      // Without pub/sub the poll below still finds the answer, only later.
      this.onL2Error(error);
    }
    try {
      const deadline = this.clock.now() + this.timing.leaseMaxWaitMs;
      for (;;) {
        // Subscribed first, then re-read: an answer that landed in between is found here.
        const landed = this.landed(await this.read(key), known);
        if (landed) return { kind: 'landed', entry: landed };
        const taken = await this.tryAcquire(lease);
        if (taken) return taken;
        const remaining = deadline - this.clock.now();
        // The holder is stuck (or its lease keeps being renewed by someone): ask the upstream unshared.
        if (remaining <= 0) return { kind: 'acquired' };
        const message = await mailbox.next(Math.min(this.timing.leasePollMs, remaining));
        const announced = message === undefined ? undefined : this.landed(decodeEntry(message), known);
        if (announced) return { kind: 'landed', entry: announced };
      }
    } finally {
      unsubscribe?.();
      mailbox.close();
    }
  }

  /**
   * Keeps `lease` alive while a slow upstream query runs (renewed at half its life), so a live holder is not
   * replaced, while a dead one still is within one lease time. Returns the stop function.
   */
  keep(lease: L2Lease): () => void {
    let timer: unknown;
    let stopped = false;
    const renew = (): void => {
      timer = this.clock.setTimer(() => {
        this.l2.renewLease(lease, this.timing.leaseMs).then(
          (held) => {
            if (held && !stopped) renew();
          },
          (error: unknown) => this.onL2Error(error),
        );
      }, this.timing.leaseMs / 2);
    };
    renew();
    return () => {
      stopped = true;
      this.clock.clearTimer(timer);
    };
  }

  async release(lease: L2Lease): Promise<void> {
    try {
      await this.l2.releaseLease(lease);
    } catch (error) {
      this.onL2Error(error);
    }
  }

  private landed(entry: DnsEntry | undefined, known: DnsEntry | undefined): DnsEntry | undefined {
    return entry && isNewer(entry, known) && isServable(entry, this.clock.now()) ? entry : undefined;
  }

  private async tryAcquire(lease: L2Lease): Promise<LeaseOutcome | undefined> {
    try {
      return (await this.l2.acquireLease(lease, this.timing.leaseMs)) ? { kind: 'acquired', lease } : undefined;
    } catch (error) {
      this.onL2Error(error);
      return { kind: 'acquired' };
    }
  }

  private async read(key: string): Promise<DnsEntry | undefined> {
    try {
      return decodeEntry(await this.l2.get(key));
    } catch (error) {
      this.onL2Error(error);
      return undefined;
    }
  }
}

/** Messages from the landing channel, taken one at a time with a timeout on the clock. */
class Mailbox {
  private readonly queue: string[] = [];
  private waiter?: (message: string | undefined) => void;
  private timer: unknown;

  constructor(private readonly clock: Clock) {}

  put(message: string): void {
    if (this.waiter) this.settle(message);
    else this.queue.push(message);
  }

  next(timeoutMs: number): Promise<string | undefined> {
    if (this.queue.length > 0) return Promise.resolve(this.queue.shift());
    return new Promise((resolve) => {
      this.waiter = resolve;
      this.timer = this.clock.setTimer(() => this.settle(undefined), timeoutMs);
    });
  }

  close(): void {
    this.settle(undefined);
  }

  private settle(message: string | undefined): void {
    const waiter = this.waiter;
    if (!waiter) return;
    this.waiter = undefined;
    this.clock.clearTimer(this.timer);
    waiter(message);
  }
}
