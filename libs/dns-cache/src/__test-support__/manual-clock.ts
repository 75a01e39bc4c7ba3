// A clock the test moves by hand: timers fire, in order, only inside advance().
import type { Clock } from '../clock';

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
}

export class ManualClock implements Clock {
  private timers: Timer[] = [];
  private seq = 0;

  constructor(private t = Date.UTC(2026, 0, 1)) {}

  now(): number {
    return this.t;
  }

  setTimer(fn: () => void, ms: number): unknown {
    const timer = { at: this.t + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.push(timer);
    return timer;
  }

  clearTimer(handle: unknown): void {
    this.timers = this.timers.filter((t) => t !== handle);
  }

  /** Moves time forward by `ms`, firing due timers at their own instants. */
  advance(ms: number): void {
    this.advanceTo(this.t + ms);
  }

  advanceTo(target: number): void {
    for (let due = this.takeDue(target); due; due = this.takeDue(target)) due.fn();
    this.t = Math.max(this.t, target);
  }

  /**
   * Like advanceTo, but lets the async work each timer starts run (at that timer's instant) before the
   * next one fires: simulated latency and refreshes then happen at their own times.
   */
  async runTo(target: number, rounds = 5): Promise<void> {
    for (let due = this.takeDue(target); due; due = this.takeDue(target)) {
      due.fn();
      await settle(rounds);
    }
    this.t = Math.max(this.t, target);
    await settle(rounds);
  }

  /** Resolves once `ms` of this clock have passed (for simulated latency). */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.setTimer(resolve, ms));
  }

  /** The earliest timer due by `target`, removed, with the clock moved to its instant. */
  private takeDue(target: number): Timer | undefined {
    const due = this.timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
    if (!due) return undefined;
    this.timers = this.timers.filter((t) => t !== due);
    this.t = Math.max(this.t, due.at);
    return due;
  }

  /** When the next timer is due (Infinity when none). */
  nextDueAt(): number {
    let at = Infinity;
    for (const t of this.timers) if (t.at < at) at = t.at;
    return at;
  }

  get pendingTimers(): number {
    return this.timers.length;
  }
}

/** Lets every pending promise chain run (async fakes settle on microtasks and immediates). */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
