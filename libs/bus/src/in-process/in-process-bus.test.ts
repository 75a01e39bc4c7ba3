import { CONTRACT_HEADERS, type DeadLetter, EncodeError, loadContracts, type ReportInboundInput } from '@dmarc/contracts';
import { SpanKind } from '@opentelemetry/api';
import { installInMemoryTracing } from '../__test-support__/in-memory-tracing';
import { delay, TestDownstreamError, waitFor } from '../__test-support__/wait-for';
import type { Bus, Delivered, Subscription } from '../bus';
import { InvalidBusOptionsError, MissingTenantError, TenantMismatchError } from '../errors';
import { BUS_HEADERS } from '../headers';
import type { BusLogger } from '../logger';
import { createInProcessBus } from './in-process-bus';

const contracts = loadContracts();
const INBOUND = 'dmarc.reports.inbound';
const DLQ = 'dmarc.reports.inbound.dlq';
const fast = { retry: { attempts: 3, initialMs: 1, maxMs: 2 }, pause: { initialMs: 20, maxMs: 40 } };

function report(id: string, tenantId = 't-1'): ReportInboundInput {
  return { tenantId, payload: Buffer.from(`<feedback id="${id}"/>`), filename: `${id}.xml`, submittedAt: 1_700_000_000_000 };
}

function idOf(message: Delivered<typeof INBOUND>): string {
  return message.value.filename?.replace('.xml', '') ?? '?';
}

let bus: Bus;
let warnings: string[];
const logger: BusLogger = { info() {}, warn: (_f, m) => warnings.push(m ?? ''), error: (_f, m) => warnings.push(`ERROR ${m}`) };

beforeEach(() => {
  warnings = [];
  bus = createInProcessBus({ contracts, logger });
});
afterEach(() => bus.close());

async function collectDeadLetters(): Promise<{ letters: Array<Delivered<typeof DLQ>>; subscription: Subscription }> {
  const letters: Array<Delivered<typeof DLQ>> = [];
  const subscription = await bus.consume({ groupId: 'dlq-reader', topics: [DLQ], handler: async (m) => void letters.push(m) });
  return { letters, subscription };
}

