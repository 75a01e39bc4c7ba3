import { topicConfigs } from './kafka-topics';

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
