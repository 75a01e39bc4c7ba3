#!/usr/bin/env bash
# Local infrastructure for development and the integration tests: Kafka (KRaft), Redis, PostgreSQL.
#
# usage: bash scripts/infra.sh up|down [--wipe]|status|env
#   up           start whatever is not running, wait until every service really answers, print endpoints.
#                Idempotent and safe to run concurrently (flock on .infra/infra.lock): a second `up`
#                while everything runs takes a couple of seconds.
#   down         stop every service. Data is KEPT (Kafka topics, PostgreSQL databases), so the next
#                `up` is fast and sees the same state.
#   down --wipe  stop every service and delete its data too (Kafka log dirs, PostgreSQL cluster,
#                Redis dir); the jar classpath cache is kept. The next `up` starts clean.
#   status       one line per service and the endpoints; exit 0 only when all three answer.
#   env          print `export KAFKA_BROKERS=... REDIS_URL=... DATABASE_URL=...` lines (eval-able).
#
# Endpoints (all on loopback):
#   KAFKA_BROKERS=127.0.0.1:9092  REDIS_URL=redis://127.0.0.1:6379
#   DATABASE_URL=postgres://dmarc:dmarc@127.0.0.1:5432/dmarc   (database dmarc_test exists too)
# Ports can be moved with KAFKA_PORT (controller: KAFKA_CONTROLLER_PORT, default KAFKA_PORT+1),
# REDIS_PORT and PG_PORT.
#
# Where things run:
#   - If a Docker engine answers (`docker info`), `docker compose up -d kafka redis postgres` from
#     docker-compose.yml, on the same addresses. Force a mode with INFRA_MODE=local|docker.
#   - Otherwise local processes, everything under <repo>/.infra/ (gitignored):
#       Kafka 3.9.1 from Apache's jars on Maven Central (scripts/kafka/pom.xml, needs java + mvn),
#         .infra/kafka/{kafka.log,kafka.pid,server.properties,data/}
#       Redis from the distribution package (installed with apt-get when missing),
#         .infra/redis/{redis.log,redis.pid}
#       PostgreSQL from the distribution package (installed with apt-get when missing), own cluster
#         run as the `postgres` OS user when invoked as root, .infra/postgres/{data/,postgres.log,run/}
#   The mode used by the last `up` is remembered in .infra/mode so `down` and `status` follow it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
INFRA=${INFRA_DIR:-$ROOT/.infra}
KAFKA_PORT=${KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}
REDIS_PORT=${REDIS_PORT:-6379}
PG_PORT=${PG_PORT:-5432}
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xmx512m -Xms512m}
READY_TIMEOUT=${INFRA_READY_TIMEOUT:-90}
COMPOSE_FILE=$ROOT/docker-compose.yml

export KAFKA_BROKERS="127.0.0.1:$KAFKA_PORT"
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
export DATABASE_URL="postgres://dmarc:dmarc@127.0.0.1:$PG_PORT/dmarc"
export KAFKA_PORT REDIS_PORT PG_PORT

KAFKA_DIR=$INFRA/kafka
REDIS_DIR=$INFRA/redis

log() { echo "infra: $*"; }
err() { echo "infra: ERROR: $*" >&2; }
die() { err "$*"; exit 1; }
# die_log MESSAGE LOGFILE: fail, showing the end of the log that explains why.
die_log() {
  err "$1 (see $2)"
  if [ -f "$2" ]; then
    echo "----- last lines of $2 -----" >&2
    tail -n 25 "$2" >&2 || true
    echo "-----" >&2
  fi
  exit 1
}
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# pid_of FILE PATTERN: prints the pid from FILE if that process is alive and its command line matches PATTERN.
pid_of() {
  local file=$1 pattern=$2 pid
  [ -f "$file" ] || return 1
  pid=$(tr -dc '0-9' <"$file")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$pattern" || return 1
  echo "$pid"
}

# stop_pid PID NAME SECONDS: TERM, wait, then KILL.
stop_pid() {
  local pid=$1 name=$2 secs=$3 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < secs * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  err "$name (pid $pid) did not stop in ${secs}s, killing it"
  kill -KILL "$pid" 2>/dev/null || true
  sleep 0.5
}

