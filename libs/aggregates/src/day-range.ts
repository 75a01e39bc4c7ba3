import { utcDay } from './chunk-counts';
import { AggregationError } from './errors';

/** An inclusive range of UTC days, YYYY-MM-DD. */
export interface DayRange {
  from: string;
  to: string;
}

export interface DayRangeOptions {
  /** Now, in epoch ms: `to` defaults to its UTC day. */
  now: number;
  /** Days in the range when `from` is not given. Default 30. */
  defaultDays?: number;
  /** Longest range accepted, so one request cannot scan years of counters. Default 366. */
  maxDays?: number;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const MS_PER_DAY = 86_400_000;

/**
 * Checks a requested range of days (both ends optional, inclusive) and fills in the defaults: up to
 * today (UTC), the last `defaultDays` days. Throws AGGREGATION_INVALID_RANGE naming the field.
 */
export function resolveDayRange(from: string | undefined, to: string | undefined, options: DayRangeOptions): DayRange {
  const maxDays = options.maxDays ?? 366;
  const end = to === undefined ? Date.parse(utcDay(options.now)) : parseDay(to, 'to');
  const start = from === undefined ? end - ((options.defaultDays ?? 30) - 1) * MS_PER_DAY : parseDay(from, 'from');
  if (start > end) throw new AggregationError('AGGREGATION_INVALID_RANGE', `from ${utcDay(start)} is after to ${utcDay(end)}`, 'from');
  const days = (end - start) / MS_PER_DAY + 1;
  if (days > maxDays) throw new AggregationError('AGGREGATION_INVALID_RANGE', `the range is ${days} days, longer than ${maxDays}`, 'from');
  return { from: utcDay(start), to: utcDay(end) };
}

/** Every day of the range, in order. */
export function daysOf(range: DayRange): string[] {
  const days: string[] = [];
  for (let t = Date.parse(range.from), end = Date.parse(range.to); t <= end; t += MS_PER_DAY) days.push(utcDay(t));
  return days;
}

function parseDay(text: string, field: string): number {
  // Date.parse would roll 2024-02-30 over to March; a day that does not round-trip is not a day.
  const t = DAY.test(text) ? Date.parse(`${text}T00:00:00Z`) : NaN;
  if (Number.isNaN(t) || utcDay(t) !== text) {
    throw new AggregationError('AGGREGATION_INVALID_RANGE', `${field} must be a calendar date YYYY-MM-DD, got ${JSON.stringify(text.slice(0, 32))}`, field);
  }
  return t;
}
