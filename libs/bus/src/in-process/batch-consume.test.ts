import { loadContracts, type ReportInboundInput } from '@dmarc/contracts';
import { SpanKind } from '@opentelemetry/api';
import { installInMemoryTracing } from '../__test-support__/in-memory-tracing';
import { TestDownstreamError, waitFor } from '../__test-support__/wait-for';
import type { Bus, Delivered } from '../bus';
import { InvalidBusOptionsError } from '../errors';
import type { BusLogger } from '../logger';
import { createInProcessBus } from './in-process-bus';

const contracts = loadContracts();
const INBOUND = 'dmarc.reports.inbound';
const RECEIVED = 'dmarc.reports.received';
const DLQ = 'dmarc.reports.inbound.dlq';
const fast = { retry: { attempts: 2, initialMs: 1, maxMs: 2 }, pause: { initialMs: 20, maxMs: 40 } };
type In = Delivered<typeof INBOUND>;

function report(id: string): ReportInboundInput {
  return { tenantId: 't-1', payload: Buffer.from(`<feedback id="${id}"/>`), filename: id, submittedAt: 1_700_000_000_000 };
}
const idOf = (m: In) => m.value.filename ?? '?';
const ids = (n: number) => Array.from({ length: n }, (_, i) => `m${String(i).padStart(2, '0')}`);

let bus: Bus;
let warnings: string[];
const logger: BusLogger = { info() {}, warn: (_f, m) => warnings.push(m ?? ''), error: (_f, m) => warnings.push(`ERROR ${m}`) };

beforeEach(() => {
  warnings = [];
  // One partition: every message in one ordered log, so batches are deterministic.
  bus = createInProcessBus({ contracts, logger, defaultPartitions: 1 });
});
afterEach(() => bus.close());

/** Publishes first, then consumes: the log already holds every message when the batch is taken. */
async function publish(list: string[]): Promise<void> {
  await bus.publish(INBOUND, list.map((id) => ({ key: 'k', value: report(id), tenantId: 't-1' })));
}

/** What a fresh member of `groupId` still gets: nothing, when everything was committed. */
async function leftInGroup(groupId: string): Promise<string[]> {
  const seen: string[] = [];
  const sub = await bus.consume({ groupId, topics: [INBOUND], handler: async (m) => void seen.push(idOf(m)) });
  await publish(['sentinel']);
  await waitFor('sentinel', () => seen.includes('sentinel'));
  await sub.close();
  return seen.filter((id) => id !== 'sentinel');
}

