// The "in progress" state of one question in this process. The first caller starts the flight; every
// concurrent caller awaits `ready` and then re-reads the entry from the top. `ready` settles as soon as
// something servable is in L1 (a stale copy found in L2 while the refresh goes on) or the flight ends.
import type { DnsEntry } from './entry';

export type FilledFrom = 'l2' | 'upstream';

export interface Filled {
  entry: DnsEntry;
  source: FilledFrom;
}

export class Flight {
  readonly ready: Promise<Filled | undefined>;
  private settle!: (filled: Filled | undefined) => void;
  private settled = false;
  private finished = false;

  /** `onFinish` takes the flight out of the in-progress map. */
  constructor(private readonly onFinish: () => void) {
    this.ready = new Promise((resolve) => (this.settle = resolve));
  }

  /** Something servable is in L1 but the flight goes on (a stale copy while the refresh runs). */
  markReady(filled: Filled | undefined): void {
    if (this.settled) return;
    this.settled = true;
    this.settle(filled);
  }

  /** The answer is final: no longer in progress, and everyone waiting is woken. */
  finish(filled: Filled | undefined): void {
    if (!this.finished) {
      this.finished = true;
      this.onFinish();
    }
    this.markReady(filled);
  }
}
