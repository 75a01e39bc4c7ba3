import type { Setting } from './setting';
import { bool, int, oneOf, port, string } from './scalar-settings';

function parse<T>(setting: Setting<T>, raw: string): T | string {
  const r = setting.parse(raw);
  return r.ok ? r.value : `! ${r.reason}`;
}

describe('string', () => {
  it('takes any non-empty value', () => {
    expect(parse(string(), 'hello world')).toBe('hello world');
  });
  it('checks a pattern against the whole value', () => {
    const s = string({ pattern: /[a-z]+/ });
    expect(parse(s, 'abc')).toBe('abc');
    expect(parse(s, 'abc1')).toBe('! must match /[a-z]+/');
  });
  it('is optional only when asked', () => {
    expect(string().optional).toBe(false);
    expect(string({ optional: true }).optional).toBe(true);
  });
});

describe('int', () => {
  it('accepts integers within bounds', () => {
    expect(parse(int(), '-12')).toBe(-12);
    expect(parse(int({ min: 1, max: 10 }), '10')).toBe(10);
  });
  it('rejects anything that is not plainly an integer', () => {
    for (const raw of ['1.5', '0x10', '1e3', '12abc', 'abc', '99999999999999999999']) {
      expect(parse(int(), raw)).toBe('! must be an integer');
    }
  });
  it('describes its bounds in the reason', () => {
    expect(parse(int({ min: 1, max: 10 }), '11')).toBe('! must be an integer between 1 and 10');
    expect(parse(int({ min: 1 }), '0')).toBe('! must be an integer >= 1');
    expect(parse(int({ max: 5 }), '6')).toBe('! must be an integer <= 5');
  });
  it('takes its default as a number or as a string', () => {
    expect(int({ default: 3 }).defaultValue).toBe(3);
    expect(int({ default: '3' }).defaultValue).toBe(3);
  });
});

describe('port', () => {
  it('accepts 1 to 65535', () => {
    expect(parse(port(), '1')).toBe(1);
    expect(parse(port(), '65535')).toBe(65535);
    expect(parse(port(), '0')).toBe('! must be an integer between 1 and 65535');
    expect(parse(port(), '65536')).toBe('! must be an integer between 1 and 65535');
  });
});

describe('bool', () => {
  it('understands the usual spellings, in any case', () => {
    for (const raw of ['true', 'TRUE', '1', 'yes', 'On']) expect(parse(bool(), raw)).toBe(true);
    for (const raw of ['false', '0', 'no', 'OFF']) expect(parse(bool(), raw)).toBe(false);
  });
  it('rejects anything else', () => {
    expect(parse(bool(), 'y')).toBe('! must be a boolean (true/false, 1/0, yes/no, on/off)');
  });
});

describe('oneOf', () => {
  const level = oneOf(['debug', 'info', 'warn']);
  it('resolves to the spelling in the spec, ignoring case', () => {
    expect(parse(level, 'info')).toBe('info');
    expect(parse(level, 'WARN')).toBe('warn');
  });
  it('lists the choices when rejecting', () => {
    expect(parse(level, 'verbose')).toBe('! must be one of debug, info, warn');
  });
  it('checks its default', () => {
    expect(oneOf(['a', 'b'], { default: 'b' }).defaultValue).toBe('b');
    expect(() => oneOf(['a', 'b'], { default: 'c' as 'a' })).toThrow('must be one of a, b');
  });
});
