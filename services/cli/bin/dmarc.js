#!/usr/bin/env node
'use strict';
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS that node runs as it is, before any loader */
// The `dmarc` command. It runs the TypeScript sources compiled into one file (cli-bundle.js: rebuilt
// whenever a source it was built from differs, so never old code), which spares each service tsx's loader
// and the source maps of npm packages (~20 MB RSS, ~0.5 CPU-s at start; figures in cli-bundle.js). Where
// no bundle can be built (esbuild missing, dist/ not writable) it says so in one line and runs the sources
// through tsx, as DMARC_LOADER=tsx does. Either way the same code runs from a fresh clone (`npx dmarc ...`),
// in containers and in tests, with no separate build step.
const oneLine = (err) => (err && err.message ? String(err.message).split('\n')[0] : String(err));

function loadWithTsx() {
  require('tsx/cjs/api').register();
  return require('../src/main.ts').main;
}

async function load() {
  const loader = process.env.DMARC_LOADER || 'bundle';
  if (loader === 'tsx') return loadWithTsx();
  if (loader !== 'bundle') throw new Error(`DMARC_LOADER must be bundle or tsx, not ${JSON.stringify(loader)}`);
  const bundle = require('./cli-bundle');
  let file;
  try {
    file = await bundle.freshBundle();
  } catch (err) {
    process.stderr.write(`dmarc: cannot bundle the sources (${bundle.describe(err)}); running them through tsx\n`);
    return loadWithTsx();
  }
  // Stack traces name the .ts files and lines, as under tsx.
  require('./bundle-stack-traces').install(file);
  return require(file).main;
}

load().then(
  (main) =>
    main(process.argv.slice(2)).then(
      (code) => {
        if (typeof code === 'number') process.exitCode = code;
      },
      (err) => {
        process.stderr.write(`dmarc: ${oneLine(err)}\n`);
        process.exitCode = 1;
      },
    ),
  (err) => {
    // A broken install (missing package, unlinked workspace) is one line, not a loader stack trace.
    process.stderr.write(`dmarc: cannot load: ${oneLine(err)} (run npm ci)\n`);
    process.exit(70);
  },
);
