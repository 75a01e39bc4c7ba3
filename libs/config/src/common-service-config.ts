import { defineConfig } from './load-config';
import { brokers, hostPortList, url } from './network-settings';
import { int, oneOf, port, string } from './scalar-settings';

/** pino's levels, so LOG_LEVEL passes straight to the logger. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * The settings every service shares, so they have one name and one default across the platform.
 * Defaults point at the local infrastructure (`npm run infra:up`); DATABASE_URL has none because it
 * carries credentials and a service silently using a guessed database is worse than one that stops.
 * A service spreads this into its own spec, taking only what it uses:
 * `defineConfig({ ...commonServiceConfig, BATCH_SIZE: int({ min: 1, default: 500 }) })`.
 */
export const commonServiceConfig = defineConfig({
  SERVICE_NAME: string({ optional: true, description: 'overrides the service name in logs and traces' }),
  LOG_LEVEL: oneOf(LOG_LEVELS, { default: 'info' }),
  PORT: port({ default: 8080, description: 'HTTP port for the API, health and readiness endpoints' }),
  KAFKA_BROKERS: brokers({ default: '127.0.0.1:9092' }),
  REDIS_URL: url({ protocols: ['redis:', 'rediss:'], default: 'redis://127.0.0.1:6379', secret: true }),
  DATABASE_URL: url({ protocols: ['postgres:', 'postgresql:'], secret: true }),
  // A fetch answers once this many bytes are there or the wait is over: under load, batches of tens of
  // messages (one statement and one publish for all) instead of one or two, for at most the wait in latency.
  KAFKA_FETCH_MIN_BYTES: int({ min: 1, default: 64 * 1024, description: 'bytes a consumer fetch waits for (fetch.min.bytes)' }),
  KAFKA_FETCH_MAX_WAIT_MS: int({ min: 1, max: 10_000, default: 50, description: 'longest a consumer fetch waits for them (fetch.max.wait.ms)' }),
  DNS_UPSTREAM: hostPortList({
    defaultPort: 53,
    optional: true,
    description: 'resolvers to query, e.g. 1.1.1.1,[2606:4700:4700::1111]:53; unset means the system resolver',
  }),
});