describe('in-process bus: delivery', () => {
  it('delivers the decoded value with key, tenant, headers and raw bytes', async () => {
    const seen: Array<Delivered<typeof INBOUND>> = [];
    await bus.consume({ groupId: 'ingestion', topics: [INBOUND], handler: async (m) => void seen.push(m) });
    await bus.publish(INBOUND, [{ key: 'k1', value: report('a'), tenantId: 't-1', headers: { 'x-source': 'test' } }]);
    await waitFor('delivery', () => seen.length === 1);
    const [m] = seen;
    expect(m.value).toEqual({ ...report('a'), contentType: null, source: null });
    expect(m).toMatchObject({ topic: INBOUND, key: 'k1', tenantId: 't-1', attempt: 1, offset: '0', writer: 'dmarc.reports.inbound/v1' });
    expect(m.headers).toMatchObject({ 'x-source': 'test', [BUS_HEADERS.tenantId]: 't-1', 'avro-schema': 'dmarc.reports.inbound/v1' });
    expect(contracts.decode(INBOUND, m.raw, m.headers).value).toEqual(m.value);
  });

  it('publishes a value encoded beforehand as it is, with the bus headers; refuses one encoded for another schema', async () => {
    const seen: Array<Delivered<typeof INBOUND>> = [];
    await bus.consume({ groupId: 'ingestion', topics: [INBOUND], handler: async (m) => void seen.push(m) });
    const encoded = contracts.encode(INBOUND, report('pre'));
    await bus.publish(INBOUND, [{ key: 'k2', encoded, tenantId: 't-1' }]);
    await waitFor('delivery', () => seen.length === 1);
    expect(seen[0].raw.equals(encoded.value)).toBe(true);
    expect(seen[0]).toMatchObject({ key: 'k2', tenantId: 't-1', value: { filename: 'pre.xml' } });
    const other = { value: encoded.value, headers: { [CONTRACT_HEADERS.fingerprint]: 'f'.repeat(64), [CONTRACT_HEADERS.schema]: 'dmarc.reports.received/v1' } };
    const refused = bus.publish(INBOUND, [{ encoded: other, tenantId: 't-1' }]);
    await expect(refused).rejects.toBeInstanceOf(EncodeError);
    await expect(refused).rejects.toHaveProperty('cause.message', 'pre-encoded with dmarc.reports.received/v1, not dmarc.reports.inbound/v1');
    await delay(20);
    expect(seen).toHaveLength(1);
  });

  it('delivers every message to every group, and each group once', async () => {
    const a: string[] = [];
    const b: string[] = [];
    await bus.consume({ groupId: 'a', topics: [INBOUND], handler: async (m) => void a.push(idOf(m)) });
    await bus.consume({ groupId: 'b', topics: [INBOUND], handler: async (m) => void b.push(idOf(m)) });
    await bus.publish(INBOUND, ['1', '2', '3'].map((id) => ({ key: id, value: report(id), tenantId: 't-1' })));
    await waitFor('both groups', () => a.length === 3 && b.length === 3);
    await delay(20);
    expect(a.sort()).toEqual(['1', '2', '3']);
    expect(b.sort()).toEqual(['1', '2', '3']);
  });

  it('keeps per-key order across partitions handled in parallel, with members joining mid-stream', async () => {
    const seen = new Map<string, number[]>();
    const handler = async (m: Delivered<typeof INBOUND>) => {
      await delay(Math.random() * 3);
      const [key, n] = idOf(m).split('-');
      seen.set(key, [...(seen.get(key) ?? []), Number(n)]);
    };
    await bus.ensureTopics([{ topic: INBOUND, partitions: 4 }]);
    await bus.consume({ groupId: 'g', topics: [INBOUND], handler, partitionsConsumedConcurrently: 4 });
    const keys = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5'];
    for (let n = 0; n < 20; n++) {
      await bus.publish(INBOUND, keys.map((key) => ({ key, value: report(`${key}-${n}`), tenantId: 't-1' })));
      if (n === 10) await bus.consume({ groupId: 'g', topics: [INBOUND], handler });
    }
    await waitFor('all messages', () => [...seen.values()].every((l) => l.length === 20) && seen.size === 6);
    for (const key of keys) expect(seen.get(key)).toEqual([...Array(20).keys()]);
  });

  it('starts a new group at the end of the topic when fromBeginning is false', async () => {
    await bus.publish(INBOUND, [{ value: report('old'), tenantId: 't-1' }]);
    const seen: string[] = [];
    await bus.consume({ groupId: 'late', topics: [INBOUND], fromBeginning: false, handler: async (m) => void seen.push(idOf(m)) });
    await bus.publish(INBOUND, [{ value: report('new'), tenantId: 't-1' }]);
    await waitFor('new message', () => seen.length === 1);
    expect(seen).toEqual(['new']);
  });

  it('refuses to consume a topic without a schema, at start', async () => {
    await expect(bus.consume({ groupId: 'g', topics: ['dmarc.nope'], handler: async () => undefined })).rejects.toBeInstanceOf(InvalidBusOptionsError);
  });
});

describe('in-process bus: tenant', () => {
  it('refuses to publish without a tenant, or with a tenant the value contradicts; nothing is sent', async () => {
    const seen: unknown[] = [];
    await bus.consume({ groupId: 'g', topics: [INBOUND], handler: async (m) => void seen.push(m) });
    await expect(bus.publish(INBOUND, [{ value: report('a'), tenantId: '' }])).rejects.toBeInstanceOf(MissingTenantError);
    await expect(
      bus.publish(INBOUND, [
        { value: report('ok', 't-1'), tenantId: 't-1' },
        { value: report('b', 't-2'), tenantId: 't-1' },
      ]),
    ).rejects.toBeInstanceOf(TenantMismatchError);
    await delay(20);
    expect(seen).toEqual([]);
  });

  it('dead-letters a message read without a tenant-id header, or whose value names another tenant', async () => {
    const { letters } = await collectDeadLetters();
    const handled: string[] = [];
    await bus.consume({ groupId: 'g', topics: [INBOUND], handler: async (m) => void handled.push(idOf(m)) });
    const noTenant = contracts.encode(INBOUND, report('a'));
    const otherTenant = contracts.encode(INBOUND, report('b', 't-2'));
    await bus.publishRaw(INBOUND, [
      { key: 'x', value: noTenant.value, headers: noTenant.headers },
      { key: 'x', value: otherTenant.value, headers: { ...otherTenant.headers, [BUS_HEADERS.tenantId]: 't-1' } },
      { key: 'x', value: contracts.encode(INBOUND, report('c')).value, headers: { ...noTenant.headers, [BUS_HEADERS.tenantId]: 't-1' } },
    ]);
    await waitFor('dead letters', () => letters.length === 2 && handled.length === 1);
    expect(letters.map((l) => l.value.errorCode)).toEqual(['BUS_MISSING_TENANT', 'BUS_TENANT_MISMATCH']);
    expect(letters[1].tenantId).toBe('t-1');
    expect(letters[0].tenantId).toBe('');
    expect(handled).toEqual(['c']);
  });
});