print_endpoints() {
  echo "KAFKA_BROKERS=$KAFKA_BROKERS"
  echo "REDIS_URL=$REDIS_URL"
  echo "DATABASE_URL=$DATABASE_URL"
}

docker_engine() { command -v docker >/dev/null 2>&1 && timeout 15 docker info >/dev/null 2>&1; }

# Mode: explicit INFRA_MODE, else what the last `up` used (for down/status), else detect.
detect_mode() {
  if [ -n "${INFRA_MODE:-}" ]; then echo "$INFRA_MODE"; return; fi
  if [ "${1:-}" != up ] && [ -f "$INFRA/mode" ]; then cat "$INFRA/mode"; return; fi
  if docker_engine; then echo docker; else echo local; fi
}

# ---------------------------------------------------------------- packages
APT_UPDATED=
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo "$@"
  else return 1
  fi
}
# apt_install PKG...: installs distribution packages without starting their system services
# (the packaged redis/postgresql would otherwise try to grab the same ports).
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "missing $*; no apt-get here, install them yourself"
  local logf=$INFRA/apt.log policy=/usr/sbin/policy-rc.d added_policy=
  log "installing $* with apt-get (log: $logf)"
  if [ ! -e "$policy" ]; then
    if printf '#!/bin/sh\n# added by dmarc-platform scripts/infra.sh during apt-get install\nexit 101\n' \
      | as_root tee "$policy" >/dev/null 2>&1; then
      as_root chmod 755 "$policy"
      added_policy=1
    fi
  fi
  local rc=0
  {
    if [ -z "$APT_UPDATED" ]; then
      as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -q && APT_UPDATED=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "$@"
  } </dev/null >>"$logf" 2>&1 9>&- || rc=$?
  if [ -n "$added_policy" ]; then as_root rm -f "$policy" || true; fi
  [ "$rc" = 0 ] || die_log "apt-get install $* failed (needs root or passwordless sudo)" "$logf"
}

pg_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/postgres" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
  done
  return 1
}

ensure_packages() {
  local pkgs=()
  command -v java >/dev/null 2>&1 || pkgs+=(default-jre-headless)
  command -v mvn >/dev/null 2>&1 || pkgs+=(maven)
  command -v redis-server >/dev/null 2>&1 || pkgs+=(redis-server)
  pg_bindir >/dev/null || pkgs+=(postgresql)
  # BIND 9 (named), for the DNS autopilot's integration test against a real primary (libs/dns-update).
  named_bin >/dev/null || pkgs+=(bind9 bind9-utils)
  if [ "${#pkgs[@]}" -gt 0 ]; then apt_install "${pkgs[@]}"; fi
  command -v java >/dev/null 2>&1 || die "java not found after install"
  command -v mvn >/dev/null 2>&1 || die "mvn not found after install"
  command -v redis-server >/dev/null 2>&1 || die "redis-server not found after install"
  pg_bindir >/dev/null || die "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin after install"
  named_bin >/dev/null || die "named (bind9) not found after install"
}

# named lives in /usr/sbin, which a non-root PATH may lack.
named_bin() { command -v named 2>/dev/null || { [ -x /usr/sbin/named ] && echo /usr/sbin/named; }; }

# ---------------------------------------------------------------- kafka
kafka_classpath_ok() {
  local cp=$KAFKA_DIR/classpath.txt jar
  [ -s "$cp" ] || return 1
  # a cache older than the pom is stale
  [ "$cp" -nt "$ROOT/scripts/kafka/pom.xml" ] || return 1
  local IFS=:
  for jar in $(cat "$cp"); do [ -f "$jar" ] || return 1; done
  return 0
}

# Resolves the broker's jars (Maven Central, into ~/.m2) and writes .infra/kafka/classpath.txt.
kafka_resolve() {
  kafka_classpath_ok && return 0
  command -v mvn >/dev/null 2>&1 || return 0 # ensure_packages installs it; resolved again after
  log "resolving Kafka jars from Maven Central (first run only; log: $KAFKA_DIR/maven.log)"
  rm -f "$KAFKA_DIR/classpath.txt"
  if ! mvn -q -B -f "$ROOT/scripts/kafka/pom.xml" dependency:build-classpath \
    -Dmdep.outputFile="$KAFKA_DIR/classpath.txt.tmp" >"$KAFKA_DIR/maven.log" 2>&1; then
    return 1
  fi
  mv "$KAFKA_DIR/classpath.txt.tmp" "$KAFKA_DIR/classpath.txt"
}

