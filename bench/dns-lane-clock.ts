/**
 * A virtual clock for bench:dns with one timeline per lane, so one DnsCache can replay a simulated day while
 * its real I/O (UDP to the test server, Redis) runs concurrently.
 *
 * Why lanes: with a real upstream and a real Redis every miss costs real round trips (~0.3-1 ms), and a day
 * of monitoring 1,000 domains needs hundreds of thousands of them. Replayed one at a time that is minutes per
 * run. The questions are split into lanes by name (every name always in the same lane); each lane has its own
 * virtual time and replays its own events in order, and the lanes run concurrently. The cache sees one clock:
 * `now()` and `setTimer()` read the lane of the calling async context (AsyncLocalStorage), so everything a
 * lookup or a refresh of a name does (its L2 reads, its lease, its upstream query, its prefetch timer) runs on
 * that name's lane time. A name's whole life is on one timeline; names in different lanes never share an
 * entry, a flight, a lease or a key, so their timelines need not agree.
 *
 * Within a lane, virtual time stands still while real I/O runs (the replay waits for the lane's pending work
 * before moving on): the simulated upstream latency is zero, the real one is measured on real time.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Clock } from '@dmarc/dns-cache';

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
  lane: Lane;
  cancelled: boolean;
}

/** One timeline: its time, its timers (a binary heap on (at, seq); cancelled ones are skipped when popped). */
export class Lane {
  t: number;
  /** Real async operations (L2, upstream) started in this lane and not settled yet. */
  pending = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly heap: Timer[] = [];

  constructor(
    readonly id: number,
    start: number,
  ) {
    this.t = start;
  }

  begin(): void {
    this.pending++;
  }

  end(): void {
    if (--this.pending > 0 || this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Resolves when no operation is pending (at once if none is). */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  push(timer: Timer): void {
    const h = this.heap;
    h.push(timer);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  /** The earliest live timer due by `target`, removed. */
  takeDue(target: number): Timer | undefined {
    const h = this.heap;
    while (h.length > 0) {
      const top = h[0];
      if (top.cancelled) {
        this.pop();
        continue;
      }
      if (top.at > target) return undefined;
      this.pop();
      return top;
    }
    return undefined;
  }

  get timers(): number {
    return this.heap.length;
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && before(h[l], h[m])) m = l;
      if (r < h.length && before(h[r], h[m])) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m], h[i]];
      i = m;
    }
  }
}

const before = (a: Timer, b: Timer): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq);

export class LaneClock implements Clock {
  private readonly als = new AsyncLocalStorage<Lane>();
  private seq = 0;
  /** Calls made outside any lane (should stay 0: every lookup and timer runs inside one). */
  outsideLane = 0;

  /** The calling context's lane. */
  lane(): Lane | undefined {
    return this.als.getStore();
  }

  /** Runs `fn` (and every async continuation it starts) in `lane`. */
  run<T>(lane: Lane, fn: () => T): T {
    return this.als.run(lane, fn);
  }

  now(): number {
    const lane = this.als.getStore();
    if (lane) return lane.t;
    this.outsideLane++;
    return 0;
  }

  setTimer(fn: () => void, ms: number): unknown {
    const lane = this.als.getStore();
    if (!lane) throw new Error('LaneClock: setTimer outside a lane');
    const timer: Timer = { at: lane.t + Math.max(0, ms), seq: this.seq++, fn, lane, cancelled: false };
    lane.push(timer);
    return timer;
  }

  clearTimer(handle: unknown): void {
    if (handle) (handle as Timer).cancelled = true;
  }

  /**
   * Fires `lane`'s earliest timer due by `target` (the lane's time moved to its instant, the timer run inside
   * the lane); false when none is due. The replay awaits the work a timer starts before firing the next.
   */
  step(lane: Lane, target: number): boolean {
    const due = lane.takeDue(target);
    if (!due) return false;
    lane.t = Math.max(lane.t, due.at);
    this.als.run(lane, due.fn);
    return true;
  }
}

/**
 * The other replay processes, seen from one of them. A solo lookup holds the machine-wide solo turn: granted
 * once every other replay process is stopped (SoloArbiter), so none of them runs replay work (or its GC) on a
 * core while it is measured; given back when it is over. Solos of different processes take turns.
 */
export interface SoloPeers {
  acquire(): Promise<void>;
  release(): void;
}

/**
 * Runs a sampled lookup alone. The replay compresses a day into a minute or two, ~1,000 times a real service's
 * lookup rate, so a lookup awaited while 30 lanes replay around it measures mostly queueing on the event loop.
 * solo(fn) waits until every other lane is parked at its checkpoint (between two instants of its replay) and,
 * with `peers`, until the other replay processes are stopped; runs fn, and lets them go: the latency of a
 * lookup in a process with nothing else to do but its own lookups, on a machine where the bench's other
 * replay is not competing with it and with Redis for the cores.
 */
export class SoloGate {
  private requested = false;
  private release: Promise<void> = Promise.resolve();
  private parked = 0;
  private mutex: Promise<void> = Promise.resolve();
  /** The solo waiting for every other lane to park, woken by the last one (no polling). */
  private allParked?: () => void;

