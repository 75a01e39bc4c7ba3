import { migrate, type MigrateResult } from './migrate';
import { PgStore } from './pg-store';

/** Anything with an `info(message)`: a pino logger, or the console. */
export interface MigrationLogger {
  info(message: string): void;
}

const consoleLogger: MigrationLogger = { info: (message) => console.log(message) };

/**
 * What `dmarc db migrate` runs: opens a PgStore on `databaseUrl`, applies this library's migrations,
 * reports each one applied, and closes the connection whatever happens.
 */
export async function runMigrations(databaseUrl: string, logger: MigrationLogger = consoleLogger): Promise<MigrateResult> {
  const store = new PgStore({ url: databaseUrl, poolSize: 1, applicationName: 'dmarc-migrate' });
  try {
    const result = await migrate(store, {
      onApplied: (m) => logger.info(`applied ${m.name} (${m.durationMs} ms)`),
    });
    for (const name of result.unknown) {
      logger.info(`warning: ${name} is recorded as applied but is not in this version's migrations`);
    }
    logger.info(
      result.applied.length === 0
        ? `database is up to date (${result.alreadyApplied} migrations applied earlier)`
        : `applied ${result.applied.length} migration(s); ${result.alreadyApplied} were already applied`,
    );
    return result;
  } finally {
    await store.close();
  }
}
