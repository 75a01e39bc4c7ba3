import Module from 'node:module';

type PgliteModule = typeof import('@electric-sql/pglite');

let loaded: PgliteModule | undefined;

/**
 * Loads PGlite with Node's own module loader rather than through whatever loaded this file.
 *
 * PGlite starts by calling `import()` (for `fs`, `module`, its wasm and data files). Jest runs test code
 * inside a VM context where `import()` throws unless Node was started with --experimental-vm-modules,
 * so every unit test using PgliteStore, in every library, would otherwise crash its jest worker.
 * Loaded natively, PGlite runs outside that context. Under plain Node or tsx this is an ordinary require.
 * Values PGlite builds itself then come from Node's main realm; the parsers in pglite-store.ts build
 * the ones callers compare (Date, objects, Buffer), so `instanceof` checks in tests still hold.
 */
export function loadPglite(): PgliteModule {
  if (!loaded) {
    const id = require.resolve('@electric-sql/pglite');
    // Module._load is Node's loader behind every require; should a future Node drop it, fall back to
    // an ordinary require (fine everywhere but under jest).
    const load = (Module as unknown as { _load?: (request: string, parent: unknown, isMain: boolean) => unknown })._load;
    loaded = (load ? load(id, null, false) : Module.createRequire(__filename)(id)) as PgliteModule;
  }
  return loaded;
}
