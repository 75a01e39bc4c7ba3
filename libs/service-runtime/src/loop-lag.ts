import type { Meter } from '@opentelemetry/api';

/** How often the loop is probed. Coarse enough to cost nothing (50 timers a second), fine enough for a 10 ms target. */
const PROBE_MS = 20;

/**
 * `dmarc_event_loop_lag` (ms): how late a timer due every PROBE_MS fired, i.e. how long the process could not
 * answer anything, whether it was busy (a long task, a GC pause) or waiting for a CPU. Beside the request
 * histogram, which starts its clock only once a request is read, it tells a latency tail spent in the server
 * from one spent before the server could look. Returns the stop.
 */
export function observeLoopLag(meter: Meter, now: () => number = () => performance.now()): () => void {
  const lag = meter.createHistogram('dmarc_event_loop_lag', {
    unit: 'ms',
    description: `how late a timer due every ${PROBE_MS} ms fired: time the event loop could not run (busy, or waiting for a CPU)`,
    advice: { explicitBucketBoundaries: [1, 2, 5, 10, 20, 50, 100, 250, 1000, 5000] },
  });
  let due = now() + PROBE_MS;
  const timer = setInterval(() => {
    const at = now();
    lag.record(Math.max(0, at - due));
    due = at + PROBE_MS;
  }, PROBE_MS);
  timer.unref();
  return () => clearInterval(timer);
}
