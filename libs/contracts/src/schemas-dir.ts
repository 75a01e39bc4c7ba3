import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { SchemasDirNotFoundError } from './errors';

/**
 * The repository's `schemas/` folder, found by walking up from `startDir` (by default this
 * package's own folder), so services read the contracts they were built with and need no setting.
 */
export function findSchemasDir(startDir: string = __dirname): string {
  let dir = resolve(startDir);
  for (;;) {
    const candidate = join(dir, 'schemas');
    if (existsSync(candidate) && statSync(candidate).isDirectory()) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new SchemasDirNotFoundError(startDir);
    dir = parent;
  }
}
