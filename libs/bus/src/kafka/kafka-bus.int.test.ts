import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { type Contracts, loadContracts, type ReportInboundInput } from '@dmarc/contracts';
import { SpanKind } from '@opentelemetry/api';
import { Kafka, logLevel } from 'kafkajs';
import { installInMemoryTracing } from '../__test-support__/in-memory-tracing';
import { delay, TestDownstreamError, waitFor } from '../__test-support__/wait-for';
import type { Bus, ConsumeOptions, Delivered, Subscription } from '../bus';
import { BUS_HEADERS } from '../headers';
import type { BusLogger } from '../logger';
import { createKafkaBus } from './kafka-bus';

// Group joins and a dead member's session expiry take seconds: far beyond jest's default 5 s.
jest.setTimeout(120_000);

// Against the broker of KAFKA_BROKERS (the jest global setup provides it). Every topic and group
// name carries this run's id, so runs and tests never see each other's messages.
const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const runId = `it-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
const SUBJECT = 'dmarc.reports.inbound';
const topicFor = (name: string) => `${runId}.${name}`;
const TOPICS = {
  roundTrip: topicFor('round-trip'),
  kill: topicFor('kill'),
  malformed: topicFor('malformed'),
  downstream: topicFor('downstream'),
  close: topicFor('close'),
  concurrent: topicFor('concurrent'),
  batch: topicFor('batch'),
  large: topicFor('large'),
};
type Topic = (typeof TOPICS)[keyof typeof TOPICS];
const contracts: Contracts = loadContracts({ topicAliases: Object.fromEntries(Object.values(TOPICS).map((t) => [t, SUBJECT])) });

// Small timeouts so group joins and failovers take seconds, not the production defaults.
const quick = { sessionTimeoutMs: 6_000, heartbeatIntervalMs: 500, maxWaitTimeMs: 100 } satisfies Partial<ConsumeOptions<string>>;

const tracing = installInMemoryTracing();
const admin = new Kafka({ brokers, clientId: 'bus-int-admin', logLevel: logLevel.NOTHING }).admin();
const lines: string[] = [];
const logger: BusLogger = {
  info: (_f, m) => void lines.push(`info ${m}`),
  warn: (_f, m) => void lines.push(`warn ${m}`),
  error: (_f, m) => void lines.push(`error ${m}`),
};
let bus: Bus;
const subscriptions: Subscription[] = [];

function report(id: string): ReportInboundInput {
  return { tenantId: 't-1', payload: Buffer.from(`<feedback id="${id}"/>`), filename: id, submittedAt: Date.now() };
}

const idOf = (m: Delivered<string>) => (m.value as { filename: string }).filename;

async function consume<T extends string>(options: ConsumeOptions<T>): Promise<Subscription> {
  const subscription = await bus.consume({ ...quick, ...options });
  subscriptions.push(subscription);
  return subscription;
}

async function committed(groupId: string, topic: string): Promise<string[]> {
  const [result] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return result.partitions.sort((a, b) => a.partition - b.partition).map((p) => p.offset);
}

beforeAll(async () => {
  await admin.connect();
  bus = await createKafkaBus({ brokers, clientId: 'bus-int', contracts, logger, connectRetry: { maxAttempts: 10 } });
  await bus.ensureTopics([
    { topic: TOPICS.roundTrip, partitions: 3 },
    ...[TOPICS.kill, TOPICS.malformed, TOPICS.downstream, TOPICS.close, TOPICS.concurrent, TOPICS.batch, TOPICS.large].map((topic) => ({ topic, partitions: 1 })),
  ]);
});

afterEach(async () => {
  await Promise.all(subscriptions.splice(0).map((s) => s.close()));
});

afterAll(async () => {
  await bus?.close();
  const topics = Object.values(TOPICS).flatMap((t) => [t, `${t}.dlq`]);
  await admin.deleteTopics({ topics }).catch(() => undefined);
  await admin.disconnect();
  tracing.uninstall();
});

describe('Kafka bus against a real broker', () => {
  it('(a) delivers an Avro message to two consumer groups, each CONSUMER span in the producer trace', async () => {
    const topic: Topic = TOPICS.roundTrip;
    const received: Record<string, Array<Delivered<string>>> = { a: [], b: [] };
    for (const group of ['a', 'b']) {
      await consume({ groupId: `${runId}-rt-${group}`, topics: [topic], handler: async (m) => void received[group].push(m) });
    }
    await bus.publish(topic, [{ key: 'k-1', value: report('r-1'), tenantId: 't-1', headers: { 'x-origin': 'int-test' } }]);
    await waitFor('both groups', () => received.a.length === 1 && received.b.length === 1, 30_000);

    for (const m of [received.a[0], received.b[0]]) {
      expect(m).toMatchObject({ topic, key: 'k-1', tenantId: 't-1', attempt: 1, writer: 'dmarc.reports.inbound/v1' });
      expect(m.value).toMatchObject({ filename: 'r-1', payload: Buffer.from('<feedback id="r-1"/>'), contentType: null });
      expect(m.headers['x-origin']).toBe('int-test');
      expect(m.headers['avro-fingerprint']).toBe(contracts.schemaFor(topic).fingerprint);
    }
    await waitFor('consumer spans', () => tracing.spans().filter((s) => s.name === `process ${topic}`).length === 2, 5_000);
    const producer = tracing.spans().find((s) => s.name === `send ${topic}`);
    expect(producer?.kind).toBe(SpanKind.PRODUCER);
    const consumers = tracing.spans().filter((s) => s.name === `process ${topic}`);
    expect(consumers.map((s) => s.attributes['messaging.consumer.group.name']).sort()).toEqual([`${runId}-rt-a`, `${runId}-rt-b`]);
    for (const span of consumers) {
      expect(span.kind).toBe(SpanKind.CONSUMER);
      expect(span.spanContext().traceId).toBe(producer?.spanContext().traceId);
      expect(span.parentSpanContext?.spanId).toBe(producer?.spanContext().spanId);
    }
  });

  it('(b) re-delivers what a consumer killed mid-batch had not committed; nothing is lost', async () => {
    const topic = TOPICS.kill;
    const groupId = `${runId}-kill`;
    const ids = Array.from({ length: 20 }, (_, i) => `m-${String(i).padStart(2, '0')}`);
    await bus.publish(topic, ids.map((id) => ({ key: 'same-key', value: report(id), tenantId: 't-1' })));

    const fixture = join(__dirname, '__fixtures__/kill-mid-batch-consumer.ts');
    const args = JSON.stringify({ brokers, topic, subject: SUBJECT, groupId, handleCount: 8 });
    const child = spawn(process.execPath, ['--require', require.resolve('tsx/cjs'), fixture, args], {
      cwd: join(__dirname, '../..'),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const childLines: string[] = [];
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => childLines.push(...chunk.split('\n').filter(Boolean)));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise((resolve) => child.on('exit', resolve));
    try {
      await waitFor(`child in flight (stderr: ${stderr})`, () => childLines.some((l) => l.startsWith('in-flight')), 60_000, 20);
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    const handledByChild = childLines.filter((l) => l.startsWith('handled ')).map((l) => l.slice('handled '.length));
    const inFlight = childLines.filter((l) => l.startsWith('in-flight ')).map((l) => l.slice('in-flight '.length));
    expect(handledByChild).toEqual(ids.slice(0, 8));
    expect(inFlight).toEqual([ids[8]]);
    // Killed before its batch ended: not even the finished messages were committed.
    expect(await committed(groupId, topic)).toEqual(['-1']);

    const second: string[] = [];
    await consume({ groupId, topics: [topic], handler: async (m) => void second.push(idOf(m)) });
    await waitFor('second consumer to catch up', () => second.length >= ids.length, 60_000);
    const union = new Set([...handledByChild, ...second]);
    expect([...union].sort()).toEqual(ids);
    for (const id of [...handledByChild, ...inFlight]) expect(second).toContain(id);
    expect(second).toEqual(ids);
    await waitForCommitted(groupId, topic, ['20']);
  });

  it('(c) dead-letters malformed Avro with its reason and original bytes, and carries on', async () => {
    const topic = TOPICS.malformed;
    const handled: string[] = [];
    const letters: Array<Delivered<`${string}.dlq`>> = [];
    await consume({ groupId: `${runId}-malformed`, topics: [topic], handler: async (m) => void handled.push(idOf(m)) });
    await consume({ groupId: `${runId}-malformed-dlq`, topics: [`${topic}.dlq`], handler: async (m) => void letters.push(m) });

    const good = contracts.encode(topic, report('after-garbage'));
    const garbage = randomBytes(64);
    await bus.publishRaw(topic, [
      { key: 'k', value: garbage, headers: { ...good.headers, [BUS_HEADERS.tenantId]: 't-1', 'x-origin': 'hostile' } },
    ]);
    await bus.publish(topic, [{ key: 'k', value: report('after-garbage'), tenantId: 't-1' }]);
    await waitFor('dead letter and next message', () => letters.length === 1 && handled.length === 1, 30_000);

    const letter = letters[0].value;
    expect(letter).toMatchObject({ originalTopic: topic, partition: 0, offset: 0, errorCode: 'CONTRACT_MALFORMED', retriable: false, attempts: 0 });
    expect(letter.reason).toContain(topic);
    expect(letter.payload).toEqual(garbage);
    expect(letter.key).toEqual(Buffer.from('k'));
    expect(letter.headers['x-origin']).toEqual(Buffer.from('hostile'));
    expect(letters[0].tenantId).toBe('t-1');
    expect(handled).toEqual(['after-garbage']);
    expect(lines.some((l) => l.startsWith(`warn dead-lettered ${topic}[0]@0 to ${topic}.dlq`))).toBe(true);
    await waitForCommitted(`${runId}-malformed`, topic, ['2']);

    // What /metrics exports: throughput, dead letters by code, and the partition drained (lag 0).
    const stats = bus.stats();
    expect(stats.published).toEqual(expect.arrayContaining([{ topic, messages: 2 }, { topic: `${topic}.dlq`, messages: 1 }]));
    expect(stats.consumed).toEqual(
      expect.arrayContaining([
        { topic, group: `${runId}-malformed`, messages: 1 },
        { topic: `${topic}.dlq`, group: `${runId}-malformed-dlq`, messages: 1 },
      ]),
    );
    expect(stats.deadLettered).toEqual([{ topic, group: `${runId}-malformed`, code: 'CONTRACT_MALFORMED', messages: 1 }]);
    expect(stats.lag).toEqual(expect.arrayContaining([{ topic, group: `${runId}-malformed`, partition: 0, lag: 0 }]));
    await expect(bus.ping()).resolves.toBeUndefined();
  });

  it('(d) backs off and pauses while the downstream is down, commits only once it is back', async () => {
    const topic = TOPICS.downstream;
    const groupId = `${runId}-downstream`;
    let downstreamUp = false;
    const attempts: number[] = [];
    const handled: string[] = [];
    await consume({
      groupId,
      topics: [topic],
      retry: { attempts: 2, initialMs: 20, maxMs: 50 },
      pause: { initialMs: 300, maxMs: 600 },
      handler: async (m) => {
        attempts.push(m.attempt);
        if (!downstreamUp) throw new TestDownstreamError('DB_UNAVAILABLE', true, 'connection refused');
        handled.push(idOf(m));
      },
    });
    await bus.publish(topic, [{ key: 'k', value: report('d-1'), tenantId: 't-1' }, { key: 'k', value: report('d-2'), tenantId: 't-1' }]);
    await waitFor('two pauses', () => attempts.length >= 5, 30_000);
    expect(handled).toEqual([]);
    expect(await committed(groupId, topic)).toEqual(['-1']);
    expect(lines.filter((l) => l.startsWith(`warn pausing ${topic}[0]`)).length).toBeGreaterThanOrEqual(2);

    downstreamUp = true;
    await waitFor('recovery', () => handled.length === 2, 30_000);
    expect(handled).toEqual(['d-1', 'd-2']);
    // Attempts counted on across pauses, the message was never skipped.
    expect(attempts.slice(0, -1)).toEqual([...Array(attempts.length - 1).keys()].map((i) => i + 1));
    await waitForCommitted(groupId, topic, ['2']);
    const [dlq] = await admin.fetchTopicOffsets(`${topic}.dlq`);
    expect(dlq.high).toBe('0');
  });

  it('(e) on close, finishes the message in hand and commits it, and starts nothing new', async () => {
    const topic = TOPICS.close;
    const groupId = `${runId}-close`;
    await bus.publish(topic, ['c-1', 'c-2', 'c-3'].map((id) => ({ key: 'k', value: report(id), tenantId: 't-1' })));
    const started: string[] = [];
    const finished: string[] = [];
    const subscription = await consume({
      groupId,
      topics: [topic],
      handler: async (m) => {
        started.push(idOf(m));
        await delay(1_500);
        finished.push(idOf(m));
      },
    });
    await waitFor('first message in hand', () => started.length === 1, 30_000);
    await subscription.close();
    expect(finished).toEqual(['c-1']);
    expect(started).toEqual(['c-1']);
    expect(await committed(groupId, topic)).toEqual(['1']);

    const next: string[] = [];
    await consume({ groupId, topics: [topic], handler: async (m) => void next.push(idOf(m)) });
    await waitFor('the rest', () => next.length === 2, 30_000);
    expect(next).toEqual(['c-2', 'c-3']);
  });

  it('(f) with messageConcurrency, handles messages of one partition at once, each key in order, offsets committed in order', async () => {
    const topic = TOPICS.concurrent;
    const groupId = `${runId}-concurrent`;
    const keys = ['k-a', 'k-b', 'k-c', 'k-d'];
    await bus.publish(
      topic,
      Array.from({ length: 24 }, (_, i) => ({ key: keys[i % keys.length], value: report(`m-${i}`), tenantId: 't-1' })),
    );
    const handled: Array<{ key: string | null; n: number }> = [];
    let inHand = 0;
    let most = 0;
    await consume({
      groupId,
      topics: [topic],
      messageConcurrency: 8,
      handler: async (m) => {
        most = Math.max(most, ++inHand);
        // Later messages finish first: only the per-key chain keeps their order.
        await delay(5 + (30 - Number(idOf(m).slice(2))));
        inHand--;
        handled.push({ key: m.key, n: Number(idOf(m).slice(2)) });
      },
    });
    await waitFor('every message', () => handled.length === 24, 30_000);
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(keys.length);
    for (const key of keys) {
      const ns = handled.filter((h) => h.key === key).map((h) => h.n);
      expect(ns).toEqual([...ns].sort((a, b) => a - b));
    }
    await waitForCommitted(groupId, topic, ['24']);
  });

  it('(g) with a batch handler, takes fetched messages many at once; what it leaves goes one by one, a bad one to the DLQ', async () => {
    const topic = TOPICS.batch;
    const groupId = `${runId}-batch`;
    const ids = Array.from({ length: 40 }, (_, i) => `b-${String(i).padStart(2, '0')}`);
    await bus.publish(topic, ids.map((id) => ({ key: 'k', value: report(id), tenantId: 't-1' })));
    const batches: string[][] = [];
    const single: string[] = [];
    const letters: string[] = [];
    await consume({ groupId: `${groupId}-dlq`, topics: [`${topic}.dlq`], handler: async (m) => void letters.push(m.value.errorCode) });
    await consume({
      groupId,
      topics: [topic],
      handler: async (m) => {
        single.push(idOf(m));
        if (idOf(m) === 'b-13') throw new TestDownstreamError('BAD_REPORT', false);
      },
      // The batch leaves every tenth message and b-13 (which then fails for good) to the per-message handler.
      batch: { maxMessages: 16, handler: async (ms) => (batches.push(ms.map(idOf)), ms.filter((m) => idOf(m).endsWith('0') || idOf(m) === 'b-13')) },
    });
    await waitFor('every message', () => batches.flat().length + single.length >= 40 + 5 && letters.length === 1, 30_000);
    await waitForCommitted(groupId, topic, ['40']);
    expect(batches.flat()).toEqual(ids);
    expect(batches.every((b) => b.length <= 16)).toBe(true);
    expect(batches.length).toBeLessThan(40);
    expect(single).toEqual(['b-00', 'b-10', 'b-13', 'b-20', 'b-30']);
    expect(letters).toEqual(['BAD_REPORT']);
  });
});

describe('Kafka bus: large publishes', () => {
  it('(h) publishes in one call messages of one partition that together pass the broker message.max.bytes (1 MiB)', async () => {
    // Four 400 KB values for one key: one record batch of 1.6 MB, which the broker refuses whole
    // (MESSAGE_TOO_LARGE) unless the producer sends the call in parts.
    const big = (id: string): ReportInboundInput => ({ ...report(id), payload: randomBytes(400_000) });
    const ids = ['l-0', 'l-1', 'l-2', 'l-3'];
    await bus.publish(TOPICS.large, ids.map((id) => ({ key: 'same', value: big(id), tenantId: 't-1' })));
    const seen: string[] = [];
    await consume({ groupId: `${runId}-large`, topics: [TOPICS.large], fromBeginning: true, handler: async (m) => void seen.push(idOf(m)) });
    await waitFor('the four large messages', () => seen.length === 4, 30_000);
    expect(seen).toEqual(ids);
  });
});

async function waitForCommitted(groupId: string, topic: string, expected: string[]): Promise<void> {
  const deadline = Date.now() + 15_000;
  let last: string[] = [];
  while (Date.now() < deadline) {
    last = await committed(groupId, topic);
    if (JSON.stringify(last) === JSON.stringify(expected)) return;
    await delay(200);
  }
  throw new Error(`committed offsets of ${groupId} on ${topic} are ${last.join(',')}, expected ${expected.join(',')}`);
}
