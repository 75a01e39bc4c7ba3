import { LIVE_TREND_TTL_MS, trendTtlMs } from './dashboard-routes';

describe('trendTtlMs', () => {
  const now = Date.parse('2026-11-25T12:00:00Z');

  it('keeps a trend that ended days ago for the type’s 24 h (no override)', () => {
    expect(trendTtlMs('2026-11-21', now)).toBeUndefined();
    expect(trendTtlMs('2025-03-02', now)).toBeUndefined();
  });

  it('keeps one reaching into the days late reports still change for 30 s only', () => {
    for (const to of ['2026-11-22', '2026-11-24', '2026-11-25', '2026-12-01']) expect(trendTtlMs(to, now)).toBe(LIVE_TREND_TTL_MS);
  });
});
