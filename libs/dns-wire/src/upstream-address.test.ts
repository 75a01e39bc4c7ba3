import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { UpstreamConfigError } from './errors';
import { parseUpstreams, systemUpstreams } from './upstream-address';

describe('parseUpstreams', () => {
  it('reads IPv4 and bracketed IPv6, with or without a port', () => {
    expect(parseUpstreams('192.0.2.1:5353, 192.0.2.2,[2001:DB8::1]:53,[::1], 2001:db8::2')).toEqual([
      { host: '192.0.2.1', port: 5353, family: 4, label: '192.0.2.1:5353' },
      { host: '192.0.2.2', port: 53, family: 4, label: '192.0.2.2:53' },
      { host: '2001:db8::1', port: 53, family: 6, label: '[2001:db8::1]:53' },
      { host: '::1', port: 53, family: 6, label: '[::1]:53' },
      { host: '2001:db8::2', port: 53, family: 6, label: '[2001:db8::2]:53' },
    ]);
  });

  it.each([
    ['127.0.0.1:53,dns.google:53', 'dns.google:53', 'entry #2'],
    ['127.0.0.1:0', '127.0.0.1:0', 'port 0'],
    ['127.0.0.1:70000', '127.0.0.1:70000', 'port 70000'],
    ['127.0.0.1:x', '127.0.0.1:x', 'not a number'],
    ['[192.0.2.1]:53', '[192.0.2.1]:53', 'IPv6'],
    ['[::1:53', '[::1:53', 'unbalanced'],
    ['999.1.1.1', '999.1.1.1', 'not an IPv4'],
    ['127.0.0.1,,127.0.0.2', '', 'empty entry'],
    ['', '', 'no server'],
  ])('%j is refused, naming the bad entry', (spec, entry, reason) => {
    let error: unknown;
    try {
      parseUpstreams(spec);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(UpstreamConfigError);
    const e = error as UpstreamConfigError;
    expect(e).toMatchObject({ code: 'DNS_BAD_UPSTREAM_CONFIG', retriable: false, entry });
    expect(e.message).toContain(`"${entry}"`);
    expect(e.message).toContain(reason);
  });
});

describe('systemUpstreams', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'resolv-'));
  const file = (text: string) => {
    const p = path.join(dir, `resolv-${Math.random()}.conf`);
    writeFileSync(p, text);
    return p;
  };

  it('takes the nameserver lines in order, port 53', () => {
    const conf = file('# comment\nsearch example.com\nnameserver 10.0.0.1\nnameserver  2001:db8::53\nnameserver fe80::1%eth0\nnameserver bogus\noptions ndots:1\n');
    expect(systemUpstreams(conf).map((s) => s.label)).toEqual(['10.0.0.1:53', '[2001:db8::53]:53', '[fe80::1%eth0]:53']);
  });

  it('falls back to 127.0.0.1:53 like the C library', () => {
    expect(systemUpstreams(file('search example.com\n')).map((s) => s.label)).toEqual(['127.0.0.1:53']);
    expect(systemUpstreams(path.join(dir, 'missing.conf')).map((s) => s.label)).toEqual(['127.0.0.1:53']);
  });
});
