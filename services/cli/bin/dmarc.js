#!/usr/bin/env node
'use strict';
// The `dmarc` command: runs the TypeScript sources through tsx's loader, so the same code runs from a
// fresh clone (`npx dmarc ...`), in the container image and in tests, with no separate build step.
const oneLine = (err) => (err && err.message ? String(err.message).split('\n')[0] : String(err));
let main;
try {
  require('tsx/cjs/api').register();
  ({ main } = require('../src/main.ts'));
} catch (err) {
  // A broken install (missing package, unlinked workspace) is one line, not a loader stack trace.
  process.stderr.write(`dmarc: cannot load: ${oneLine(err)} (run npm ci)\n`);
  process.exit(70);
}
main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`dmarc: ${oneLine(err)}\n`);
    process.exitCode = 1;
  },
);