describe('bus batch consumption (in-process driver)', () => {
  it('hands what is in the log to the batch handler in order, in slices of maxMessages, and commits it', async () => {
    await publish(ids(10));
    const batches: string[][] = [];
    const single: string[] = [];
    const sub = await bus.consume({
      groupId: 'g',
      topics: [INBOUND],
      handler: async (m) => void single.push(idOf(m)),
      batch: { maxMessages: 4, handler: async (ms) => void batches.push(ms.map(idOf)) },
    });
    await waitFor('all ten', () => batches.flat().length === 10);
    await sub.close();
    expect(batches).toEqual([ids(10).slice(0, 4), ids(10).slice(4, 8), ids(10).slice(8)]);
    expect(single).toEqual([]);
    expect(await leftInGroup('g')).toEqual([]);
  });

  it('gives the messages the batch handler left to the per-message handler, in order', async () => {
    await publish(ids(6));
    const single: Array<{ id: string; attempt: number }> = [];
    await bus.consume({
      groupId: 'g',
      topics: [INBOUND],
      handler: async (m) => void single.push({ id: idOf(m), attempt: m.attempt }),
      batch: { maxMessages: 10, handler: async (ms) => ms.filter((m) => ['m01', 'm04'].includes(idOf(m))) },
    });
    await waitFor('leftovers', () => single.length === 2);
    expect(single).toEqual([
      { id: 'm01', attempt: 1 },
      { id: 'm04', attempt: 1 },
    ]);
  });

  it('hands every message to the per-message handler when the batch handler throws, and says so once', async () => {
    await publish(ids(5));
    const single: string[] = [];
    await bus.consume({
      groupId: 'g',
      topics: [INBOUND],
      handler: async (m) => void single.push(idOf(m)),
      batch: {
        handler: async () => {
          throw new Error('database went away');
        },
      },
    });
    await waitFor('one by one', () => single.length === 5);
    expect(single).toEqual(ids(5));
    expect(warnings.filter((w) => w.includes('batch handler failed'))).toHaveLength(1);
  });

  it('dead-letters a message that does not decode and batches the others around it', async () => {
    await publish(['a']);
    await bus.publishRaw(INBOUND, [{ key: 'k', value: Buffer.from('not avro'), headers: { 'tenant-id': 't-1' } }]);
    await publish(['b']);
    const letters: string[] = [];
    await bus.consume({ groupId: 'dlq', topics: [DLQ], handler: async (m) => void letters.push(m.value.errorCode) });
    const batches: string[][] = [];
    await bus.consume({ groupId: 'g', topics: [INBOUND], handler: async () => undefined, batch: { handler: async (ms) => void batches.push(ms.map(idOf)) } });
    await waitFor('dead letter and batch', () => letters.length === 1 && batches.flat().length === 2);
    expect(batches).toEqual([['a', 'b']]);
  });

  it('pauses on a leftover that keeps failing, then delivers it and the batch after it again: nothing lost', async () => {
    await publish(ids(4));
    const batches: string[][] = [];
    const single: Array<{ id: string; attempt: number }> = [];
    let downstreamUp = false;
    const sub = await bus.consume({
      groupId: 'g',
      topics: [INBOUND],
      ...fast,
      handler: async (m) => {
        single.push({ id: idOf(m), attempt: m.attempt });
        if (!downstreamUp) throw new TestDownstreamError('DOWN', true);
      },
      batch: { handler: async (ms) => (batches.push(ms.map(idOf)), ms.filter((m) => idOf(m) === 'm01')) },
    });
    await waitFor('paused', () => warnings.some((w) => w.startsWith('pausing')));
    downstreamUp = true;
    await waitFor('m01 handled', () => single.some((s) => s.id === 'm01' && s.attempt > 2));
    await waitFor('rest again', () => batches.length >= 2 && batches.at(-1)!.includes('m03'));
    // The first batch did all but m01; m01 failed, so m02 and m03 (done, not committed) come again.
    expect(batches[0]).toEqual(ids(4));
    expect(batches.at(-1)).toEqual(['m02', 'm03']);
    expect(single.every((s) => s.id === 'm01')).toBe(true);
    await sub.close();
    expect(await leftInGroup('g')).toEqual([]);
  });

  it('refuses a minBytes below 1', async () => {
    await expect(bus.consume({ groupId: 'g', topics: [INBOUND], minBytes: 0, handler: async () => undefined })).rejects.toBeInstanceOf(InvalidBusOptionsError);
  });

  it('refuses batch together with messageConcurrency', async () => {
    await expect(
      bus.consume({ groupId: 'g', topics: [INBOUND], messageConcurrency: 4, handler: async () => undefined, batch: { handler: async () => undefined } }),
    ).rejects.toBeInstanceOf(InvalidBusOptionsError);
  });
});

describe('bus batch consumption: trace context', () => {
  const tracing = installInMemoryTracing();
  afterAll(() => tracing.uninstall());
  beforeEach(() => tracing.reset());

  it('continues each message trace through what the batch handler publishes for it', async () => {
    const hop2: Array<Delivered<typeof RECEIVED>> = [];
    await bus.consume({ groupId: 'parsing', topics: [RECEIVED], handler: async (m) => void hop2.push(m) });
    await bus.consume({
      groupId: 'ingestion',
      topics: [INBOUND],
      handler: async () => undefined,
      batch: {
        handler: async (ms) => {
          await bus.publish(
            RECEIVED,
            ms.map((m) => ({
              key: idOf(m),
              tenantId: m.tenantId,
              trace: m.trace,
              value: { reportId: idOf(m), tenantId: m.tenantId, sha256: '0'.repeat(64), sizeBytes: 1, contentType: 'text/xml', raw: m.value.payload, receivedAt: 1 },
            })),
          );
        },
      },
    });
    // Two separate publish calls: two traces.
    await publish(['a']);
    await publish(['b']);
    await waitFor('second hop', () => hop2.length === 2);
    await waitFor('consumer spans', () => tracing.spans().filter((s) => s.kind === SpanKind.CONSUMER).length === 4);

    const spans = tracing.spans();
    const sends = spans.filter((s) => s.name === `send ${INBOUND}`);
    expect(sends).toHaveLength(2);
    for (const [i, id] of ['a', 'b'].entries()) {
      const traceId = sends[i].spanContext().traceId;
      const consumed = spans.find((s) => s.name === `process ${INBOUND}` && s.spanContext().traceId === traceId);
      const next = spans.find((s) => s.name === `process ${RECEIVED}` && s.spanContext().traceId === traceId);
      expect(consumed?.parentSpanContext?.spanId).toBe(sends[i].spanContext().spanId);
      // The second hop's CONSUMER span is a child of the first hop's, in the same trace.
      expect(next?.parentSpanContext?.spanId).toBe(consumed?.spanContext().spanId);
      expect(hop2.find((m) => m.value.reportId === id)?.headers.traceparent).toContain(traceId);
    }
  });
});
