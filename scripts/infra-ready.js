#!/usr/bin/env node
// Waits until the local infrastructure really answers, not just until its ports are open:
//   kafka    - the admin client lists topics, a message goes through a throwaway topic and a
//              consumer group joins and reads it (so the group coordinator has loaded
//              __consumer_offsets; the first requests after a start get retriable
//              "coordinator is loading" / "not coordinator" errors, which are retried here)
//   redis    - PING answers +PONG
//   postgres - SELECT 1 on DATABASE_URL
// Endpoints come from KAFKA_BROKERS, REDIS_URL and DATABASE_URL (standard local ones by default).
//
// usage: node scripts/infra-ready.js [--timeout SECONDS] [--quick] [kafka] [redis] [postgres]
//   --quick  one attempt each, no Kafka round trip (for `status`)
// Exit 0 when all named services (default: all three) are ready; 1 otherwise, naming what failed.
// Also usable as a module: const { waitReady } = require('./infra-ready');
'use strict';

const net = require('node:net');

const DEFAULTS = {
  KAFKA_BROKERS: '127.0.0.1:9092',
  REDIS_URL: 'redis://127.0.0.1:6379',
  DATABASE_URL: 'postgres://dmarc:dmarc@127.0.0.1:5432/dmarc',
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function endpoints(env = process.env) {
  return {
    kafkaBrokers: (env.KAFKA_BROKERS || DEFAULTS.KAFKA_BROKERS).split(',').map((s) => s.trim()).filter(Boolean),
    redisUrl: env.REDIS_URL || DEFAULTS.REDIS_URL,
    databaseUrl: env.DATABASE_URL || DEFAULTS.DATABASE_URL,
  };
}

async function retry(name, deadline, fn) {
  let lastErr;
  let attempt = 0;
  for (;;) {
    attempt++;
    try {
      return await fn();
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() >= deadline) {
      const e = new Error(`${name} not ready after ${attempt} attempt(s): ${lastErr && lastErr.message}`);
      e.cause = lastErr;
      throw e;
    }
    await sleep(Math.min(250 * attempt, 1000));
  }
}

function withTimeout(promise, ms, what) {
  let t;
  return Promise.race([
    promise,
    new Promise((_, rej) => {
      t = setTimeout(() => rej(new Error(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

// --- redis: raw RESP so the check needs no client library and logs nothing on refusal.
function redisPing(url, timeoutMs = 2000) {
  const u = new URL(url);
  const host = u.hostname || '127.0.0.1';
  const port = Number(u.port || 6379);
  const password = decodeURIComponent(u.password || '');
  const username = decodeURIComponent(u.username || '');
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    let buf = '';
    const done = (err) => {
      sock.destroy();
      if (err) reject(err);
      else resolve();
    };
    sock.setTimeout(timeoutMs, () => done(new Error(`redis ${host}:${port} timed out`)));
    sock.on('error', (err) => done(new Error(`redis ${host}:${port}: ${err.message}`)));
    sock.on('connect', () => {
      let cmd = '';
      if (password) {
        const args = username ? ['AUTH', username, password] : ['AUTH', password];
        cmd += `*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('');
      }
      cmd += '*1\r\n$4\r\nPING\r\n';
      sock.write(cmd);
    });
    sock.on('data', (d) => {
      buf += d.toString('utf8');
      if (buf.includes('+PONG')) done();
      else if (buf.startsWith('-')) done(new Error(`redis ${host}:${port}: ${buf.split('\r\n')[0]}`));
    });
  });
}

// --- postgres
async function pgSelect1(url) {
  const { Client } = require('pg');
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } finally {
    await client.end().catch(() => {});
  }
}

// --- kafka
function kafkaClient(brokers) {
  const { Kafka, logLevel } = require('kafkajs');
  return new Kafka({
    clientId: 'infra-ready',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    requestTimeout: 10000,
    retry: { retries: 2, initialRetryTime: 200, maxRetryTime: 1000 },
  });
}

async function kafkaListTopics(brokers) {
  const admin = kafkaClient(brokers).admin();
  try {
    await admin.connect();
    return await admin.listTopics();
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

const READY_TOPIC = '__infra_ready';

async function kafkaRoundTrip(brokers, timeoutMs) {
  const { Partitioners } = require('kafkajs');
  const kafka = kafkaClient(brokers);
  const admin = kafka.admin();
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: true });
  const groupId = `infra-ready-${process.pid}-${Date.now()}`;
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10000, heartbeatInterval: 1000, allowAutoTopicCreation: true });
  const token = `${groupId}`;
  try {
    await admin.connect();
    const topics = await admin.listTopics();
    if (!topics.includes(READY_TOPIC)) {
      await admin.createTopics({ topics: [{ topic: READY_TOPIC, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
    }
    // Asks the group coordinator: fails with a retriable error while __consumer_offsets is loading.
    await admin.describeGroups([groupId]);

    await consumer.connect();
    await consumer.subscribe({ topic: READY_TOPIC, fromBeginning: false });
    let gotIt;
    const received = new Promise((resolve) => (gotIt = resolve));
    const joined = new Promise((resolve) => consumer.on(consumer.events.GROUP_JOIN, resolve));
    await consumer.run({
      eachMessage: async ({ message }) => {
        if (message.value && message.value.toString() === token) gotIt();
      },
    });
    await withTimeout(joined, timeoutMs, 'consumer group join');
    await producer.connect();
    // The consumer starts from the latest offset once joined; resend until it sees one.
    let stop = false;
    const sender = (async () => {
      for (let n = 0; !stop && n < 60; n++) {
        await producer.send({ topic: READY_TOPIC, messages: [{ value: token }] });
        await sleep(500);
      }
    })();
    sender.catch(() => {});
    try {
      await withTimeout(received, timeoutMs, 'produce/consume round trip');
    } finally {
      stop = true;
    }
  } finally {
    await consumer.disconnect().catch(() => {});
    await producer.disconnect().catch(() => {});
    await admin.deleteGroups([groupId]).catch(() => {});
    await admin.disconnect().catch(() => {});
  }
}

/**
 * Waits for the named services. Resolves with the endpoints; rejects naming each service that is not ready.
 * @param {{services?: string[], timeoutMs?: number, quick?: boolean, env?: object, log?: (s: string) => void}} opts
 */
async function waitReady(opts = {}) {
  const services = opts.services && opts.services.length ? opts.services : ['kafka', 'redis', 'postgres'];
  const timeoutMs = opts.timeoutMs ?? 60000;
  const quick = !!opts.quick;
  const log = opts.log || (() => {});
  const ep = endpoints(opts.env);
  const deadline = quick ? 0 : Date.now() + timeoutMs;

  const checks = {
    redis: () => retry(`redis (${ep.redisUrl})`, deadline, () => redisPing(ep.redisUrl)),
    postgres: () =>
      retry(`postgres (${ep.databaseUrl.replace(/:[^:@/]*@/, ':***@')})`, deadline, () => pgSelect1(ep.databaseUrl)),
    kafka: async () => {
      const name = `kafka (${ep.kafkaBrokers.join(',')})`;
      await retry(name, deadline, () => withTimeout(kafkaListTopics(ep.kafkaBrokers), 15000, 'list topics'));
      if (!quick) {
        await retry(name, deadline, () =>
          kafkaRoundTrip(ep.kafkaBrokers, Math.max(5000, Math.min(30000, deadline - Date.now()))),
        );
      }
    },
  };

  const results = await Promise.allSettled(
    services.map(async (s) => {
      if (!checks[s]) throw new Error(`unknown service ${s}`);
      const t0 = Date.now();
      await checks[s]();
      log(`${s} ready (${Date.now() - t0} ms)`);
    }),
  );
  const failures = results
    .map((r, i) => (r.status === 'rejected' ? { service: services[i], message: r.reason.message } : null))
    .filter(Boolean);
  if (failures.length) {
    const err = new Error(failures.map((f) => f.message).join('; '));
    err.failures = failures;
    throw err;
  }
  return ep;
}

module.exports = { waitReady, endpoints, DEFAULTS, redisPing, pgSelect1, kafkaListTopics };

if (require.main === module) {
  const args = process.argv.slice(2);
  let timeoutMs = 60000;
  let quick = false;
  const services = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--timeout') timeoutMs = Number(args[++i]) * 1000;
    else if (a === '--quick') quick = true;
    else if (a === '-h' || a === '--help') {
      console.log('usage: node scripts/infra-ready.js [--timeout SECONDS] [--quick] [kafka] [redis] [postgres]');
      process.exit(0);
    } else services.push(a);
  }
  const verbose = !!process.env.INFRA_READY_VERBOSE;
  waitReady({ services, timeoutMs, quick, log: verbose ? (s) => console.error(`infra-ready: ${s}`) : undefined })
    .then(() => process.exit(0))
    .catch((err) => {
      for (const f of err.failures || [{ service: '?', message: err.message }]) {
        console.error(`infra-ready: ${f.service} NOT READY: ${f.message}`);
      }
      process.exit(1);
    });
}
