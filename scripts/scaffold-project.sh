#!/usr/bin/env bash
# Creates the shell of a lib or service: package.json (exports "." only, nx tags), tsconfig, jest config.
# usage: scripts/scaffold-project.sh libs|services NAME TAG
set -euo pipefail
kind=$1 name=$2 tag=$3
dir="$kind/$name"
mkdir -p "$dir/src"
cat > "$dir/package.json" <<JSON
{
  "name": "@dmarc/$name",
  "version": "0.1.0",
  "private": true,
  "main": "./src/index.ts",
  "types": "./src/index.ts",
  "exports": { ".": "./src/index.ts" },
  "scripts": {
    "build": "tsc -p tsconfig.json",
    "test": "jest",
    "lint": "eslint src"
  },
  "nx": { "tags": ["$tag"] }
}
JSON
cat > "$dir/tsconfig.json" <<JSON
{
  "extends": "../../tsconfig.base.json",
  "compilerOptions": { "noEmit": true },
  "include": ["src/**/*.ts"]
}
JSON
echo "module.exports = require('../../jest.preset')(__dirname);" > "$dir/jest.config.js"
[ -f "$dir/src/index.ts" ] || echo "export {};" > "$dir/src/index.ts"
