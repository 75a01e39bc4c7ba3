import { loadConfig } from '@dmarc/config';
import { consumerPacing, consumerPacingConfig } from './consumer-pacing';

describe('consumerPacing', () => {
  const spec = consumerPacingConfig('reports', 'one statement');
  const handler = async () => undefined;

  it('batches by default, 100 messages at most', () => {
    const config = loadConfig(spec, {});
    expect(consumerPacing(config, handler)).toEqual({ batch: { maxMessages: 100, handler } });
  });

  it('takes one message at a time, MESSAGE_CONCURRENCY in hand, with BATCH_MAX_MESSAGES=0', () => {
    const config = loadConfig(spec, { BATCH_MAX_MESSAGES: '0', MESSAGE_CONCURRENCY: '4' });
    expect(consumerPacing(config, handler)).toEqual({ messageConcurrency: 4 });
  });

  it('refuses a negative batch size, naming the setting', () => {
    expect(() => loadConfig(spec, { BATCH_MAX_MESSAGES: '-1' })).toThrow(/BATCH_MAX_MESSAGES/);
  });
});
