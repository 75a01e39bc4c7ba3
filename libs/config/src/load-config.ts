import { ConfigError, ConfigSpecError, type ConfigIssue } from './errors';
import { REDACTED, type Setting, type ValueOf } from './setting';

/** The environment as handed down from a service's main: `process.env` there, a literal in tests. */
export type Env = Readonly<Record<string, string | undefined>>;

/** Variable name → how to read it. */
export type ConfigSpec = Readonly<Record<string, Setting<unknown>>>;

/** The resolved configuration a spec describes, its type inferred from the spec. */
export type ConfigOf<S extends ConfigSpec> = { readonly [K in keyof S]: ValueOf<S[K]> };

const VARIABLE_NAME = /^[A-Z][A-Z0-9_]*$/;

/**
 * Declares a configuration spec. Returns the spec itself (frozen) so specs compose by spreading:
 * `defineConfig({ ...commonServiceConfig, BATCH_SIZE: int({ min: 1, default: 500 }) })`.
 */
export function defineConfig<S extends ConfigSpec>(spec: S): S {
  for (const name of Object.keys(spec)) {
    if (!VARIABLE_NAME.test(name)) {
      throw new ConfigSpecError(`configuration variable ${JSON.stringify(name)} must be UPPER_SNAKE_CASE`);
    }
  }
  return Object.freeze({ ...spec });
}

/**
 * Reads every variable of the spec from `env` and returns the resolved configuration, deeply frozen.
 * Throws one ConfigError listing every missing or malformed variable, so one restart fixes them all.
 * An empty or blank value counts as unset (`FOO=` in a compose file means "not configured"), and values
 * are trimmed because stray whitespace in env files is invisible and never intended.
 */
export function loadConfig<S extends ConfigSpec>(spec: S, env: Env): ConfigOf<S> {
  const out: Record<string, unknown> = {};
  const issues: ConfigIssue[] = [];
  for (const [name, setting] of Object.entries(spec)) {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === '') {
      if (setting.hasDefault) out[name] = setting.defaultValue;
      else if (setting.optional) out[name] = undefined;
      else issues.push({ variable: name, reason: `is required: ${setting.expected}` });
      continue;
    }
    const parsed = setting.parse(raw);
    if (parsed.ok) out[name] = parsed.value;
    else issues.push({ variable: name, reason: parsed.reason, got: setting.show(raw) });
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return deepFreeze(out) as ConfigOf<S>;
}

/**
 * The configuration with secret values masked, for the "starting with" log line a service prints at
 * start. URL secrets keep everything but their password.
 */
export function redactConfig<S extends ConfigSpec>(spec: S, config: ConfigOf<S>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, setting] of Object.entries(spec)) {
    const value = (config as Record<string, unknown>)[name];
    if (!setting.secret || value === undefined) out[name] = value;
    else out[name] = typeof value === 'string' ? setting.redact(value) : REDACTED;
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
