// After an L2 failure the cache skips Redis for a moment instead of paying a timeout on every call, then tries
// again by itself: the first call after the pause is the probe, and its success closes the circuit.

export class L2Circuit {
  private openUntil = 0;
  private failedOnce = false;

  constructor(
    private readonly retryMs: number,
    private readonly now: () => number,
  ) {}

  usable(): boolean {
    return this.now() >= this.openUntil;
  }

  /** Whether the last call failed (true until a call succeeds again). */
  get degraded(): boolean {
    return this.failedOnce;
  }

  failed(): void {
    this.failedOnce = true;
    this.openUntil = this.now() + this.retryMs;
  }

  /** Returns true when this success ends a failure (the caller then replays what it could not do). */
  succeeded(): boolean {
    const recovered = this.failedOnce;
    this.failedOnce = false;
    return recovered;
  }
}
