import { ConfigError } from './errors';
import { commonServiceConfig } from './common-service-config';
import { loadConfig } from './load-config';

describe('commonServiceConfig', () => {
  it('defaults to the local infrastructure and needs only DATABASE_URL', () => {
    const config = loadConfig(commonServiceConfig, { DATABASE_URL: 'postgres://dmarc:dmarc@127.0.0.1:5432/dmarc' });
    expect(config).toEqual({
      SERVICE_NAME: undefined,
      LOG_LEVEL: 'info',
      PORT: 8080,
      KAFKA_BROKERS: ['127.0.0.1:9092'],
      REDIS_URL: 'redis://127.0.0.1:6379',
      DATABASE_URL: 'postgres://dmarc:dmarc@127.0.0.1:5432/dmarc',
      DNS_UPSTREAM: undefined,
      KAFKA_FETCH_MIN_BYTES: 65536,
      KAFKA_FETCH_MAX_WAIT_MS: 50,
    });
  });

  it('refuses a fetch wait that is not a positive number of milliseconds, naming the setting', () => {
    expect(() => loadConfig(commonServiceConfig, { DATABASE_URL: 'postgres://db/x', KAFKA_FETCH_MAX_WAIT_MS: '0' })).toThrow(/KAFKA_FETCH_MAX_WAIT_MS/);
  });

  it('reads the DNS upstream list with port 53 by default', () => {
    const config = loadConfig(commonServiceConfig, { DATABASE_URL: 'postgres://db/x', DNS_UPSTREAM: '127.0.0.1:5353,9.9.9.9' });
    expect(config.DNS_UPSTREAM).toEqual([
      { host: '127.0.0.1', port: 5353 },
      { host: '9.9.9.9', port: 53 },
    ]);
  });

  it('treats both URLs as secrets', () => {
    expect(() =>
      loadConfig(commonServiceConfig, { DATABASE_URL: 'mysql://u:pw@db', REDIS_URL: 'memcached://:pw@r' }),
    ).toThrow(
      new ConfigError([
        { variable: 'REDIS_URL', reason: 'must be a redis: or rediss: URL', got: '"memcached://:***@r"' },
        { variable: 'DATABASE_URL', reason: 'must be a postgres: or postgresql: URL', got: '"mysql://u:***@db"' },
      ]),
    );
  });
});