kafka_pid() { pid_of "$KAFKA_DIR/kafka.pid" "kafka.Kafka"; }

kafka_java() {
  # shellcheck disable=SC2086 # KAFKA_HEAP_OPTS is a list of JVM flags
  java $KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$ROOT/scripts/kafka/log4j.properties" -Dkafka.logs.dir="$KAFKA_DIR" \
    -cp "$(cat "$KAFKA_DIR/classpath.txt")" "$@"
}

kafka_up() {
  local pid
  if pid=$(kafka_pid); then log "kafka already running (pid $pid)"; return 0; fi
  if port_open "$KAFKA_PORT" || port_open "$KAFKA_CONTROLLER_PORT"; then
    die "port $KAFKA_PORT or $KAFKA_CONTROLLER_PORT is taken by another process; stop it or set KAFKA_PORT"
  fi
  kafka_classpath_ok || kafka_resolve || die_log "resolving the Kafka jars with Maven failed" "$KAFKA_DIR/maven.log"
  sed -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" -e "s|@CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
    -e "s|@DATA_DIR@|$KAFKA_DIR/data|g" "$ROOT/scripts/kafka/server.properties.template" >"$KAFKA_DIR/server.properties"
  if [ ! -f "$KAFKA_DIR/data/meta.properties" ]; then
    local cluster_id
    if [ -s "$KAFKA_DIR/cluster.id" ] && [ "$(head -c 1 "$KAFKA_DIR/cluster.id")" != - ]; then cluster_id=$(cat "$KAFKA_DIR/cluster.id")
    else
      # 16 random bytes, base64url without padding: the format of `kafka-storage random-uuid`.
      # A base64url id may start with '-', which StorageTool's argument parser reads as an option
      # (seen once in CI: "argument --cluster-id/-t: expected one argument"); draw until it does not.
      cluster_id=-
      while [ "${cluster_id#-}" != "$cluster_id" ]; do
        cluster_id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
      done
      echo "$cluster_id" >"$KAFKA_DIR/cluster.id"
    fi
    log "formatting Kafka storage (cluster id $cluster_id)"
    kafka_java kafka.tools.StorageTool format -t "$cluster_id" -c "$KAFKA_DIR/server.properties" --ignore-formatted \
      >"$KAFKA_DIR/format.log" 2>&1 || die_log "formatting Kafka storage failed" "$KAFKA_DIR/format.log"
  fi
  log "starting kafka on 127.0.0.1:$KAFKA_PORT (log: $KAFKA_DIR/kafka.log)"
  # keep one previous log once it passes ~50 MB
  if [ -f "$KAFKA_DIR/kafka.log" ] && [ "$(stat -c %s "$KAFKA_DIR/kafka.log")" -gt 52428800 ]; then
    mv -f "$KAFKA_DIR/kafka.log" "$KAFKA_DIR/kafka.log.1"
  fi
  echo "=== $(date -Is) start" >>"$KAFKA_DIR/kafka.log"
  # Own session (setsid) so that whoever ran `up` (jest, CI, a shell) can exit without taking the broker along.
  local cp
  cp=$(cat "$KAFKA_DIR/classpath.txt")
  # shellcheck disable=SC2086
  nohup setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$KAFKA_DIR/kafka.pid" \
    java $KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$ROOT/scripts/kafka/log4j.properties" -Dkafka.logs.dir="$KAFKA_DIR" \
    -cp "$cp" kafka.Kafka "$KAFKA_DIR/server.properties" \
    </dev/null >>"$KAFKA_DIR/kafka.log" 2>&1 9>&- &
}

