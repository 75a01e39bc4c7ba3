import { loadContracts } from './index';
import { TOPICS } from './topic-names';

describe('TOPICS', () => {
  it('names only topics that have a schema in schemas/', () => {
    const contracts = loadContracts();
    expect(Object.values(TOPICS).filter((topic) => !contracts.hasTopic(topic))).toEqual([]);
  });
});
