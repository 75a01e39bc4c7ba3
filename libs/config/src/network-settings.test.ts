import { brokers, hostPortList, maskUrl, parseHostPort, url } from './network-settings';

describe('url', () => {
  const pg = url({ protocols: ['postgres:', 'postgresql:'] });
  it('keeps the URL exactly as given', () => {
    expect(pg.parse('postgres://u:p%40ss@db:5432/dmarc?sslmode=require')).toEqual({
      ok: true,
      value: 'postgres://u:p%40ss@db:5432/dmarc?sslmode=require',
    });
  });
  it('rejects text that is not a URL, or the wrong protocol', () => {
    expect(pg.parse('db:5432')).toEqual({ ok: false, reason: 'must be a postgres: or postgresql: URL' });
    expect(pg.parse('not a url').ok).toBe(false);
    expect(pg.parse('mysql://db/x').ok).toBe(false);
  });
  it('accepts any protocol when none is listed', () => {
    expect(url().parse('http://x').ok).toBe(true);
  });
});

describe('maskUrl', () => {
  it('masks the password and query values, keeping where the URL points', () => {
    expect(maskUrl('rediss://:pw@redis:6380/0')).toBe('rediss://:***@redis:6380/0');
    expect(maskUrl('postgres://u:p@ss@db/x?sslmode=require&password=pw')).toBe('postgres://u:***@db/x?sslmode=require&password=***');
    expect(maskUrl('redis://r:6379/0#x')).toBe('redis://r:6379/0#***');
  });
  it('withholds a URL whose password broke its structure', () => {
    expect(maskUrl('postgres://u:12?ss@db/x')).toBeUndefined();
    expect(maskUrl('postgres://u:12#ss@db/x')).toBeUndefined();
    expect(maskUrl('postgres://u:1/2@db/x')).toBeUndefined();
  });
  it('withholds what has no host, where the password may have been read as a path', () => {
    expect(maskUrl('dmarc:s3cr3t@db')).toBeUndefined();
    expect(maskUrl('postgres:/u:s3cr3t@db')).toBeUndefined();
    expect(maskUrl('nope')).toBeUndefined();
  });
});

describe('parseHostPort', () => {
  it.each([
    ['db:5432', undefined, { host: 'db', port: 5432 }],
    ['10.0.0.1', 53, { host: '10.0.0.1', port: 53 }],
    ['[2001:db8::1]:853', undefined, { host: '2001:db8::1', port: 853 }],
    ['[::1]', 53, { host: '::1', port: 53 }],
    ['2001:db8::1', 53, { host: '2001:db8::1', port: 53 }],
  ])('%s', (text, defaultPort, expected) => {
    expect(parseHostPort(text, defaultPort)).toEqual(expected);
  });

  it.each(['db', 'db:', 'db:0', 'db:70000', 'db:x', ':53', 'bad host:1', '[nope]:1', '-db:1'])('rejects %j', (text) => {
    expect(parseHostPort(text)).toBeUndefined();
  });
});

describe('hostPortList', () => {
  const dns = hostPortList({ defaultPort: 53 });
  it('parses a comma-separated list, applying the default port', () => {
    expect(dns.parse('1.1.1.1, [2606:4700:4700::1111]:5353')).toEqual({
      ok: true,
      value: [
        { host: '1.1.1.1', port: 53 },
        { host: '2606:4700:4700::1111', port: 5353 },
      ],
    });
  });
  it('names the bad entry', () => {
    expect(dns.parse('1.1.1.1,bad host')).toEqual({
      ok: false,
      reason: 'must be a comma-separated list of host[:port] (port defaults to 53) (bad entry "bad host")',
    });
    expect(dns.parse('1.1.1.1,,8.8.8.8').ok).toBe(false);
  });
  it('requires ports when there is no default', () => {
    expect(hostPortList().parse('db').ok).toBe(false);
  });
});

describe('brokers', () => {
  it('resolves to host:port strings as kafkajs expects, port 9092 by default', () => {
    expect(brokers().parse('k1,k2:19092,[::1]')).toEqual({ ok: true, value: ['k1:9092', 'k2:19092', '[::1]:9092'] });
    expect(brokers({ default: ['a:1'] }).defaultValue).toEqual(['a:1']);
    expect(brokers({ default: 'a' }).defaultValue).toEqual(['a:9092']);
  });
});
