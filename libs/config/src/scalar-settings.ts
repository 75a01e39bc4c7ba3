import { ConfigSpecError } from './errors';
import { makeSetting, ok, reject, type Parsed, type NoOptions, type Resolved, type Setting, type SettingOptions } from './setting';

export interface StringOptions extends SettingOptions<string> {
  /** The whole value must match. */
  readonly pattern?: RegExp;
}

export function string<const O extends StringOptions = NoOptions>(options?: O): Setting<Resolved<string, O>> {
  const pattern = options?.pattern;
  const expected = pattern ? `a string matching ${pattern}` : 'a non-empty string';
  return makeSetting<string>(
    {
      kind: 'string',
      expected,
      parse: (raw) => (pattern && !fullMatch(pattern, raw) ? reject(`must match ${pattern}`) : ok(raw)),
    },
    options,
  ) as Setting<Resolved<string, O>>;
}

function fullMatch(pattern: RegExp, value: string): boolean {
  const m = new RegExp(pattern.source, pattern.flags.replace('g', '')).exec(value);
  return m !== null && m.index === 0 && m[0].length === value.length;
}

export interface IntOptions extends SettingOptions<number | string> {
  readonly min?: number;
  readonly max?: number;
}

export function int<const O extends IntOptions = NoOptions>(options?: O): Setting<Resolved<number, O>> {
  return integerSetting('int', options ?? {}) as Setting<Resolved<number, O>>;
}

export type PortOptions = SettingOptions<number | string>;

/** A TCP port, 1–65535. */
export function port<const O extends PortOptions = NoOptions>(options?: O): Setting<Resolved<number, O>> {
  return integerSetting('port', { ...options, min: 1, max: 65535 }) as Setting<Resolved<number, O>>;
}

function integerSetting(kind: string, options: IntOptions): Setting<number> {
  const { min, max } = options;
  if (min !== undefined && max !== undefined && min > max) {
    throw new ConfigSpecError(`${kind} setting has min ${min} > max ${max}`);
  }
  const expected =
    min !== undefined && max !== undefined
      ? `an integer between ${min} and ${max}`
      : min !== undefined
        ? `an integer >= ${min}`
        : max !== undefined
          ? `an integer <= ${max}`
          : 'an integer';
  const check = (n: number): Parsed<number> =>
    !Number.isSafeInteger(n) || (min !== undefined && n < min) || (max !== undefined && n > max)
      ? reject(`must be ${expected}`)
      : ok(n);
  return makeSetting<number>(
    {
      kind,
      expected,
      // Strict digits only: Number('0x10'), Number('1e3') and parseInt('80abc') would all accept typos.
      parse: (raw) => (/^[+-]?\d+$/.test(raw) ? check(Number(raw)) : reject(`must be ${expected}`)),
      check,
    },
    options,
  );
}

const TRUE = ['true', '1', 'yes', 'on'];
const FALSE = ['false', '0', 'no', 'off'];

export type BoolOptions = SettingOptions<boolean | string>;

export function bool<const O extends BoolOptions = NoOptions>(options?: O): Setting<Resolved<boolean, O>> {
  const expected = 'a boolean (true/false, 1/0, yes/no, on/off)';
  return makeSetting<boolean>(
    {
      kind: 'bool',
      expected,
      parse: (raw) => {
        const v = raw.toLowerCase();
        return TRUE.includes(v) ? ok(true) : FALSE.includes(v) ? ok(false) : reject(`must be ${expected}`);
      },
      check: ok,
    },
    options,
  ) as Setting<Resolved<boolean, O>>;
}

/**
 * One of a fixed set of strings. Matching ignores case (LOG_LEVEL=INFO is a common way to write it) and
 * resolves to the spelling in the spec, so code compares against one canonical value.
 */
export function oneOf<const V extends readonly [string, ...string[]], const O extends SettingOptions<V[number]> = NoOptions>(
  values: V,
  options?: O,
): Setting<Resolved<V[number], O>> {
  const expected = `one of ${values.join(', ')}`;
  const parse = (raw: string): Parsed<V[number]> => {
    const found = values.find((v) => v === raw) ?? values.find((v) => v.toLowerCase() === raw.toLowerCase());
    return found === undefined ? reject(`must be ${expected}`) : ok(found);
  };
  return makeSetting<V[number]>({ kind: 'oneOf', expected, parse }, options) as Setting<Resolved<V[number], O>>;
}
