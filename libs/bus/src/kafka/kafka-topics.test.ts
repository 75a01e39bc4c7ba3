import { creationRaceError, topicConfigs, waitForLeaders } from './kafka-topics';

describe('topicConfigs', () => {
  it('adds each topic and its .dlq with the same partitions, unless told not to', () => {
    expect(topicConfigs([{ topic: 'a', partitions: 6 }, { topic: 'b', dlq: false }, { topic: 'a' }])).toEqual([
      { topic: 'a', numPartitions: 3, replicationFactor: -1 },
      { topic: 'a.dlq', numPartitions: 3, replicationFactor: -1 },
      { topic: 'b', numPartitions: 3, replicationFactor: -1 },
    ]);
    expect(topicConfigs([{ topic: 'c', partitions: 6, replicationFactor: 3 }])).toEqual([
      { topic: 'c', numPartitions: 6, replicationFactor: 3 },
      { topic: 'c.dlq', numPartitions: 6, replicationFactor: 3 },
    ]);
  });
});

describe('waitForLeaders', () => {
  const meta = (leader: number) => ({ topics: [{ name: 'a', partitions: [{ partitionId: 0, leader, replicas: [1], isr: [1], partitionErrorCode: 0, offlineReplicas: [] }] }] });

  it('polls through an unknown topic and a partition without leader until every partition has one', async () => {
    const answers: Array<() => unknown> = [
      () => {
        throw new Error('This server does not host this topic-partition');
      },
      () => meta(-1),
      () => meta(1),
    ];
    let calls = 0;
    const admin = { fetchTopicMetadata: async () => answers[calls++]() } as unknown as Parameters<typeof waitForLeaders>[0];
    await waitForLeaders(admin, ['a'], 5_000, 1);
    expect(calls).toBe(3);
  });

  it('gives up after the timeout, naming the topics and the last reason', async () => {
    const admin = { fetchTopicMetadata: async () => meta(-1) } as unknown as Parameters<typeof waitForLeaders>[0];
    await expect(waitForLeaders(admin, ['a'], 20, 5)).rejects.toThrow(/topics a have no leaders after 20 ms: no leader yet for a/);
  });
});

describe('creationRaceError', () => {
  it('is true for what a concurrent creation explains, false for the rest', () => {
    expect(creationRaceError({ type: 'UNKNOWN_TOPIC_OR_PARTITION', retriable: true })).toBe(true);
    expect(creationRaceError({ type: 'TOPIC_ALREADY_EXISTS', retriable: false })).toBe(true);
    expect(creationRaceError({ name: 'KafkaJSAggregateError', errors: [{ type: 'TOPIC_ALREADY_EXISTS' }, { retriable: true }] })).toBe(true);
    expect(creationRaceError({ name: 'KafkaJSAggregateError', errors: [{ type: 'TOPIC_ALREADY_EXISTS' }, { type: 'INVALID_REPLICATION_FACTOR', retriable: false }] })).toBe(false);
    expect(creationRaceError({ type: 'TOPIC_AUTHORIZATION_FAILED', retriable: false })).toBe(false);
    expect(creationRaceError(new Error('boom'))).toBe(false);
  });
});
