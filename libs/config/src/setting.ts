import { ConfigSpecError } from './errors';

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

/**
 * One environment variable: how to parse it, what to do when it is missing, and whether its value may be
 * shown. Built by the kind functions (`int`, `url`, ...) and consumed by `loadConfig`.
 */
export interface Setting<T> {
  readonly kind: string;
  /** A phrase completing "must be ...", e.g. `an integer between 1 and 65535`. */
  readonly expected: string;
  /** Secret values never appear in errors or in `redactConfig` output. */
  readonly secret: boolean;
  /** A missing optional setting without default resolves to `undefined`. */
  readonly optional: boolean;
  readonly hasDefault: boolean;
  readonly defaultValue: T | undefined;
  readonly description: string | undefined;
  /** Parses a trimmed, non-empty raw value. */
  parse(raw: string): Parsed<T>;
  /** The raw value as it may appear in an error message (quoted, truncated, redacted when secret). */
  show(raw: string): string;
  /** A string value as it may appear in a log: itself, or masked when secret. */
  redact(value: string): string;
}

/** Options every kind accepts. `D` is what a default may be written as (the value, or its env form). */
export interface SettingOptions<D> {
  readonly default?: D;
  readonly optional?: boolean;
  readonly secret?: boolean;
  readonly description?: string;
}

/**
 * The resolved type of a setting: with a default it is always present; otherwise `optional: true` (or a
 * non-literal boolean, conservatively) adds `undefined`.
 */
export type Resolved<T, O> = O extends { default: unknown }
  ? T
  : true extends O[keyof O & 'optional']
    ? T | undefined
    : T;

/** The options type when none are given: nothing optional, no default. */
export type NoOptions = Record<never, never>;

export type ValueOf<S> = S extends Setting<infer T> ? T : never;

export const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
export const reject = (reason: string): Parsed<never> => ({ ok: false, reason });

const MAX_SHOWN = 100;
export const REDACTED = '<redacted>';

/** Quoted (so whitespace and empty strings are visible) and on one line, whatever the value holds. */
export function quote(raw: string): string {
  const cut = raw.length > MAX_SHOWN ? `${raw.slice(0, MAX_SHOWN)}…` : raw;
  return JSON.stringify(cut);
}

export interface KindDefinition<T> {
  readonly kind: string;
  readonly expected: string;
  readonly parse: (raw: string) => Parsed<T>;
  /** Checks a default written as a value rather than as its env string; absent means defaults must be strings. */
  readonly check?: (value: T) => Parsed<T>;
  /** Masks the sensitive part of a secret value of this kind; absent or `undefined` withholds it whole. */
  readonly maskSecret?: (raw: string) => string | undefined;
}

export function makeSetting<T>(def: KindDefinition<T>, options: SettingOptions<unknown> = {}): Setting<T> {
  const secret = options.secret ?? false;
  const hasDefault = options.default !== undefined;
  let defaultValue: T | undefined;
  if (hasDefault) {
    // Defaults are checked when the spec is built, so a bad one fails at import time in every
    // environment, not only in the one where the variable happens to be unset.
    const d = options.default;
    const parsed =
      typeof d === 'string' ? def.parse(d.trim()) : def.check ? def.check(d as T) : reject('must be written as a string');
    if (!parsed.ok) {
      throw new ConfigSpecError(`invalid default for a ${def.kind} setting: ${parsed.reason}`);
    }
    defaultValue = parsed.value;
  }
  const redact = (value: string): string => (secret ? (def.maskSecret?.(value) ?? REDACTED) : value);
  return Object.freeze({
    kind: def.kind,
    expected: def.expected,
    secret,
    optional: options.optional ?? false,
    hasDefault,
    defaultValue,
    description: options.description,
    parse: def.parse,
    show: (raw: string) => {
      const shown = redact(raw);
      return shown === REDACTED ? REDACTED : quote(shown);
    },
    redact,
  });
}
