import { ConfigSpecError } from './errors';
import { makeSetting, ok, reject, type Parsed, type NoOptions, type Resolved, type Setting, type SettingOptions } from './setting';

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;

/**
 * Parses `250ms`, `30s`, `5m`, `1h`, `1d` and sums like `1m30s` into whole milliseconds; `undefined` when
 * the text is not a duration. A bare number other than 0 is rejected: whether `30` means seconds or
 * milliseconds is exactly the ambiguity that puts a 30 ms timeout into production.
 */
export function parseDuration(text: string): number | undefined {
  if (text === '0') return 0;
  if (text === '') return undefined;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < text.length) {
    const m = PART.exec(text);
    if (!m) return undefined;
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
  }
  return Number.isFinite(total) ? Math.round(total) : undefined;
}

export interface DurationOptions extends SettingOptions<number | string> {
  /** Bounds in milliseconds, or as duration strings. */
  readonly min?: number | string;
  readonly max?: number | string;
}

/** A duration, resolved to milliseconds. Defaults may be written as `'30s'` or as a number of ms. */
export function duration<const O extends DurationOptions = NoOptions>(options?: O): Setting<Resolved<number, O>> {
  const min = bound(options?.min);
  const max = bound(options?.max);
  const range =
    min !== undefined && max !== undefined
      ? ` between ${options?.min} and ${options?.max}`
      : min !== undefined
        ? ` of at least ${options?.min}`
        : max !== undefined
          ? ` of at most ${options?.max}`
          : '';
  const expected = `a duration${range} such as 250ms, 30s, 5m, 1h`;
  const check = (ms: number): Parsed<number> =>
    !Number.isFinite(ms) || ms < 0 || (min !== undefined && ms < min) || (max !== undefined && ms > max)
      ? reject(`must be ${expected}`)
      : ok(ms);
  return makeSetting<number>(
    {
      kind: 'duration',
      expected,
      parse: (raw) => {
        const ms = parseDuration(raw);
        return ms === undefined ? reject(`must be ${expected}`) : check(ms);
      },
      check,
    },
    options,
  ) as Setting<Resolved<number, O>>;
}

function bound(b: number | string | undefined): number | undefined {
  if (b === undefined || typeof b === 'number') return b;
  const ms = parseDuration(b);
  if (ms === undefined) throw new ConfigSpecError(`invalid duration bound ${JSON.stringify(b)}`);
  return ms;
}
