import { logLevel } from 'kafkajs';
import { kafkaLogCreator } from './kafka-logging';

describe('kafkaLogCreator', () => {
  it('turns a kafkajs entry into one warning line with the useful fields and no stack', () => {
    const lines: Array<[object, string | undefined]> = [];
    const log = kafkaLogCreator({ info() {}, error() {}, warn: (fields, message) => void lines.push([fields, message]) })(logLevel.ERROR);
    log({
      namespace: 'Connection',
      level: logLevel.ERROR,
      label: 'ERROR',
      log: { message: 'Connection error:\n connect ECONNREFUSED', timestamp: 'now', logger: 'kafkajs', broker: '127.0.0.1:9092', stack: 'Error: at ...', error: new Error('boom') } as never,
    });
    expect(lines).toEqual([[{ kafkajs: 'Connection', broker: '127.0.0.1:9092', error: 'boom' }, 'kafkajs Connection: Connection error: connect ECONNREFUSED']]);
  });
});
