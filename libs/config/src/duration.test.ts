import { duration, parseDuration } from './duration';

describe('parseDuration', () => {
  it.each([
    ['250ms', 250],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['1.5s', 1500],
    ['1m30s', 90_000],
    ['0', 0],
    ['0s', 0],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['30', '', 's', '5 m', '5min', '-1s', '1s 2s', '1.s', 'ms'])('%j is not a duration', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('duration', () => {
  it('resolves to milliseconds and takes its default in either form', () => {
    expect(duration({ default: '5m' }).defaultValue).toBe(300_000);
    expect(duration({ default: 1500 }).defaultValue).toBe(1500);
  });

  it('checks bounds written as durations', () => {
    const d = duration({ min: '1s', max: '1h' });
    expect(d.parse('2s')).toEqual({ ok: true, value: 2000 });
    expect(d.parse('500ms')).toEqual({ ok: false, reason: 'must be a duration between 1s and 1h such as 250ms, 30s, 5m, 1h' });
    expect(d.parse('2h').ok).toBe(false);
  });
});
