#!/usr/bin/env bash
# `npm test`: every unit and integration test. Installs the npm dependencies when a fresh clone lacks
# them; the jest global setup brings up Kafka, Redis and PostgreSQL (local processes, or containers
# where a Docker engine answers) unless KAFKA_BROKERS, REDIS_URL and DATABASE_URL are given.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x node_modules/.bin/jest ] || [ ! -e node_modules/.bin/dmarc ]; then
  echo "test: installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi
export NX_DAEMON=false NX_NO_CLOUD=true
# jest runs the sources through swc, which strips types without checking them: typecheck every library,
# service and test (one program, a few seconds), and the benches, which are not a project of their own, so
# neither can rot unseen.
if [ "$#" -eq 0 ]; then
  node_modules/.bin/tsc -p tsconfig.typecheck.json
  node_modules/.bin/tsc -p bench/tsconfig.json
fi
exec node_modules/.bin/jest "$@"
