import { decideChange, observe, type WatchState } from './change-decision';

const T0 = Date.UTC(2026, 0, 1);
const state = (value: string | null, extra: Partial<WatchState> = {}): WatchState => ({
  value,
  checkedAt: T0,
  changedAt: T0,
  nextCheckAt: T0 + 270_000,
  failingSince: null,
  revision: 3,
  ...extra,
});
const answer = (value: string | null) => ({ ok: true as const, value });
const failure = { ok: false as const, error: new Error('SERVFAIL') };

describe('decideChange', () => {
  it('a record where there was none is added', () => {
    expect(decideChange('DMARC', state(null), answer('v=DMARC1; p=none'))).toEqual({ kind: 'change', change: 'added', previous: null, current: 'v=DMARC1; p=none' });
  });

  it('a different record is changed, with both texts', () => {
    expect(decideChange('DMARC', state('v=DMARC1; p=none'), answer('v=DMARC1; p=reject'))).toEqual({
      kind: 'change',
      change: 'changed',
      previous: 'v=DMARC1; p=none',
      current: 'v=DMARC1; p=reject',
    });
  });

  it('no record (NXDOMAIN / NODATA) after one is removed', () => {
    expect(decideChange('SPF', state('v=spf1 -all'), answer(null))).toEqual({ kind: 'change', change: 'removed', previous: 'v=spf1 -all', current: null });
  });

  it('an upstream failure is not a removal, whatever was there', () => {
    expect(decideChange('SPF', state('v=spf1 -all'), failure)).toEqual({ kind: 'none', reason: 'lookup-failed' });
    expect(decideChange('SPF', undefined, failure)).toEqual({ kind: 'none', reason: 'lookup-failed' });
  });

  it('a whitespace-only difference is no change', () => {
    expect(decideChange('DMARC', state('v=DMARC1; p=none; rua=mailto:a@example.com,mailto:b@example.com'), answer('v=DMARC1;p=none ;rua=mailto:a@example.com, mailto:b@example.com;'))).toEqual({
      kind: 'none',
      reason: 'unchanged',
    });
    expect(decideChange('SPF', state('v=spf1 include:_spf.example.com -all'), answer('v=spf1  include:_spf.example.com   -all'))).toEqual({ kind: 'none', reason: 'unchanged' });
    expect(decideChange('DKIM', state('v=DKIM1; k=rsa; p=MIIBIjAN BgkqhkiG'), answer('v=DKIM1;k=rsa;p=MIIBIjANBgkqhkiG'))).toEqual({ kind: 'none', reason: 'unchanged' });
    expect(decideChange('SPF', state(null), answer(null))).toEqual({ kind: 'none', reason: 'unchanged' });
  });

  it('a difference that is not whitespace is a change', () => {
    expect(decideChange('SPF', state('v=spf1 -all'), answer('v=spf1 ~all'))).toMatchObject({ kind: 'change', change: 'changed' });
    expect(decideChange('DMARC', state('v=DMARC1; p=none'), answer('v=DMARC1; p=none\nv=DMARC1; p=reject'))).toMatchObject({ kind: 'change', change: 'changed' });
  });

  it('the first observation is silent unless asked for, and never `added` when there is no record', () => {
    expect(decideChange('DMARC', undefined, answer('v=DMARC1; p=none'))).toEqual({ kind: 'none', reason: 'first-observation' });
    // Only failures so far: the name was never answered.
    expect(decideChange('DMARC', state(null, { checkedAt: null, failingSince: T0 }), answer('v=DMARC1; p=none'))).toEqual({ kind: 'none', reason: 'first-observation' });
    expect(decideChange('DMARC', undefined, answer('v=DMARC1; p=none'), { announceFirstObservation: true })).toEqual({ kind: 'change', change: 'added', previous: null, current: 'v=DMARC1; p=none' });
    expect(decideChange('DMARC', undefined, answer(null), { announceFirstObservation: true })).toEqual({ kind: 'none', reason: 'first-observation' });
  });
});

describe('observe', () => {
  const now = T0 + 300_000;
  const next = now + 270_000;

  it('an answer records the value and the time, and a change moves changedAt', () => {
    const o = observe('DMARC', state('v=DMARC1; p=none'), answer('v=DMARC1; p=reject'), now, next);
    expect(o.state).toEqual({ value: 'v=DMARC1; p=reject', checkedAt: now, changedAt: now, nextCheckAt: next, failingSince: null, revision: 4 });
    expect(o.decision).toMatchObject({ kind: 'change', change: 'changed' });
  });

  it('an unchanged answer keeps changedAt and stores the text as served now', () => {
    const o = observe('SPF', state('v=spf1 -all'), answer('v=spf1  -all'), now, next);
    expect(o.state).toMatchObject({ value: 'v=spf1  -all', checkedAt: now, changedAt: T0 });
    expect(o.decision).toEqual({ kind: 'none', reason: 'unchanged' });
  });

  it('a failure keeps the last known value and times, starts an outage once, and the next answer ends it', () => {
    const first = observe('SPF', state('v=spf1 -all'), failure, now, next);
    expect(first.state).toEqual({ value: 'v=spf1 -all', checkedAt: T0, changedAt: T0, nextCheckAt: next, failingSince: now, revision: 4 });
    expect(first.failureStarted).toBe(true);
    const second = observe('SPF', first.state, failure, now + 300_000, next + 300_000);
    expect(second.failureStarted).toBe(false);
    expect(second.state.failingSince).toBe(now);
    const back = observe('SPF', second.state, answer('v=spf1 -all'), now + 600_000, next + 600_000);
    expect(back).toMatchObject({ recovered: true, failureStarted: false, decision: { kind: 'none', reason: 'unchanged' } });
    expect(back.state.failingSince).toBeNull();
  });

  it('a first failure of a new name stores no value and no answer time', () => {
    const o = observe('DKIM', undefined, failure, now, next);
    expect(o.state).toEqual({ value: null, checkedAt: null, changedAt: null, nextCheckAt: next, failingSince: now, revision: 1 });
    expect(o.failureStarted).toBe(true);
  });
});
