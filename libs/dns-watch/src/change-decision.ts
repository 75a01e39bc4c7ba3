import type { DnsChangeKind } from '@dmarc/contracts';
import { sameValue, type WatchedRecordType } from './record-value';

export type { DnsChangeKind };

/**
 * What one lookup of a watched name gave: the watched value (`selectRecord`; null when NXDOMAIN, NODATA or
 * no record of the type), or a failure of the upstream (the resolver rejected).
 */
export type LookupOutcome = { readonly ok: true; readonly value: string | null } | { readonly ok: false; readonly error: unknown };

/** The stored state of one watched name for one tenant; times in epoch milliseconds. */
export interface WatchState {
  readonly value: string | null;
  /** Last answer from DNS; null while the name was never answered (only failures so far). */
  readonly checkedAt: number | null;
  /** When `value` took its current value. */
  readonly changedAt: number | null;
  readonly nextCheckAt: number;
  /** Set while lookups fail; the first failure of an outage sets it. */
  readonly failingSince: number | null;
  /** Bumped by every write (optimistic concurrency between watchers). */
  readonly revision: number;
}

export type ChangeDecision =
  | { readonly kind: 'none'; readonly reason: 'unchanged' | 'first-observation' | 'lookup-failed' }
  | { readonly kind: 'change'; readonly change: DnsChangeKind; readonly previous: string | null; readonly current: string | null };

export interface DecisionOptions {
  /**
   * Whether the first answer for a name (no state yet: a new watcher, a new domain, a new selector) counts as
   * `added` when it has a record. Default false: the first observation is stored silently, so the first
   * round over a thousand domains does not publish a thousand "added" changes that are not changes at all.
   * A record that appears after the name was seen without one is always `added`.
   */
  readonly announceFirstObservation?: boolean;
}

/**
 * Whether a lookup changed a watched record: a pure function of the previous state and the new outcome.
 * An upstream failure is never a removal (the record is unknown, not gone); NXDOMAIN / NODATA after a value
 * is. Values are compared in canonical form (`sameValue`), so a whitespace-only difference is no change.
 */
export function decideChange(type: WatchedRecordType, previous: WatchState | undefined, outcome: LookupOutcome, options: DecisionOptions = {}): ChangeDecision {
  if (!outcome.ok) return { kind: 'none', reason: 'lookup-failed' };
  const current = outcome.value;
  if (previous === undefined || previous.checkedAt === null) {
    if (options.announceFirstObservation && current !== null) return { kind: 'change', change: 'added', previous: null, current };
    return { kind: 'none', reason: 'first-observation' };
  }
  const before = previous.value;
  if (sameValue(type, before, current)) return { kind: 'none', reason: 'unchanged' };
  if (before === null) return { kind: 'change', change: 'added', previous: null, current };
  if (current === null) return { kind: 'change', change: 'removed', previous: before, current: null };
  return { kind: 'change', change: 'changed', previous: before, current };
}

export interface Observation {
  /** The state to write. */
  readonly state: WatchState;
  readonly decision: ChangeDecision;
  /** This failure begins an outage of the name (log it); later failures of the same outage do not. */
  readonly failureStarted: boolean;
  /** This answer ends an outage. */
  readonly recovered: boolean;
}

/**
 * The next state of a watched name after a lookup at `now`: a pure function of the previous state, the
 * outcome and the clock. A failure keeps the last known value and its times and asks to be retried at
 * `nextCheckAt`; an answer records the value (the decision says whether it is a change).
 */
export function observe(type: WatchedRecordType, previous: WatchState | undefined, outcome: LookupOutcome, now: number, nextCheckAt: number, options: DecisionOptions = {}): Observation {
  const decision = decideChange(type, previous, outcome, options);
  const revision = (previous?.revision ?? 0) + 1;
  if (!outcome.ok) {
    const state: WatchState = {
      value: previous?.value ?? null,
      checkedAt: previous?.checkedAt ?? null,
      changedAt: previous?.changedAt ?? null,
      nextCheckAt,
      failingSince: previous?.failingSince ?? now,
      revision,
    };
    return { state, decision, failureStarted: previous?.failingSince == null, recovered: false };
  }
  // A whitespace-only difference is no change, but the text kept is the one DNS serves now.
  const value = outcome.value;
  const moved = decision.kind === 'change' || decision.reason === 'first-observation';
  const state: WatchState = { value, checkedAt: now, changedAt: moved ? now : (previous?.changedAt ?? now), nextCheckAt, failingSince: null, revision };
  return { state, decision, failureStarted: false, recovered: previous?.failingSince != null };
}
