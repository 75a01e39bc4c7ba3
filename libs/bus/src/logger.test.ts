import pino from 'pino';
import type { BusLogger } from './logger';

describe('BusLogger', () => {
  it('is satisfied by a pino logger as it is', () => {
    const logger: BusLogger = pino({ enabled: false });
    expect(() => logger.warn({ attempt: 1 }, 'line')).not.toThrow();
  });
});
