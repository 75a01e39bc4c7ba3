import type { TopicMessages } from 'kafkajs';
import { delay } from '../__test-support__/wait-for';
import { BusClosedError, PublishError } from '../errors';
import { BatchingProducer } from './batching-producer';

const msg = (v: string) => ({ key: null, value: Buffer.from(v) });
const values = (batch: TopicMessages[]) => batch.map((t) => `${t.topic}:${t.messages.map((m) => String(m.value)).join(',')}`);

describe('BatchingProducer', () => {
  it('gathers calls made within the linger time into one request, in call order', async () => {
    const sent: TopicMessages[][] = [];
    const producer = new BatchingProducer(async (b) => void sent.push(b), { lingerMs: 10, maxBatchMessages: 100 });
    await Promise.all([producer.send('a', [msg('1'), msg('2')]), producer.send('b', [msg('x')]), producer.send('a', [msg('3')])]);
    expect(sent.map(values)).toEqual([['a:1,2,3', 'b:x']]);
  });

  it('sends at once when a batch is full, and never splits a call for the message count', async () => {
    const sent: TopicMessages[][] = [];
    const producer = new BatchingProducer(async (b) => void sent.push(b), { lingerMs: 10_000, maxBatchMessages: 3 });
    await Promise.all([producer.send('a', [msg('1'), msg('2')]), producer.send('a', [msg('3'), msg('4')])]);
    expect(sent.map(values)).toEqual([['a:1,2'], ['a:3,4']]);
  });

  it('starts a new request before the gathered calls pass maxBatchBytes, and sends a message over it alone', async () => {
    const sent: TopicMessages[][] = [];
    const producer = new BatchingProducer(async (b) => void sent.push(b), { lingerMs: 10_000, maxBatchMessages: 100, maxBatchBytes: 10 });
    await Promise.all([producer.send('a', [msg('1234')]), producer.send('a', [msg('5678')]), producer.send('a', [msg('abcdefghijkl')]), producer.send('a', [msg('z')])]);
    expect(sent.map(values)).toEqual([['a:1234,5678'], ['a:abcdefghijkl'], ['a:z']]);
  });

  it('sends a call over maxBatchBytes in consecutive parts under it, in order, resolving when all are in', async () => {
    const sent: TopicMessages[][] = [];
    const producer = new BatchingProducer(async (b) => void sent.push(b), { lingerMs: 10_000, maxBatchMessages: 100, maxBatchBytes: 10 });
    await producer.send('a', [msg('1234'), msg('5678'), msg('90'), msg('abcdefghijkl'), msg('x')]);
    expect(sent.map(values)).toEqual([['a:1234,5678,90'], ['a:abcdefghijkl'], ['a:x']]);
  });

  it('fails a call split in parts when one part fails', async () => {
    let calls = 0;
    const producer = new BatchingProducer(
      async () => {
        if (++calls === 2) throw Object.assign(new Error('broker down'), { retriable: true });
      },
      { lingerMs: 10_000, maxBatchMessages: 100, maxBatchBytes: 4 },
    );
    await expect(producer.send('a', [msg('1234'), msg('5678'), msg('90')])).rejects.toMatchObject({ name: 'PublishError', retriable: true });
    expect(calls).toBe(3);
  });

  it('keeps one request in flight; calls made meanwhile go in the next one', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const sent: TopicMessages[][] = [];
    const producer = new BatchingProducer(
      async (b) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await delay(20);
        sent.push(b);
        inFlight--;
      },
      { lingerMs: 1, maxBatchMessages: 100 },
    );
    const first = producer.send('a', [msg('1')]);
    await delay(5);
    await Promise.all([first, producer.send('a', [msg('2')]), producer.send('a', [msg('3')])]);
    expect(maxInFlight).toBe(1);
    expect(sent.map(values)).toEqual([['a:1'], ['a:2,3']]);
  });

  it('rejects every call of a failed request with a PublishError, retriable when the cause is', async () => {
    const cause = Object.assign(new Error('retries exceeded'), { retriable: false, cause: Object.assign(new Error('leader not available'), { retriable: true }) });
    const producer = new BatchingProducer(
      async () => {
        throw cause;
      },
      { lingerMs: 1, maxBatchMessages: 100 },
    );
    const results = await Promise.allSettled([producer.send('a', [msg('1')]), producer.send('b', [msg('2')])]);
    for (const r of results) {
      expect(r.status).toBe('rejected');
      const error = (r as PromiseRejectedResult).reason;
      expect(error).toBeInstanceOf(PublishError);
      expect(error).toMatchObject({ code: 'BUS_PUBLISH_FAILED', retriable: true, topics: ['a', 'b'] });
      expect(error.message).toContain('leader not available');
    }
  });

  it('flushes on close, then refuses new calls except forced ones (dead letters)', async () => {
    const sent: TopicMessages[][] = [];
    const producer = new BatchingProducer(async (b) => void sent.push(b), { lingerMs: 10_000, maxBatchMessages: 100 });
    const pending = producer.send('a', [msg('1')]);
    await producer.close();
    await pending;
    expect(sent.map(values)).toEqual([['a:1']]);
    await expect(producer.send('a', [msg('2')])).rejects.toBeInstanceOf(BusClosedError);
    await producer.send('a.dlq', [msg('3')], true);
    expect(sent.map(values)).toEqual([['a:1'], ['a.dlq:3']]);
  });
});
