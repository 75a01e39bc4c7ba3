#!/usr/bin/env node
// Regenerates libs/contracts/src/generated/types.ts from the .avsc files in schemas/.
//   node scripts/gen-contract-types.js          write the file
//   node scripts/gen-contract-types.js --check  exit 1 if the committed file is stale (CI)
// The generator itself is TypeScript in libs/contracts (typed, linted, unit-tested); tsx loads it.
const { readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const tsx = require('tsx/cjs/api');

const root = join(__dirname, '..');
const target = join(root, 'libs/contracts/src/generated/types.ts');
const { renderContractTypes } = tsx.require('../libs/contracts/src/codegen/render-types.ts', __filename);

const fresh = renderContractTypes(join(root, 'schemas'));
const current = (() => {
  try {
    return readFileSync(target, 'utf8');
  } catch {
    return '';
  }
})();

if (process.argv.includes('--check')) {
  if (current !== fresh) {
    console.error(`${target} is stale: run node scripts/gen-contract-types.js`);
    process.exit(1);
  }
  console.log('contract types are up to date');
} else if (current === fresh) {
  console.log('contract types already up to date');
} else {
  writeFileSync(target, fresh);
  console.log(`wrote ${target}`);
}
