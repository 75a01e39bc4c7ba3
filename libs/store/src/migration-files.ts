import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { MigrationFileError } from './errors';

/** The migrations shipped with this library; callers need no path configuration. */
export const migrationsDir = path.resolve(__dirname, '..', 'migrations');

export interface Migration {
  /** The number the file name starts with; migrations apply in this order. */
  readonly version: number;
  /** The file name, e.g. `0001_foundation.sql`. */
  readonly name: string;
  readonly sql: string;
  /** sha256 of the SQL, hex. */
  readonly checksum: string;
}

const FILE_NAME = /^(\d{4})_[a-z0-9][a-z0-9_]*\.sql$/;

/**
 * Reads `NNNN_description.sql` files in version order. A `.sql` file with any other name is an error
 * rather than skipped, so a typo cannot silently leave a migration out; other files (a README) are ignored.
 */
export async function loadMigrations(dir: string = migrationsDir): Promise<Migration[]> {
  const names = (await readdir(dir)).filter((n) => n.toLowerCase().endsWith('.sql')).sort();
  const byVersion = new Map<number, string>();
  const migrations: Migration[] = [];
  for (const name of names) {
    const m = FILE_NAME.exec(name);
    if (!m) throw new MigrationFileError(name, 'name must be NNNN_description.sql (four digits, lower-case words)');
    const version = Number(m[1]);
    const clash = byVersion.get(version);
    if (clash) throw new MigrationFileError(name, `has the same version as ${clash}`);
    byVersion.set(version, name);
    const sql = await readFile(path.join(dir, name), 'utf8');
    migrations.push({ version, name, sql, checksum: checksum(sql) });
  }
  return migrations;
}

/** Line endings are normalised first, so a checkout with CRLF does not look like an edited migration. */
export function checksum(sql: string): string {
  return createHash('sha256').update(sql.replace(/\r\n/g, '\n')).digest('hex');
}