# Called after redis/postgres were started, so the three boot in parallel.
kafka_wait_port() {
  local i
  for ((i = 0; i < 600; i++)); do
    port_open "$KAFKA_PORT" && return 0
    if [ "$i" -gt 20 ] && ! kafka_pid >/dev/null; then die_log "kafka exited during startup" "$KAFKA_DIR/kafka.log"; fi
    sleep 0.1
  done
  die_log "kafka did not open 127.0.0.1:$KAFKA_PORT within 60s" "$KAFKA_DIR/kafka.log"
}

kafka_down() {
  local pid
  if pid=$(kafka_pid); then
    log "stopping kafka (pid $pid)"
    stop_pid "$pid" kafka 60
  fi
  rm -f "$KAFKA_DIR/kafka.pid"
}

# ---------------------------------------------------------------- redis
redis_pid() { pid_of "$REDIS_DIR/redis.pid" "redis-server"; }

redis_up() {
  local pid
  if pid=$(redis_pid); then log "redis already running (pid $pid)"; return 0; fi
  port_open "$REDIS_PORT" && die "port $REDIS_PORT is taken by another process; stop it or set REDIS_PORT"
  mkdir -p "$REDIS_DIR"
  log "starting redis on 127.0.0.1:$REDIS_PORT (log: $REDIS_DIR/redis.log)"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes \
    --pidfile "$REDIS_DIR/redis.pid" --dir "$REDIS_DIR" --logfile "$REDIS_DIR/redis.log" \
    --save '' --appendonly no --protected-mode yes \
    </dev/null >>"$REDIS_DIR/redis.log" 2>&1 9>&- || die_log "redis-server failed to start" "$REDIS_DIR/redis.log"
}

redis_down() {
  local pid
  if pid=$(redis_pid); then
    log "stopping redis (pid $pid)"
    stop_pid "$pid" redis 20
  fi
  rm -f "$REDIS_DIR/redis.pid"
}

# ---------------------------------------------------------------- postgres
# PostgreSQL refuses to run as root: as root the cluster belongs to the `postgres` OS user, which
# must be able to reach its data directory. If it cannot reach .infra (repo under a private home),
# the cluster lives under /var/tmp and .infra/postgres is a symlink to it.
PG_ROOT=
pg_setup_paths() {
  if [ -L "$INFRA/postgres" ]; then PG_ROOT=$(readlink -f "$INFRA/postgres")
  else PG_ROOT=$INFRA/postgres
  fi
  PGDATA=$PG_ROOT/data
  PG_SOCK=$PG_ROOT/run
  PG_LOG=$PG_ROOT/postgres.log
}

# fd 9 (the infra.lock flock) is closed for everything started from here, so a running server
# never keeps the lock held.
as_pg() {
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@" 9>&-)
  else (cd / && "$@" 9>&-)
  fi
}

pg_prepare_dirs() {
  pg_setup_paths
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || die "no 'postgres' OS user (the postgresql package creates it)"
    if [ ! -L "$INFRA/postgres" ] && ! runuser -u postgres -- test -x "$INFRA"; then
      local alt
      alt=/var/tmp/dmarc-infra-$(printf '%s' "$INFRA" | cksum | cut -d' ' -f1)/postgres
      log "the postgres user cannot reach $INFRA; keeping the cluster in $alt (symlinked from .infra/postgres)"
      mkdir -p "$alt"
      chmod 755 "$(dirname "$alt")"
      rm -rf "$INFRA/postgres"
      ln -s "$alt" "$INFRA/postgres"
      pg_setup_paths
    fi
    mkdir -p "$PG_ROOT" "$PG_SOCK"
    chown postgres:postgres "$PG_ROOT" "$PG_SOCK"
    if [ -e "$PG_LOG" ]; then chown postgres:postgres "$PG_LOG"; fi
  else
    mkdir -p "$PG_ROOT" "$PG_SOCK"
  fi
}

pg_running() { as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; }

