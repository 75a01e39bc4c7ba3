import { baseDomain, domainNameProblem } from './base-domain';

describe('baseDomain', () => {
  it.each([
    ['mail.google.com', 'google.com'],
    ['google.com', 'google.com'],
    ['foo.bar.co.uk', 'bar.co.uk'],
    ['bar.co.uk', 'bar.co.uk'],
    ['a.b.c.example.com.au', 'example.com.au'],
    // private section of the PSL: each github.io site is its own organization
    ['foo.github.io', 'foo.github.io'],
    ['www.foo.github.io', 'foo.github.io'],
    ['x.y.blogspot.com', 'y.blogspot.com'],
    ['_dmarc.example.com', 'example.com'],
    // trailing dot, upper case, surrounding space
    ['Mail.Example.COM.', 'example.com'],
    ['  example.org  ', 'example.org'],
  ])('%s → %s', (name, expected) => {
    expect(baseDomain(name)).toBe(expected);
  });

  it.each(['co.uk', 'com', 'github.io', 'uk', '', '.', '192.0.2.1', '2001:db8::1', '[2001:db8::1]', 'localhost'])('%s → null', (name) => {
    expect(baseDomain(name)).toBeNull();
  });
});

describe('domainNameProblem', () => {
  it('accepts host names with underscores and digits', () => {
    expect(domainNameProblem('_spf.example.com')).toBeUndefined();
    expect(domainNameProblem('a1-b.example.co.uk')).toBeUndefined();
  });
  it.each([
    ['', 'empty'],
    ['localhost', 'single label'],
    ['a..example.com', 'empty label'],
    ['-a.example.com', 'not allowed'],
    ['exa mple.com', 'not allowed'],
    ['192.0.2.1', 'numeric'],
    [`${'a'.repeat(64)}.com`, 'over 63'],
    [`${'a.'.repeat(127)}com`, 'at most 253'],
  ])('%j: %s', (name, reason) => {
    expect(domainNameProblem(name)).toContain(reason);
  });
});
