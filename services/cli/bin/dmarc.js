#!/usr/bin/env node
'use strict';
// The `dmarc` command: runs the TypeScript sources through tsx's loader, so the same code runs from a
// fresh clone (`npx dmarc ...`), in the container image and in tests, with no separate build step.
require('tsx/cjs/api').register();
const { main } = require('../src/main.ts');

main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`dmarc: ${err && err.message ? err.message.split('\n')[0] : String(err)}\n`);
    process.exitCode = 1;
  },
);