pg_up() {
  PG_BIN=$(pg_bindir) || die "no PostgreSQL server binaries"
  pg_prepare_dirs
  local ver
  ver=$(basename "$(dirname "$PG_BIN")")
  if [ -f "$PGDATA/PG_VERSION" ] && [ "$(cat "$PGDATA/PG_VERSION")" != "$ver" ]; then
    die "the cluster in $PGDATA is PostgreSQL $(cat "$PGDATA/PG_VERSION") but the server is $ver; run: bash scripts/infra.sh down --wipe"
  fi
  if [ ! -f "$PGDATA/PG_VERSION" ]; then
    log "initialising a PostgreSQL $ver cluster in $PGDATA"
    as_pg "$PG_BIN/initdb" -D "$PGDATA" -U postgres -E UTF8 --locale=C --auth-local=trust --auth-host=scram-sha-256 \
      >"$PG_ROOT/initdb.log" 2>&1 || die_log "initdb failed" "$PG_ROOT/initdb.log"
  fi
  if pg_running; then
    log "postgres already running"
  else
    port_open "$PG_PORT" && die "port $PG_PORT is taken by another process; stop it or set PG_PORT"
    log "starting postgres $ver on 127.0.0.1:$PG_PORT (log: $PG_LOG)"
    # fsync off: a throwaway development/test cluster; it only matters if the machine itself crashes.
    # log_min_error_statement=fatal: an error is logged without the statement that raised it, which for aggregation's
    # batch statement is megabytes of array literals (tests and benches provoke refused chunks on purpose).
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$PG_LOG" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories=$PG_SOCK -c max_connections=300 -c fsync=off -c full_page_writes=off -c log_min_error_statement=fatal" \
      start >/dev/null 2>&1 || die_log "postgres failed to start" "$PG_LOG"
  fi
  as_pg "$PG_BIN/psql" -X -q -h "$PG_SOCK" -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 >"$PG_ROOT/provision.log" 2>&1 <<'SQL' || die_log "creating the dmarc role and databases failed" "$PG_ROOT/provision.log"
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dmarc') THEN
    CREATE ROLE dmarc LOGIN PASSWORD 'dmarc' CREATEDB;
  END IF;
END
$$;
SELECT 'CREATE DATABASE dmarc OWNER dmarc' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'dmarc')\gexec
SELECT 'CREATE DATABASE dmarc_test OWNER dmarc' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'dmarc_test')\gexec
SQL
}

pg_down() {
  PG_BIN=$(pg_bindir) || return 0
  pg_setup_paths
  [ -f "$PGDATA/PG_VERSION" ] || return 0
  if pg_running; then
    log "stopping postgres"
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast -w -t 60 stop >/dev/null 2>&1 || err "pg_ctl stop failed (see $PG_LOG)"
  fi
}

# ---------------------------------------------------------------- commands
ready_check() {
  command -v node >/dev/null 2>&1 || die "node not found"
  [ -d "$ROOT/node_modules/kafkajs" ] && [ -d "$ROOT/node_modules/pg" ] || die "node_modules missing: run npm ci first"
  node "$ROOT/scripts/infra-ready.js" --timeout "$READY_TIMEOUT" "$@"
}

local_up() {
  mkdir -p "$KAFKA_DIR" "$REDIS_DIR"
  # Jar resolution (network) runs while apt-get installs whatever packages are missing.
  local mvn_pid=
  if ! kafka_classpath_ok && command -v mvn >/dev/null 2>&1; then
    kafka_resolve & mvn_pid=$!
  fi
  ensure_packages
  if [ -n "$mvn_pid" ]; then
    wait "$mvn_pid" || die_log "resolving the Kafka jars with Maven failed" "$KAFKA_DIR/maven.log"
  fi
  kafka_up
  redis_up
  pg_up
  kafka_wait_port
  if ! ready_check; then
    err "not ready; logs: $KAFKA_DIR/kafka.log $REDIS_DIR/redis.log $PG_LOG"
    exit 1
  fi
}

local_down() {
  kafka_down
  redis_down
  pg_down
}

local_wipe() {
  pg_setup_paths
  log "deleting data: $KAFKA_DIR/data $REDIS_DIR $PG_ROOT"
  rm -rf "$KAFKA_DIR/data" "$KAFKA_DIR/cluster.id" "$KAFKA_DIR/server.properties" "$REDIS_DIR" "$PG_ROOT"
  if [ -L "$INFRA/postgres" ]; then
    rm -f "$INFRA/postgres"
    rmdir "$(dirname "$PG_ROOT")" 2>/dev/null || true
  fi
  rm -f "$INFRA/mode"
}