describe('in-process bus: failures', () => {
  it('retries a retriable error in place with backoff, then succeeds without dead-lettering', async () => {
    const { letters } = await collectDeadLetters();
    const attempts: number[] = [];
    await bus.consume({
      groupId: 'g',
      topics: [INBOUND],
      ...fast,
      handler: async (m) => {
        attempts.push(m.attempt);
        if (m.attempt < 3) throw new TestDownstreamError('DB_DOWN', true);
      },
    });
    await bus.publish(INBOUND, [{ value: report('a'), tenantId: 't-1' }]);
    await waitFor('success', () => attempts.length === 3);
    await delay(30);
    expect(attempts).toEqual([1, 2, 3]);
    expect(letters).toEqual([]);
  });

  it('pauses the partition while the downstream stays out, holds later messages back, and resumes', async () => {
    const { letters } = await collectDeadLetters();
    await bus.ensureTopics([{ topic: INBOUND, partitions: 1 }]);
    let downstreamUp = false;
    const handled: string[] = [];
    const attempts: number[] = [];
    await bus.consume({
      groupId: 'g',
      topics: [INBOUND],
      ...fast,
      handler: async (m) => {
        if (idOf(m) === 'a') attempts.push(m.attempt);
        if (!downstreamUp) throw new TestDownstreamError('DB_DOWN', true);
        handled.push(idOf(m));
      },
    });
    await bus.publish(INBOUND, [
      { key: 'k', value: report('a'), tenantId: 't-1' },
      { key: 'k', value: report('b'), tenantId: 't-1' },
    ]);
    await waitFor('a pause or two', () => attempts.length >= 6, 2_000);
    expect(handled).toEqual([]);
    expect(warnings.some((w) => w.startsWith('pausing dmarc.reports.inbound[0]'))).toBe(true);
    downstreamUp = true;
    await waitFor('recovery', () => handled.length === 2, 2_000);
    expect(handled).toEqual(['a', 'b']);
    // Attempts count on across pauses: 3 in place per round.
    expect(attempts).toEqual([...Array(attempts.length).keys()].map((i) => i + 1));
    expect(letters).toEqual([]);
  });

  it('dead-letters a non-retriable error at once, with the original bytes and headers, and carries on', async () => {
    const { letters } = await collectDeadLetters();
    const handled: string[] = [];
    await bus.consume({
      groupId: 'parsing',
      topics: [INBOUND],
      ...fast,
      handler: async (m) => {
        if (idOf(m) === 'bad') throw new TestDownstreamError('PARSE_INVALID_XML', false, 'unexpected end of input');
        handled.push(idOf(m));
      },
    });
    await bus.publish(INBOUND, [
      { key: 'k', value: report('bad'), tenantId: 't-1', headers: { 'x-trace-me': 'yes' } },
      { key: 'k', value: report('good'), tenantId: 't-1' },
    ]);
    await waitFor('dead letter and next message', () => letters.length === 1 && handled.length === 1);
    const letter: DeadLetter = letters[0].value;
    expect(letter).toMatchObject({
      originalTopic: INBOUND,
      errorCode: 'PARSE_INVALID_XML',
      reason: 'unexpected end of input',
      retriable: false,
      attempts: 1,
      service: 'parsing',
      key: Buffer.from('k'),
    });
    expect(contracts.decode(INBOUND, letter.payload, letter.headers).value.filename).toBe('bad.xml');
    expect(letter.headers['x-trace-me']).toEqual(Buffer.from('yes'));
    expect(letters[0].tenantId).toBe('t-1');
    expect(handled).toEqual(['good']);
  });

  it('dead-letters a retriable failure once maxAttempts is reached', async () => {
    const { letters } = await collectDeadLetters();
    await bus.consume({
      groupId: 'g',
      topics: [INBOUND],
      ...fast,
      maxAttempts: 5,
      handler: async () => {
        throw new TestDownstreamError('DB_DOWN', true);
      },
    });
    await bus.publish(INBOUND, [{ value: report('a'), tenantId: 't-1' }]);
    await waitFor('dead letter', () => letters.length === 1, 2_000);
    expect(letters[0].value).toMatchObject({ errorCode: 'DB_DOWN', retriable: true, attempts: 5 });
  });

  it('treats an error without a retriable flag, or a thrown non-error, as not retriable', async () => {
    const { letters } = await collectDeadLetters();
    await bus.consume({
      groupId: 'g',
      topics: [INBOUND],
      ...fast,
      handler: async (m) => {
        if (idOf(m) === 'a') throw new TypeError('x is undefined');
        throw 'just a string';
      },
    });
    await bus.publish(INBOUND, [{ key: 'k', value: report('a'), tenantId: 't-1' }, { key: 'k', value: report('b'), tenantId: 't-1' }]);
    await waitFor('dead letters', () => letters.length === 2);
    expect(letters.map((l) => [l.value.errorCode, l.value.attempts])).toEqual([
      ['UNCLASSIFIED', 1],
      ['BUS_HANDLER_FAILED', 1],
    ]);
  });

  it('dead-letters malformed bytes, unknown fingerprints and missing fingerprints with the bytes untouched', async () => {
    const { letters } = await collectDeadLetters();
    const handled: string[] = [];
    await bus.consume({ groupId: 'g', topics: [INBOUND], handler: async (m) => void handled.push(idOf(m)) });
    const good = contracts.encode(INBOUND, report('good'));
    const garbage = Buffer.from([0xff, 0x00, 0x13, 0x37, 0x42]);
    const tenant = { [BUS_HEADERS.tenantId]: 't-1' };
    await bus.publishRaw(INBOUND, [
      { key: 'k', value: garbage, headers: { ...good.headers, ...tenant } },
      { key: 'k', value: good.value, headers: { ...good.headers, ...tenant, 'avro-fingerprint': '00'.repeat(32) } },
      { key: 'k', value: good.value, headers: tenant },
      { key: 'k', value: good.value, headers: { ...good.headers, ...tenant } },
    ]);
    await waitFor('dead letters', () => letters.length === 3 && handled.length === 1);
    expect(letters.map((l) => l.value.errorCode)).toEqual(['CONTRACT_MALFORMED', 'CONTRACT_UNKNOWN_SCHEMA', 'CONTRACT_MISSING_FINGERPRINT']);
    expect(letters[0].value.payload).toEqual(garbage);
    expect(letters[0].value.attempts).toBe(0);
    expect(letters[0].value.reason).toContain(INBOUND);
    expect(handled).toEqual(['good']);
  });
});

