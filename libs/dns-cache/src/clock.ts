// Time and timers come in through one small interface, so tests drive them by hand instead of sleeping.

export interface Clock {
  /** Milliseconds since the epoch (entries hold absolute instants, shared between processes through L2). */
  now(): number;
  /** Runs `fn` once after `ms`; must not keep the process alive. */
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer: (fn, ms) => setTimeout(fn, Math.max(0, ms)).unref(),
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
