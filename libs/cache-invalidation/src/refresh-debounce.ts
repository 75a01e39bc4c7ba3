/**
 * At most one run per key per window, the last one guaranteed: the first submit after a quiet window runs at
 * once (leading edge); submits inside the window are folded into one run at the window's end (trailing edge).
 *
 * Why: during an ingestion spike aggregation announces every flush of a domain's counters, a dozen times a
 * second. Dropping the domain's dashboard entries on each would empty the cache as fast as the dashboards fill
 * it, and every read would go to PostgreSQL (bench:cache measured 62 % of dashboard reads reaching the source).
 * Folding the drops bounds how stale a dashboard can be during a spike (one window) while the database sees one
 * load per entry per window. Configuration changes never come through here: they drop at once.
 *
 * A pending trailing run lives in this process: a crash loses it, and the entries it would have dropped live
 * out their TTL (the API caches figures that can still change for the write-invalidate TTL, 30 s).
 */
export class RefreshDebounce {
  private readonly lastRun = new Map<string, number>();
  private readonly pending = new Map<string, { timer: NodeJS.Timeout; run: () => Promise<void> }>();
  private closed = false;

  constructor(
    private readonly windowMs: number,
    private readonly onError: (key: string, error: unknown) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Runs `run` now (awaited) or folds it into the key's trailing run (returns at once). */
  async submit(key: string, run: () => Promise<void>): Promise<void> {
    const last = this.lastRun.get(key);
    const now = this.now();
    if (this.closed || this.windowMs <= 0 || last === undefined || now - last >= this.windowMs) {
      this.forget(key);
      this.lastRun.set(key, now);
      this.trim();
      await run();
      return;
    }
    const waiting = this.pending.get(key);
    if (waiting) {
      waiting.run = run; // the latest plan of the key wins; they drop the same entries
      return;
    }
    const timer = setTimeout(() => void this.fire(key), last + this.windowMs - now);
    timer.unref?.();
    this.pending.set(key, { timer, run });
  }

  /** Keys with a trailing run waiting. */
  get waiting(): number {
    return this.pending.size;
  }

  /** Runs every waiting trailing run now (graceful stop), and from then on runs each submit at once. */
  async flush(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.pending.keys()].map((key) => this.fire(key)));
  }

  private async fire(key: string): Promise<void> {
    const waiting = this.pending.get(key);
    if (!waiting) return;
    this.forget(key);
    this.lastRun.set(key, this.now());
    try {
      await waiting.run();
    } catch (error) {
      this.onError(key, error);
    }
  }

  private forget(key: string): void {
    const waiting = this.pending.get(key);
    if (waiting) clearTimeout(waiting.timer);
    this.pending.delete(key);
  }

  /** Keys whose window has passed carry nothing worth keeping: bounded memory whatever the number of domains. */
  private trim(): void {
    if (this.lastRun.size < 10_000) return;
    const horizon = this.now() - this.windowMs;
    for (const [key, at] of this.lastRun) if (at < horizon && !this.pending.has(key)) this.lastRun.delete(key);
  }
}
