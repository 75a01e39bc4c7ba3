'use strict';
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS that node runs as it is, before any loader */
// The `dmarc` command compiled into one JavaScript file, so services do not carry tsx's loader. Measured on
// an idle `dmarc serve parsing` (Node 20): RSS 103-106 MB vs 129-131 MB under tsx (84-86 vs 102-105 with
// --max-semi-space-size=1, i.e. without the young generation's growth), ~0.5 CPU-s less to reach /readyz.
// bench:huge (1,000,000 records, load 4-11), VmHWM MB, bundle vs DMARC_LOADER=tsx: parsing 258.7-262.6 vs
// 285.1-299.3, aggregation 252.4-253.8 vs 294.7-300.8, ingestion 150.5-158.8 vs 169.6-199.
//
// It lives in dist/dmarc-cli/<key>/dmarc.js, with latest.json recording
// what the last build read: the stamp (inode, size, modification and change times) of every source file
// esbuild compiled, taken as esbuild read it; the file names in those files' folders (a new file can change
// what an import resolves to); every package.json and tsconfig.json between them and the repository root,
// present or not; this file and the esbuild version. Each start compares that record with the disk (a few
// hundred stat calls, ~10 ms, no file read); any difference means a new build (~0.5 s), never old code.
// A build is only kept when what it read did not change while it ran, nor in the second before.
// Only workspace code is bundled: npm packages stay ordinary requires, resolved from the repository's
// node_modules at run time.
//
// usage: node services/cli/bin/cli-bundle.js   builds when needed, prints the bundle's path (exit 1 and
//        one line on stderr when it cannot be built).
const fs = require('node:fs');
const path = require('node:path');
const Module = require('node:module');

const OUT_NAME = 'dmarc.js';
// Older builds are removed only after this long, so a process that has just chosen one can still load it.
const PRUNE_AFTER_MS = 10 * 60 * 1000;
// A build is kept only when nothing it read changed from this long before it started: file times are
// kept in clock ticks, so an edit in the same tick as esbuild's read would leave the times unchanged.
const SETTLE_MS = 1000;
const CONFIG_FILES = ['package.json', 'tsconfig.json'];
const REPO = path.resolve(__dirname, '../../..');

// esbuild as tsx resolves it (tsx depends on it): no dependency of our own, and the version tsx runs.
const fromTsx = () => Module.createRequire(require.resolve('tsx/cjs/api'));
/** Read from its package.json: a fresh bundle is found without loading esbuild at all. */
const esbuildVersion = () => JSON.parse(fs.readFileSync(fromTsx().resolve('esbuild/package.json'), 'utf8')).version;

/**
 * Inode, size, modification and change times (ns), or null when absent. Any write changes the change
 * time, which no tool can set back, so an unchanged stamp means unchanged bytes.
 */
function stamp(file) {
  const s = fs.statSync(file, { bigint: true, throwIfNoEntry: false });
  return s ? `${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}` : null;
}

function listing(dir) {
  try {
    return fs.readdirSync(dir).sort().join('/');
  } catch {
    return null;
  }
}

const sameSnapshot = (a, b) => JSON.stringify(a) === JSON.stringify(b);

