// Jest global setup of the `integration` project (see jest.preset.js): makes sure Kafka, Redis and
// PostgreSQL are reachable and exports their addresses to the test workers as
//   KAFKA_BROKERS, REDIS_URL, DATABASE_URL
// in one of three modes, printed as one line:
//   env            all three variables are already set: used as they are, nothing is started.
//   testcontainers a Docker engine answers: fresh redis:7, postgres:15 and apache/kafka:3.9.1
//                  containers for this run (stopped by global-teardown.js).
//   local          otherwise `bash scripts/infra.sh up` (idempotent; a couple of seconds when the
//                  infrastructure already runs) and the standard local endpoints. Left running.
// Workers are started after this returns, so they inherit process.env.
'use strict';

const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '../..');
const STATE_KEY = '__DMARC_INFRA__';

function announce(line) {
  process.stdout.write(`\n[integration infra] ${line}\n`);
}

async function dockerAvailable() {
  if (process.env.INFRA_MODE === 'local') return false;
  try {
    const { getContainerRuntimeClient } = require('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function startContainers() {
  const { GenericContainer, Wait, getContainerRuntimeClient } = require('testcontainers');
  const runtimeHost = (await getContainerRuntimeClient()).info.containerRuntime.host;
  const started = [];
  const stopAll = () => Promise.allSettled(started.map((c) => c.stop()));
  try {
    // Kafka advertises the address clients must use, so it has to know its host port before it starts:
    // a free port is chosen and bound 1:1 (container port = host port).
    const kafkaPort = await freePort();
    const kafkaP = new GenericContainer('apache/kafka:3.9.1')
      .withExposedPorts({ container: kafkaPort, host: kafkaPort })
      .withEnvironment({
        CLUSTER_ID: '4L6g3nShT-eMCtK--X86sw',
        KAFKA_NODE_ID: '1',
        KAFKA_PROCESS_ROLES: 'broker,controller',
        KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
        KAFKA_LISTENERS: `PLAINTEXT://0.0.0.0:${kafkaPort},BROKER://0.0.0.0:9094,CONTROLLER://localhost:9093`,
        KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://${runtimeHost}:${kafkaPort},BROKER://localhost:9094`,
        KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'PLAINTEXT:PLAINTEXT,BROKER:PLAINTEXT,CONTROLLER:PLAINTEXT',
        KAFKA_INTER_BROKER_LISTENER_NAME: 'BROKER',
        KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
        KAFKA_NUM_PARTITIONS: '3',
        KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'true',
        KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
        KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS: '10',
        KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
        KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
        KAFKA_DEFAULT_REPLICATION_FACTOR: '1',
        KAFKA_MIN_INSYNC_REPLICAS: '1',
        KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
        KAFKA_HEAP_OPTS: '-Xmx512m -Xms512m',
      })
      .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
      .withStartupTimeout(120000)
      .start();
    const redisP = new GenericContainer('redis:7')
      .withCommand(['redis-server', '--save', '', '--appendonly', 'no'])
      .withExposedPorts(6379)
      .withWaitStrategy(Wait.forLogMessage(/Ready to accept connections/))
      .start();
    const pgP = new GenericContainer('postgres:15')
      .withEnvironment({ POSTGRES_USER: 'dmarc', POSTGRES_PASSWORD: 'dmarc', POSTGRES_DB: 'dmarc' })
      .withCopyFilesToContainer([
        {
          source: path.join(ROOT, 'scripts/postgres/create-test-db.sql'),
          target: '/docker-entrypoint-initdb.d/10-create-test-db.sql',
        },
      ])
      .withExposedPorts(5432)
      // The entrypoint runs a temporary server for the init scripts first: the second message is the real one.
      .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
      .withStartupTimeout(120000)
      .start();

    const results = await Promise.allSettled([kafkaP, redisP, pgP]);
    for (const r of results) if (r.status === 'fulfilled') started.push(r.value);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    const [kafka, redis, pg] = results.map((r) => r.value);

    const env = {
      KAFKA_BROKERS: `${runtimeHost}:${kafkaPort}`,
      REDIS_URL: `redis://${redis.getHost()}:${redis.getMappedPort(6379)}`,
      DATABASE_URL: `postgres://dmarc:dmarc@${pg.getHost()}:${pg.getMappedPort(5432)}/dmarc`,
    };
    const { waitReady } = require('../infra-ready');
    await waitReady({ env, timeoutMs: 90000 });
    return { env, containers: [kafka, redis, pg] };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

function localInfraUp() {
  const logFile = path.join(os.tmpdir(), `dmarc-infra-up-${process.pid}.log`);
  const fd = fs.openSync(logFile, 'w');
  let failed = null;
  try {
    // Output goes to a file, not a pipe: the servers it starts must not keep a pipe of ours open.
    execFileSync('bash', [path.join(ROOT, 'scripts/infra.sh'), 'up'], {
      cwd: ROOT,
      stdio: ['ignore', fd, fd],
      timeout: 15 * 60 * 1000,
    });
  } catch (err) {
    failed = err;
  } finally {
    fs.closeSync(fd);
  }
  const output = fs.readFileSync(logFile, 'utf8');
  fs.rmSync(logFile, { force: true });
  if (failed || process.env.INFRA_VERBOSE) process.stdout.write(output);
  if (failed) throw new Error(`bash scripts/infra.sh up failed (exit ${failed.status}); its output is above`);
  const kafkaPort = process.env.KAFKA_PORT || '9092';
  const redisPort = process.env.REDIS_PORT || '6379';
  const pgPort = process.env.PG_PORT || '5432';
  return {
    KAFKA_BROKERS: `127.0.0.1:${kafkaPort}`,
    REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    DATABASE_URL: `postgres://dmarc:dmarc@127.0.0.1:${pgPort}/dmarc`,
  };
}

module.exports = async function globalSetup() {
  const t0 = Date.now();
  const given = ['KAFKA_BROKERS', 'REDIS_URL', 'DATABASE_URL'].every((k) => process.env[k]);
  let state;
  if (given) {
    state = { mode: 'env', containers: [] };
  } else if (await dockerAvailable()) {
    const { env, containers } = await startContainers();
    Object.assign(process.env, env);
    state = { mode: 'testcontainers', containers };
  } else {
    Object.assign(process.env, localInfraUp());
    state = { mode: 'local', containers: [] };
  }
  globalThis[STATE_KEY] = state;
  const how = { env: 'given in the environment', testcontainers: 'containers started', local: 'scripts/infra.sh up' };
  announce(
    `mode=${state.mode} (${how[state.mode]}, ${Date.now() - t0} ms): KAFKA_BROKERS=${process.env.KAFKA_BROKERS} ` +
      `REDIS_URL=${process.env.REDIS_URL} DATABASE_URL=${process.env.DATABASE_URL.replace(/:[^:@/]*@/, ':***@')}`,
  );
};
