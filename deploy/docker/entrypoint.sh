#!/bin/sh
# The container's entry point: one image, the service chosen at start.
#
#   entrypoint.sh SERVICE          `dmarc serve SERVICE` (ingestion, parsing, dns, aggregation, cache-invalidator, api)
#   entrypoint.sh                  the same, with the service named by the SERVICE variable
#   entrypoint.sh dmarc ARGS...    any `dmarc` command, e.g. `dmarc db migrate` (the migration job)
#
# A service runs with the node options it is deployed with (services/NAME/package.json "dmarc.nodeOptions"),
# put before NODE_OPTIONS as scripts/platform.sh does, so an operator's NODE_OPTIONS comes last and wins.
# exec: node becomes PID 1 and gets SIGTERM itself (`dmarc serve` stops gracefully on it).
set -eu
APP=$(cd "$(dirname "$0")/../.." && pwd)
DMARC="$APP/services/cli/bin/dmarc.js"

if [ "${1:-}" = dmarc ]; then
  shift
  exec node "$DMARC" "$@"
fi

service=${1:-${SERVICE:-}}
if [ -z "$service" ]; then
  echo "entrypoint: name the service to run: an argument or SERVICE (one of: ingestion, parsing, dns, aggregation, cache-invalidator, api), or 'dmarc ARGS...'" >&2
  exit 64
fi
if [ "$#" -gt 1 ]; then
  echo "entrypoint: one service per container; got: $*" >&2
  exit 64
fi
case "$service" in
  *[!a-z0-9-]* | -*)
    echo "entrypoint: service name must be lower-case letters, digits and dashes; got: $service" >&2
    exit 64
    ;;
esac

opts=
if [ -f "$APP/services/$service/package.json" ]; then
  opts=$(NODE_OPTIONS= node -p "((require(process.argv[1]).dmarc || {}).nodeOptions || '')" "$APP/services/$service/package.json")
fi
# An unknown name goes to `dmarc serve` as well, which says which services there are (exit 64).
echo "entrypoint: dmarc serve $service${opts:+ (node options: $opts)}" >&2
NODE_OPTIONS="${opts:+$opts }${NODE_OPTIONS:-}" exec node "$DMARC" serve "$service"
