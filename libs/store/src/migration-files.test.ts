import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MigrationFileError } from './errors';
import { checksum, loadMigrations, migrationsDir } from './migration-files';

describe('loadMigrations', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'migration-files-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('reads NNNN_description.sql in version order, ignoring other files', async () => {
    await writeFile(path.join(dir, '0010_later.sql'), 'SELECT 10;');
    await writeFile(path.join(dir, '0002_sooner.sql'), 'SELECT 2;');
    await writeFile(path.join(dir, 'notes.txt'), 'x');
    const migrations = await loadMigrations(dir);
    expect(migrations.map((m) => [m.version, m.name, m.sql])).toEqual([
      [2, '0002_sooner.sql', 'SELECT 2;'],
      [10, '0010_later.sql', 'SELECT 10;'],
    ]);
    expect(migrations[0]?.checksum).toBe(checksum('SELECT 2;'));
  });

  it.each(['1_short.sql', '0001-dash.sql', '0001_Upper.sql', '0001_.sql', '0001_x.SQL'])('rejects the name %s', async (name) => {
    await writeFile(path.join(dir, name), 'SELECT 1;');
    await expect(loadMigrations(dir)).rejects.toThrow(MigrationFileError);
    await expect(loadMigrations(dir)).rejects.toThrow(`migration ${name}: name must be NNNN_description.sql`);
  });

  it('rejects two files with one version', async () => {
    await writeFile(path.join(dir, '0001_a.sql'), '');
    await writeFile(path.join(dir, '0001_b.sql'), '');
    await expect(loadMigrations(dir)).rejects.toMatchObject({ code: 'STORE_MIGRATION_FILE_INVALID', file: '0001_b.sql' });
  });

  it('finds the shipped migrations without configuration', async () => {
    const shipped = await loadMigrations();
    expect(shipped[0]?.name).toBe('0001_foundation.sql');
    expect(migrationsDir).toBe(path.resolve(__dirname, '..', 'migrations'));
  });
});

describe('checksum', () => {
  it('ignores CRLF versus LF only', () => {
    expect(checksum('a\r\nb\r\n')).toBe(checksum('a\nb\n'));
    expect(checksum('a\nb')).not.toBe(checksum('a\nb\n'));
  });
});