  constructor(
    private active: number,
    private readonly peers?: SoloPeers,
  ) {}

  /** Called by each lane between two instants: parks it while a solo lookup runs. */
  async checkpoint(): Promise<void> {
    if (!this.requested) return;
    this.parked++;
    this.check();
    await this.release;
    this.parked--;
  }

  /** A lane that has replayed all its events. */
  done(): void {
    this.active--;
    this.check();
  }

  async solo<T>(fn: () => Promise<T>): Promise<T> {
    // Waiting for another lane's solo counts as parked.
    this.parked++;
    this.check();
    const previous = this.mutex;
    let unlock!: () => void;
    this.mutex = new Promise((resolve) => (unlock = resolve));
    await previous;
    this.parked--;
    let open!: () => void;
    this.release = new Promise((resolve) => (open = resolve));
    this.requested = true;
    let acquired = false;
    try {
      if (this.parked < this.active - 1) await new Promise<void>((resolve) => (this.allParked = resolve));
      // Only once this process is quiet: the other processes are stopped from here until release().
      if (this.peers) {
        await this.peers.acquire();
        acquired = true;
      }
      return await fn();
    } finally {
      if (acquired) this.peers!.release();
      this.requested = false;
      open();
      unlock();
    }
  }

  private check(): void {
    if (this.allParked && this.parked >= this.active - 1) {
      const wake = this.allParked;
      this.allParked = undefined;
      wake();
    }
  }
}

type SoloMessage = { solo: 'acquire' | 'release' | 'granted' };
const isSoloMessage = (m: unknown): m is SoloMessage => typeof m === 'object' && m !== null && 'solo' in m;

/** A child's side of the machine-wide solo turn, over the IPC channel to the parent (SoloArbiter). */
export class ChildPeers implements SoloPeers {
  private readonly granted: Array<() => void> = [];

  constructor() {
    process.on('message', (m: unknown) => {
      if (isSoloMessage(m) && m.solo === 'granted') this.granted.shift()?.();
    });
  }

  acquire(): Promise<void> {
    return new Promise((resolve) => {
      this.granted.push(resolve);
      process.send?.({ solo: 'acquire' } satisfies SoloMessage);
    });
  }

  release(): void {
    process.send?.({ solo: 'release' } satisfies SoloMessage);
  }
}

/**
 * The parent's side: one solo turn at a time across the runs. A child asking for it gets it once every other
 * live child is stopped (SIGSTOP: its main thread and its GC threads; whatever it was doing resumes on
 * SIGCONT when the turn is given back, its virtual time unmoved). A stop that lands inside one of the stopped
 * child's own timed operations (an L1 peek, a lookup under replay load) makes that sample slower, never faster.
 */
export class SoloArbiter {
  private readonly children = new Set<ChildProcess>();
  private readonly queue: ChildProcess[] = [];
  private holder?: ChildProcess;
  private stopped: ChildProcess[] = [];
  /** Turns granted, for the JSON line. */
  turns = 0;

  add(proc: ChildProcess): void {
    this.children.add(proc);
    proc.on('message', (m: unknown) => {
      if (!isSoloMessage(m)) return;
      if (m.solo === 'acquire') {
        this.queue.push(proc);
        this.next();
      } else if (m.solo === 'release' && this.holder === proc) {
        this.end();
      }
    });
    proc.on('exit', () => {
      this.children.delete(proc);
      this.stopped = this.stopped.filter((c) => c !== proc);
      const queued = this.queue.indexOf(proc);
      if (queued >= 0) this.queue.splice(queued, 1);
      if (this.holder === proc) this.end();
    });
  }

  /** Lets every stopped child go (the parent's exit path). */
  close(): void {
    for (const c of this.stopped) signal(c, 'SIGCONT');
    this.stopped = [];
  }

  private next(): void {
    if (this.holder || this.queue.length === 0) return;
    const holder = (this.holder = this.queue.shift()!);
    this.turns++;
    this.stopped = [...this.children].filter((c) => c !== holder && signal(c, 'SIGSTOP'));
    for (const c of this.stopped) waitStopped(c);
    if (holder.connected) holder.send({ solo: 'granted' } satisfies SoloMessage);
  }

  private end(): void {
    this.close();
    this.holder = undefined;
    this.next();
  }
}

function signal(proc: ChildProcess, sig: 'SIGSTOP' | 'SIGCONT'): boolean {
  try {
    return proc.exitCode === null && proc.signalCode === null && proc.kill(sig);
  } catch {
    return false;
  }
}

/** SIGSTOP takes effect asynchronously; the turn starts once the child shows as stopped (a few µs; 5 ms at most). */
function waitStopped(proc: ChildProcess): void {
  const until = performance.now() + 5;
  while (performance.now() < until) {
    try {
      const stat = readFileSync(`/proc/${proc.pid}/stat`, 'utf8');
      if (stat.charAt(stat.lastIndexOf(')') + 2) === 'T') return;
    } catch {
      return;
    }
  }
}
