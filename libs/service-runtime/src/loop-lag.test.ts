import type { Meter } from '@opentelemetry/api';
import { observeLoopLag } from './loop-lag';

/** A meter whose one histogram keeps what it was given. */
function recordingMeter() {
  const recorded: number[] = [];
  const meter = { createHistogram: () => ({ record: (v: number) => recorded.push(v) }) } as unknown as Meter;
  return { meter, recorded };
}

describe('observeLoopLag', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('records how late each probe fired: 0 on time, the delay when the loop was held up', () => {
    const { meter, recorded } = recordingMeter();
    let clock = 1000;
    const stop = observeLoopLag(meter, () => clock);
    clock = 1020; // on time
    jest.advanceTimersByTime(20);
    clock = 1020 + 20 + 35; // the loop could not run for 35 ms
    jest.advanceTimersByTime(20);
    clock = 1075 + 20; // on time again, counted from when the last one fired
    jest.advanceTimersByTime(20);
    expect(recorded).toEqual([0, 35, 0]);
    stop();
    jest.advanceTimersByTime(100);
    expect(recorded).toHaveLength(3);
  });
});