local_status() {
  local pid pg_state=stopped
  if pid=$(kafka_pid); then echo "kafka     running  pid $pid   127.0.0.1:$KAFKA_PORT   log $KAFKA_DIR/kafka.log"
  else echo "kafka     stopped                 log $KAFKA_DIR/kafka.log"; fi
  if pid=$(redis_pid); then echo "redis     running  pid $pid   127.0.0.1:$REDIS_PORT   log $REDIS_DIR/redis.log"
  else echo "redis     stopped                 log $REDIS_DIR/redis.log"; fi
  pg_setup_paths
  if PG_BIN=$(pg_bindir) && [ -f "$PGDATA/PG_VERSION" ] && pg_running; then
    pid=$(head -n 1 "$PGDATA/postmaster.pid" 2>/dev/null || echo '?')
    pg_state="running  pid $pid   127.0.0.1:$PG_PORT"
  fi
  echo "postgres  $pg_state   log $PG_LOG"
}

compose() {
  if docker compose version >/dev/null 2>&1; then docker compose -f "$COMPOSE_FILE" "$@"
  elif command -v docker-compose >/dev/null 2>&1; then docker-compose -f "$COMPOSE_FILE" "$@"
  else die "a Docker engine answers but neither 'docker compose' nor 'docker-compose' is installed (or run with INFRA_MODE=local)"
  fi
}

docker_up() {
  log "docker engine found: docker compose up -d kafka redis postgres"
  compose up -d kafka redis postgres || die "docker compose up failed (see: docker compose logs kafka redis postgres)"
  if ! ready_check; then
    err "not ready; see: docker compose -f $COMPOSE_FILE logs kafka redis postgres"
    exit 1
  fi
}

cmd=${1:-}
shift || true
case "$cmd" in
  up | down | status | env) ;;
  -h | --help | help) usage; exit 0 ;;
  *) usage >&2; exit 2 ;;
esac

if [ "$cmd" = env ]; then
  echo "export KAFKA_BROKERS=$KAFKA_BROKERS"
  echo "export REDIS_URL=$REDIS_URL"
  echo "export DATABASE_URL=$DATABASE_URL"
  exit 0
fi

mkdir -p "$INFRA"
start=$(date +%s)

if [ "$cmd" = status ]; then
  mode=$(detect_mode status)
  echo "mode: $mode"
  if [ "$mode" = docker ]; then compose ps kafka redis postgres || true
  else local_status
  fi
  print_endpoints
  if node "$ROOT/scripts/infra-ready.js" --quick; then echo "status: all services answer"; exit 0
  else echo "status: NOT all services answer (run: bash scripts/infra.sh up)"; exit 1
  fi
fi

# up / down: one at a time.
exec 9>"$INFRA/infra.lock"
if ! flock -n 9; then
  log "another infra.sh up/down is running; waiting for it"
  flock -w 900 9 || die "timed out waiting for the lock $INFRA/infra.lock"
fi

case "$cmd" in
  up)
    mode=$(detect_mode up)
    prev=$(cat "$INFRA/mode" 2>/dev/null || true)
    if [ -n "$prev" ] && [ "$prev" != "$mode" ]; then
      die "infra was last brought up in $prev mode, now $mode; run: INFRA_MODE=$prev bash scripts/infra.sh down"
    fi
    echo "$mode" >"$INFRA/mode"
    if [ "$mode" = docker ]; then docker_up; else local_up; fi
    log "up ($mode mode) in $(($(date +%s) - start))s"
    print_endpoints
    ;;
  down)
    wipe=
    case "${1:-}" in
      --wipe) wipe=1 ;;
      "") ;;
      *) usage >&2; exit 2 ;;
    esac
    mode=$(detect_mode down)
    if [ "$mode" = docker ]; then
      if [ -n "$wipe" ]; then compose down -v; else compose down; fi
      rm -f "$INFRA/mode"
    else
      local_down
      if [ -n "$wipe" ]; then local_wipe; else rm -f "$INFRA/mode"; fi
    fi
    log "down ($mode mode${wipe:+, data wiped}) in $(($(date +%s) - start))s"
    ;;
esac