describe('in-process bus: trace context', () => {
  const tracing = installInMemoryTracing();
  afterAll(() => tracing.uninstall());
  beforeEach(() => tracing.reset());

  it('parents the CONSUMER span on the PRODUCER span, and the next hop on the consumer', async () => {
    const RECEIVED = 'dmarc.reports.received';
    const done: string[] = [];
    await bus.consume({
      groupId: 'ingestion',
      topics: [INBOUND],
      handler: async (m) => {
        await bus.publish(RECEIVED, [
          {
            key: 'r',
            tenantId: m.tenantId,
            value: { reportId: 'r', tenantId: m.tenantId, sha256: '0'.repeat(64), sizeBytes: 1, contentType: 'text/xml', raw: m.value.payload, receivedAt: 1 },
          },
        ]);
      },
    });
    await bus.consume({ groupId: 'parsing', topics: [RECEIVED], handler: async (m) => void done.push(m.value.reportId) });
    await bus.publish(INBOUND, [{ value: report('a'), tenantId: 't-1' }]);
    await waitFor('second hop', () => done.length === 1);
    await waitFor('spans', () => tracing.spans().filter((s) => s.kind === SpanKind.CONSUMER).length === 2);

    const spans = tracing.spans();
    const find = (name: string) => spans.find((s) => s.name === name);
    const send1 = find(`send ${INBOUND}`);
    const process1 = find(`process ${INBOUND}`);
    const send2 = find(`send ${RECEIVED}`);
    const process2 = find(`process ${RECEIVED}`);
    expect([send1?.kind, process1?.kind, send2?.kind, process2?.kind]).toEqual([SpanKind.PRODUCER, SpanKind.CONSUMER, SpanKind.PRODUCER, SpanKind.CONSUMER]);
    const traceId = send1?.spanContext().traceId;
    for (const span of [process1, send2, process2]) expect(span?.spanContext().traceId).toBe(traceId);
    expect(process1?.parentSpanContext?.spanId).toBe(send1?.spanContext().spanId);
    expect(send2?.parentSpanContext?.spanId).toBe(process1?.spanContext().spanId);
    expect(process2?.parentSpanContext?.spanId).toBe(send2?.spanContext().spanId);
    expect(process1?.attributes).toMatchObject({ 'messaging.consumer.group.name': 'ingestion', 'dmarc.tenant_id': 't-1' });
  });

  it('puts a dead letter in the trace of the message that failed', async () => {
    const { letters } = await collectDeadLetters();
    await bus.consume({
      groupId: 'g',
      topics: [INBOUND],
      handler: async () => {
        throw new TestDownstreamError('NOPE', false);
      },
    });
    await bus.publish(INBOUND, [{ value: report('a'), tenantId: 't-1' }]);
    await waitFor('dead letter', () => letters.length === 1);
    const send = tracing.spans().find((s) => s.name === `send ${INBOUND}`);
    expect(letters[0].headers.traceparent).toContain(send?.spanContext().traceId);
  });
});