const uniqueSuffix = () => `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;

function writeAtomically(file, data) {
  const tmp = `${file}.${uniqueSuffix()}`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

/**
 * A bundler of `entry` and the workspace code it imports; `cache` must lie inside `root`, whose
 * node_modules the bundle's npm packages resolve from. The `dmarc` command's is `bundler` below.
 */
function createBundler({ root, entry, cache }) {
  const latestFile = path.join(cache, 'latest.json');
  const rel = (file) => path.relative(root, file).split(path.sep).join('/');
  const abs = (relPath) => path.join(root, relPath);

  /**
   * Everything that decides what a build from these inputs produces, as found on disk now: the sources
   * (`stamps` gives those taken when esbuild read them), the names in their folders (a new file can change
   * what an import resolves to), the package.json and tsconfig.json files between them and the root (present
   * or not), this file and the esbuild version.
   */
  function snapshot(version, inputs, stamps) {
    const files = {};
    const dirs = {};
    const configs = {};
    const walked = new Set();
    for (const input of inputs) {
      files[input] = stamps ? stamps.get(input) : stamp(abs(input));
      const folder = path.posix.dirname(input);
      if (folder in dirs) continue;
      dirs[folder] = listing(abs(folder));
      // Up to the root, stopping at a folder another input already passed through.
      for (let dir = folder; !walked.has(dir); dir = dir === '.' ? dir : path.posix.dirname(dir)) {
        walked.add(dir);
        for (const name of CONFIG_FILES) {
          const config = dir === '.' ? name : `${dir}/${name}`;
          configs[config] = stamp(abs(config));
        }
      }
    }
    return { builder: stamp(__filename), esbuild: version, files, dirs, configs };
  }

  /** The bundle of the last build when nothing it was built from has changed since, else undefined. */
  function currentBundle(version) {
    let latest;
    try {
      latest = JSON.parse(fs.readFileSync(latestFile, 'utf8'));
    } catch {
      return undefined;
    }
    if (!latest || typeof latest.key !== 'string' || !latest.snapshot || typeof latest.snapshot.files !== 'object') return undefined;
    const file = path.join(cache, latest.key, OUT_NAME);
    if (!fs.existsSync(file)) return undefined;
    return sameSnapshot(snapshot(version, Object.keys(latest.snapshot.files), undefined), latest.snapshot) ? file : undefined;
  }

  /**
   * __dirname and __filename in a source file name its own folder (libs/store finds its migrations,
   * libs/contracts the schemas/ folder that way); in a bundle they would name the bundle's. They become the
   * source's path, relative to the repository root found from the bundle, so a moved checkout still works.
   */
  function pinSourcePaths(code, file) {
    if (!code.includes('__dirname') && !code.includes('__filename')) return code;
    const dir = JSON.stringify(rel(path.dirname(file)));
    const self = JSON.stringify(rel(file));
    return code
      .replace(/(?<![.\w$'"`])__dirname\b/g, `__dmarcSourcePath(${dir})`)
      .replace(/(?<![.\w$'"`])__filename\b/g, `__dmarcSourcePath(${self})`);
  }

  /**
   * Whether what the build read is still as it was, and was already so SETTLE_MS before the build started
   * (a change inside one clock tick of esbuild's read would not show in the times).
   */
  function settled(version, built, startedMs) {
    if (!sameSnapshot(snapshot(version, built.inputs, undefined), built.snapshot)) return false;
    const paths = [...built.inputs, ...Object.keys(built.snapshot.dirs), ...Object.keys(built.snapshot.configs)];
    return paths.every((p) => {
      try {
        const s = fs.statSync(abs(p));
        return Math.max(s.mtimeMs, s.ctimeMs) < startedMs - SETTLE_MS;
      } catch {
        return true; // absent, as the snapshot just confirmed
      }
    });
  }

  async function build(esbuild) {
    for (let attempt = 1; ; attempt++) {
      const startedMs = Date.now();
      const built = await buildOnce(esbuild);
      try {
        // Checked before the build is put in place, so a build folder only ever holds a settled build.
        if (settled(esbuild.version, built, startedMs)) {
          const dir = path.join(cache, built.key);
          try {
            // A build folder is complete or absent; a process that built the same key at once wins or loses whole.
            fs.renameSync(built.tmp, dir);
          } catch (err) {
            if (!fs.existsSync(path.join(dir, OUT_NAME))) throw err;
          }
          writeAtomically(latestFile, JSON.stringify({ key: built.key, builtAt: new Date().toISOString(), snapshot: built.snapshot }));
          prune(built.key);
          return path.join(dir, OUT_NAME);
        }
      } finally {
        fs.rmSync(built.tmp, { recursive: true, force: true });
      }
      if (attempt === 3) throw new Error('the source files keep changing; not bundling now');
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS + 100));
    }
  }

  /** One esbuild run, written to a temporary folder: its key, inputs, snapshot and that folder. */
  async function buildOnce(esbuild) {
    const stamps = new Map();
    const tmp = path.join(cache, `.tmp-${uniqueSuffix()}`);
    const outfile = path.join(tmp, OUT_NAME);
    const fromOut = JSON.stringify(path.relative(path.dirname(outfile), root).split(path.sep).join('/'));
    const result = await esbuild.build({
      absWorkingDir: root,
      entryPoints: [entry],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      // Class and function names as in the sources (logs and errors show them); bundling would otherwise
      // rename clashing top-level names.
      keepNames: true,
      // For stack traces (bundle-stack-traces.js), which need places, not the sources' text.
      sourcemap: 'linked',
      sourcesContent: false,
      metafile: true,
      write: false,
      logLevel: 'silent',
      banner: { js: `var __dmarcSourcePath = (p) => require("node:path").join(__dirname, ${fromOut}, p);` },
      plugins: [
        {
          name: 'dmarc-workspace',
          setup(b) {
            // npm packages stay external: loaded by Node as they are (native and wasm parts, optional peers).
            b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('@dmarc/') ? undefined : { path: args.path, external: true }));
            b.onLoad({ filter: /\.(ts|js|json)$/ }, (args) => {
              // Stamped before reading: a write after this changes the stamp, so the next check rebuilds.
              stamps.set(rel(args.path), stamp(args.path));
              const ext = path.extname(args.path).slice(1);
              const text = fs.readFileSync(args.path, 'utf8');
              return { contents: ext === 'json' ? text : pinSourcePaths(text, args.path), loader: ext };
            });
          },
        },
      ],
    });
    const inputs = Object.keys(result.metafile.inputs).sort();
    for (const input of inputs) {
      if (!stamps.has(input)) throw new Error(`${input} was compiled without being stamped`);
    }
    const snap = snapshot(esbuild.version, inputs, stamps);
    const key = require('node:crypto').createHash('sha256').update(JSON.stringify(snap)).digest('hex').slice(0, 24);
    fs.mkdirSync(tmp, { recursive: true });
    for (const out of result.outputFiles) fs.writeFileSync(path.join(tmp, path.relative(tmp, out.path)), out.contents);
    return { tmp, key, inputs, snapshot: snap };
  }

  function prune(keep) {
    const now = Date.now();
    for (const name of fs.readdirSync(cache)) {
      if (name === keep || name.startsWith('latest.json')) continue;
      const file = path.join(cache, name);
      try {
        if (now - fs.statSync(file).mtimeMs > PRUNE_AFTER_MS) fs.rmSync(file, { recursive: true, force: true });
      } catch {
        // another process pruned it first
      }
    }
  }

  /** The path of a bundle built from the sources as they are now, building it first when needed. Rejects when it cannot. */
  async function freshBundle() {
    const current = currentBundle(esbuildVersion());
    if (current) return current;
    fs.mkdirSync(cache, { recursive: true });
    const esbuild = fromTsx()('esbuild');
    try {
      return await build(esbuild);
    } finally {
      // esbuild's service is a child process; a long-running service has no more use for it.
      await esbuild.stop();
    }
  }

  return { freshBundle };
}

/** One line: esbuild's first error with its place, else the message's first line. */
function describe(err) {
  const first = err && Array.isArray(err.errors) && err.errors[0];
  if (first) return first.location ? `${first.location.file}:${first.location.line}: ${first.text}` : first.text;
  return err && err.message ? String(err.message).split('\n')[0] : String(err);
}

// Under the repository itself (gitignored, like every dist/): npm packages resolve from its node_modules
// and repository paths from the bundle's own place, even where node_modules is a link elsewhere.
const bundler = createBundler({ root: REPO, entry: path.join(REPO, 'services/cli/src/main.ts'), cache: path.join(REPO, 'dist/dmarc-cli') });

module.exports = { freshBundle: bundler.freshBundle, createBundler, describe };

if (require.main === module) {
  bundler.freshBundle().then(
    (file) => process.stdout.write(`${file}\n`),
    (err) => {
      process.stderr.write(`${describe(err)}\n`);
      process.exitCode = 1;
    },
  );
}
