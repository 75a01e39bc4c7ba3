import { ConfigError, ConfigSpecError } from './errors';
import { defineConfig, loadConfig, redactConfig } from './load-config';
import { duration } from './duration';
import { brokers, url } from './network-settings';
import { bool, int, oneOf, port, string } from './scalar-settings';

/** Runs loadConfig expecting a ConfigError and returns it. */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const spec = defineConfig({
  PORT: port({ default: 8080 }),
  WORKERS: int({ min: 1, max: 64, default: 4 }),
  TIMEOUT: duration({ default: '30s' }),
  DEBUG: bool({ default: false }),
  MODE: oneOf(['fast', 'safe'], { default: 'safe' }),
  NAME: string({ optional: true }),
  DATABASE_URL: url({ protocols: ['postgres:', 'postgresql:'], secret: true }),
  KAFKA_BROKERS: brokers({ default: '127.0.0.1:9092' }),
});

describe('loadConfig', () => {
  it('resolves defaults for everything not given', () => {
    const config = loadConfig(spec, { DATABASE_URL: 'postgres://db/dmarc' });
    expect(config).toEqual({
      PORT: 8080,
      WORKERS: 4,
      TIMEOUT: 30_000,
      DEBUG: false,
      MODE: 'safe',
      NAME: undefined,
      DATABASE_URL: 'postgres://db/dmarc',
      KAFKA_BROKERS: ['127.0.0.1:9092'],
    });
  });

  it('parses given values into their types', () => {
    const config = loadConfig(spec, {
      PORT: '9000',
      WORKERS: '16',
      TIMEOUT: '250ms',
      DEBUG: 'yes',
      MODE: 'FAST',
      NAME: 'ingestion',
      DATABASE_URL: 'postgresql://u:p@db:5432/dmarc',
      KAFKA_BROKERS: 'k1:9093,k2',
    });
    // Compile-time check that the type is inferred from the spec.
    const typed: { PORT: number; TIMEOUT: number; DEBUG: boolean; MODE: 'fast' | 'safe'; NAME: string | undefined } = config;
    expect(typed).toMatchObject({ PORT: 9000, TIMEOUT: 250, DEBUG: true, MODE: 'fast', NAME: 'ingestion' });
    expect(config.WORKERS).toBe(16);
    expect(config.KAFKA_BROKERS).toEqual(['k1:9093', 'k2:9092']);
  });

  it('treats empty and blank values as unset, and trims the rest', () => {
    const config = loadConfig(spec, { PORT: '', WORKERS: '   ', NAME: ' api ', DATABASE_URL: ' postgres://db/x ' });
    expect(config.PORT).toBe(8080);
    expect(config.WORKERS).toBe(4);
    expect(config.NAME).toBe('api');
    expect(config.DATABASE_URL).toBe('postgres://db/x');
  });

  it('returns a deeply frozen object', () => {
    const config = loadConfig(spec, { DATABASE_URL: 'postgres://db/dmarc' });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.KAFKA_BROKERS)).toBe(true);
    expect(() => {
      (config as { PORT: number }).PORT = 1;
    }).toThrow(TypeError);
  });

  it('names a missing required variable and what it should be', () => {
    const err = configError(() => loadConfig(spec, {}));
    expect(err.message).toBe('DATABASE_URL: is required: a postgres: or postgresql: URL');
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.retriable).toBe(false);
    expect(err.issues).toEqual([{ variable: 'DATABASE_URL', reason: 'is required: a postgres: or postgresql: URL' }]);
  });

  it('names a wrong variable, the reason and the value given', () => {
    const err = configError(() => loadConfig(spec, { PORT: 'abc', DATABASE_URL: 'postgres://db/x' }));
    expect(err.message).toBe('PORT: must be an integer between 1 and 65535, got "abc"');
  });

  it('collects every bad variable into one single-line error', () => {
    const err = configError(() =>
      loadConfig(spec, { PORT: '70000', TIMEOUT: '30', MODE: 'turbo', DEBUG: 'maybe' }),
    );
    expect(err.issues.map((i) => i.variable)).toEqual(['PORT', 'TIMEOUT', 'DEBUG', 'MODE', 'DATABASE_URL']);
    expect(err.message).not.toContain('\n');
    expect(err.message).toBe(
      [
        'PORT: must be an integer between 1 and 65535, got "70000"',
        'TIMEOUT: must be a duration such as 250ms, 30s, 5m, 1h, got "30"',
        'DEBUG: must be a boolean (true/false, 1/0, yes/no, on/off), got "maybe"',
        'MODE: must be one of fast, safe, got "turbo"',
        'DATABASE_URL: is required: a postgres: or postgresql: URL',
      ].join('; '),
    );
  });

  it('keeps a multi-line or very long value on one line in the message', () => {
    const err = configError(() => loadConfig({ N: int() }, { N: `1\n2${'x'.repeat(300)}` }));
    expect(err.message).not.toContain('\n');
    expect(err.message.length).toBeLessThan(200);
  });

  it('never echoes a secret: a URL keeps its host but loses its password', () => {
    const err = configError(() => loadConfig(spec, { DATABASE_URL: 'mysql://dmarc:s3cr3t@db:3306/dmarc' }));
    expect(err.message).toBe('DATABASE_URL: must be a postgres: or postgresql: URL, got "mysql://dmarc:***@db:3306/dmarc"');
    expect(err.message).not.toContain('s3cr3t');
  });

  it('withholds a secret that does not even parse', () => {
    const err = configError(() => loadConfig(spec, { DATABASE_URL: 'dmarc:s3cr3t@db' }));
    expect(err.message).toBe('DATABASE_URL: must be a postgres: or postgresql: URL, got <redacted>');
  });

  it('withholds a secret string whole', () => {
    const err = configError(() =>
      loadConfig({ API_TOKEN: string({ secret: true, pattern: /tok_[a-z]+/ }) }, { API_TOKEN: 'hunter2' }),
    );
    expect(err.message).toBe('API_TOKEN: must match /tok_[a-z]+/, got <redacted>');
  });
});

describe('redactConfig', () => {
  it('masks secrets for logging and leaves the rest', () => {
    const config = loadConfig(spec, { DATABASE_URL: 'postgres://dmarc:s3cr3t@db/dmarc?password=x' });
    const shown = redactConfig(spec, config);
    expect(shown.DATABASE_URL).toBe('postgres://dmarc:***@db/dmarc?password=***');
    expect(shown.PORT).toBe(8080);
    expect(JSON.stringify(shown)).not.toContain('s3cr3t');
  });
});

describe('defineConfig', () => {
  it('rejects names that are not environment-variable style', () => {
    expect(() => defineConfig({ port: port() })).toThrow(ConfigSpecError);
  });

  it('rejects a default that its own kind would reject, when the spec is built', () => {
    expect(() => port({ default: 0 })).toThrow('invalid default for a port setting: must be an integer between 1 and 65535');
    expect(() => duration({ default: '30' })).toThrow(ConfigSpecError);
    expect(() => int({ min: 5, max: 1 })).toThrow(ConfigSpecError);
  });

  it('composes by spreading', () => {
    const base = defineConfig({ PORT: port({ default: 1 }) });
    const full = defineConfig({ ...base, BATCH: int({ default: 2 }) });
    expect(loadConfig(full, {})).toEqual({ PORT: 1, BATCH: 2 });
  });
});
