import { daysOf, resolveDayRange } from './day-range';

const now = Date.UTC(2025, 2, 10, 15, 30);

describe('resolveDayRange', () => {
  it('takes both ends as given, inclusive', () => {
    expect(resolveDayRange('2025-02-27', '2025-03-02', { now })).toEqual({ from: '2025-02-27', to: '2025-03-02' });
    expect(daysOf({ from: '2025-02-27', to: '2025-03-02' })).toEqual(['2025-02-27', '2025-02-28', '2025-03-01', '2025-03-02']);
  });

  it('defaults to the last 30 days up to today (UTC)', () => {
    expect(resolveDayRange(undefined, undefined, { now })).toEqual({ from: '2025-02-09', to: '2025-03-10' });
    expect(resolveDayRange('2025-03-01', undefined, { now })).toEqual({ from: '2025-03-01', to: '2025-03-10' });
    expect(resolveDayRange(undefined, '2025-01-31', { now, defaultDays: 7 })).toEqual({ from: '2025-01-25', to: '2025-01-31' });
  });

  it.each([
    ['2025-02-30', '2025-03-01', 'from'],
    ['2025-3-1', '2025-03-01', 'from'],
    ['2025-03-01', 'tomorrow', 'to'],
    ['2025-03-01', '2025-03-01T00:00:00Z', 'to'],
    ['2025-03-02', '2025-03-01', 'from'],
    ['2023-01-01', '2025-03-01', 'from'],
  ])('refuses from=%s to=%s naming %s', (from, to, field) => {
    expect(() => resolveDayRange(from, to, { now })).toThrow(expect.objectContaining({ code: 'AGGREGATION_INVALID_RANGE', field }));
  });
});