describe('in-process bus: close', () => {
  it('lets the handler in flight finish and commits it; the next member starts after it', async () => {
    await bus.ensureTopics([{ topic: INBOUND, partitions: 1 }]);
    const first: string[] = [];
    let release!: () => void;
    const started: string[] = [];
    const subscription = await bus.consume({
      groupId: 'g',
      topics: [INBOUND],
      handler: async (m) => {
        started.push(idOf(m));
        await new Promise<void>((resolve) => (release = resolve));
        first.push(idOf(m));
      },
    });
    await bus.publish(INBOUND, ['a', 'b'].map((id) => ({ key: 'k', value: report(id), tenantId: 't-1' })));
    await waitFor('handler in flight', () => started.length === 1);
    const closing = subscription.close();
    await delay(10);
    release();
    await closing;
    expect(first).toEqual(['a']);
    const second: string[] = [];
    await bus.consume({ groupId: 'g', topics: [INBOUND], handler: async (m) => void second.push(idOf(m)) });
    await waitFor('next member', () => second.length === 1);
    await delay(20);
    expect(second).toEqual(['b']);
  });

  it('cuts a retry wait short on close and leaves the message uncommitted', async () => {
    const attempts: string[] = [];
    const subscription = await bus.consume({
      groupId: 'g',
      topics: [INBOUND],
      retry: { attempts: 5, initialMs: 10_000, maxMs: 10_000 },
      handler: async (m) => {
        attempts.push(idOf(m));
        throw new TestDownstreamError('DB_DOWN', true);
      },
    });
    await bus.publish(INBOUND, [{ value: report('a'), tenantId: 't-1' }]);
    await waitFor('first attempt', () => attempts.length === 1);
    const started = Date.now();
    await subscription.close();
    expect(Date.now() - started).toBeLessThan(1_000);
    const again: string[] = [];
    await bus.consume({ groupId: 'g', topics: [INBOUND], handler: async (m) => void again.push(idOf(m)) });
    await waitFor('redelivery', () => again.length === 1);
  });

  it('refuses to publish once closed', async () => {
    await bus.close();
    await expect(bus.publish(INBOUND, [{ value: report('a'), tenantId: 't-1' }])).rejects.toMatchObject({ code: 'BUS_CLOSED', retriable: true });
  });
});
