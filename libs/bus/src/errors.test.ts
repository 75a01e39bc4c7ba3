import { codeOf, DeadLetterError, isRetriable, messageOf, MissingTenantError } from './errors';

describe('bus errors', () => {
  it('carry a stable code and a retriable flag', () => {
    expect(new MissingTenantError('t')).toMatchObject({ code: 'BUS_MISSING_TENANT', retriable: false, name: 'MissingTenantError' });
    expect(new DeadLetterError('t.dlq', { cause: new Error('down') })).toMatchObject({ code: 'BUS_DEAD_LETTER_FAILED', retriable: true });
  });

  it('call retriable only what says so', () => {
    expect(isRetriable({ retriable: true })).toBe(true);
    expect(isRetriable({ retriable: 'yes' })).toBe(false);
    expect(isRetriable(new Error('x'))).toBe(false);
    expect(isRetriable(null)).toBe(false);
  });

  it('describe any thrown value in one line with its causes and a code', () => {
    const error = new Error('outer\nline two', { cause: new Error('inner') });
    expect(messageOf(error)).toBe('outer line two: caused by: inner');
    expect(messageOf(new Error('connect ECONNREFUSED', { cause: new Error('connect ECONNREFUSED') }))).toBe('connect ECONNREFUSED');
    expect(codeOf(Object.assign(new Error('x'), { code: 'DB_DOWN' }))).toBe('DB_DOWN');
    expect(codeOf(new Error('x'))).toBe('UNCLASSIFIED');
    expect(codeOf('string')).toBe('UNCLASSIFIED');
  });
});
