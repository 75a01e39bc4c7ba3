/** When a write-behind buffer flushes. */
export interface WriteBehindOptions {
  /** A flush starts as soon as this many rows are pending, and takes at most this many (whole additions). Default 5000. */
  maxRows?: number;
  /**
   * How long the first pending addition waits for company before a flush starts, when no flush is running.
   * Default 0: group commit, a flush starts at once when idle, and what arrives while it runs makes the next
   * one. More gives bigger flushes for that much latency on every addition.
   */
  lingerMs?: number;
  /**
   * Past this age, pending additions start a flush even while another one runs (at most two at once), so a
   * slow flush (a huge report) does not hold everything behind it. Default 200 ms.
   */
  maxDelayMs?: number;
}

export interface WriteBehindDeps<I, R> {
  /** Writes the items of a flush, all or nothing; one result per item, in order. */
  flush(items: I[]): Promise<R[]>;
  /** Rows an item adds to the pending size (counter rows of a chunk). */
  rowsOf(item: I): number;
  now?: () => number;
  /** Timers, replaceable in tests. */
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (timer: unknown) => void;
}

interface Pending<I, R> {
  items: readonly I[];
  rows: number;
  at: number;
  resolve(results: R[]): void;
  reject(error: unknown): void;
}

const MAX_IN_FLIGHT = 2;

/**
 * Buffers additions from several callers and writes them in batches, by size or by time; each caller's
 * promise settles only when the flush that holds its items has committed (or failed). So a consumer that
 * commits its offsets after `add` resolves never commits what is not written: a crash loses only what
 * Kafka will deliver again. Items from one caller are never split across flushes. The flush must be
 * idempotent: after a failed flush of several additions, each is flushed again on its own.
 */
export class WriteBehindBuffer<I, R> {
  private readonly maxRows: number;
  private readonly lingerMs: number;
  private readonly maxDelayMs: number;
  private readonly now: () => number;
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly clearTimer: (timer: unknown) => void;
  private pending: Array<Pending<I, R>> = [];
  private pendingRows = 0;
  private inFlight = 0;
  private timer: unknown;
  private timerDue = Infinity;
  private readonly flushes = new Set<Promise<void>>();

  constructor(
    private readonly deps: WriteBehindDeps<I, R>,
    options: WriteBehindOptions = {},
  ) {
    this.maxRows = options.maxRows ?? 5000;
    this.lingerMs = options.lingerMs ?? 0;
    this.maxDelayMs = options.maxDelayMs ?? 200;
    if (!(this.maxRows >= 1) || !(this.lingerMs >= 0) || !(this.maxDelayMs >= this.lingerMs)) {
      throw new RangeError(`write-behind: maxRows ${this.maxRows} must be >= 1 and 0 <= lingerMs ${this.lingerMs} <= maxDelayMs ${this.maxDelayMs}`);
    }
    this.now = deps.now ?? Date.now;
    this.setTimer = deps.setTimer ?? ((fn, ms) => setTimeout(fn, ms).unref());
    this.clearTimer = deps.clearTimer ?? ((t) => clearTimeout(t as NodeJS.Timeout));
  }

  /** Rows waiting for a flush. */
  get rows(): number {
    return this.pendingRows;
  }

  /** Resolves with one result per item once they are written; rejects with the flush's error. */
  add(items: readonly I[]): Promise<R[]> {
    if (items.length === 0) return Promise.resolve([]);
    return new Promise<R[]>((resolve, reject) => {
      const rows = items.reduce((s, item) => s + this.deps.rowsOf(item), 0);
      this.pending.push({ items, rows, at: this.now(), resolve, reject });
      this.pendingRows += rows;
      this.schedule();
    });
  }

  /** Flushes everything pending now and waits for every flush running: for shutdown. */
  async drain(): Promise<void> {
    while (this.pending.length > 0 || this.flushes.size > 0) {
      if (this.pending.length > 0) this.start();
      await Promise.allSettled([...this.flushes]);
    }
  }

  // Decides whether a flush starts now; if not, arms one timer for the moment one would.
  private schedule(): void {
    while (this.pending.length > 0 && this.inFlight < MAX_IN_FLIGHT) {
      const age = this.now() - this.pending[0].at;
      const due = this.pendingRows >= this.maxRows || age >= (this.inFlight === 0 ? this.lingerMs : this.maxDelayMs);
      if (!due) break;
      this.start();
    }
    if (this.pending.length === 0 || this.inFlight >= MAX_IN_FLIGHT) return this.disarm();
    // When idle the linger decides; while a flush runs, its end reschedules, and only the age limit may cut in.
    const due = this.pending[0].at + (this.inFlight === 0 ? this.lingerMs : this.maxDelayMs);
    if (this.timer !== undefined && this.timerDue <= due) return;
    this.disarm();
    this.timerDue = due;
    this.timer = this.setTimer(() => {
      this.timer = undefined;
      this.timerDue = Infinity;
      this.schedule();
    }, Math.max(0, due - this.now()));
  }

  private disarm(): void {
    if (this.timer === undefined) return;
    this.clearTimer(this.timer);
    this.timer = undefined;
    this.timerDue = Infinity;
  }

  private start(): void {
    // Whole additions, oldest first, up to maxRows (always at least one, however big).
    let rows = 0;
    let take = 0;
    while (take < this.pending.length && (take === 0 || rows + this.pending[take].rows <= this.maxRows)) rows += this.pending[take++].rows;
    const batch = this.pending.splice(0, take);
    this.pendingRows -= rows;
    this.inFlight++;
    const flush = this.run(batch).finally(() => {
      this.inFlight--;
      this.flushes.delete(flush);
      this.schedule();
    });
    this.flushes.add(flush);
  }

  private async run(batch: Array<Pending<I, R>>): Promise<void> {
    const items = batch.flatMap((p) => p.items);
    let results: R[];
    try {
      results = await this.deps.flush(items);
    } catch (error) {
      if (batch.length === 1) return batch[0].reject(error);
      // One caller's bad item must not fail the others': each addition alone, so only its own promise rejects.
      for (const p of batch) await this.deps.flush([...p.items]).then(p.resolve, p.reject);
      return;
    }
    let at = 0;
    for (const p of batch) {
      p.resolve(results.slice(at, at + p.items.length));
      at += p.items.length;
    }
  }
}
