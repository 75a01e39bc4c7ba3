import { networkOf, providerOf, sourceKey } from './source-identity';

const prefixes = { ipv4Prefix: 24, ipv6Prefix: 48 };

describe('sourceKey', () => {
  it('names a known provider by the provider, whichever of its domains the PTR name is in', () => {
    expect(sourceKey({ ip: '209.85.220.41', baseDomain: 'google.com' }, prefixes)).toBe('provider:google');
    expect(sourceKey({ ip: '209.85.220.42', baseDomain: 'googlemail.com' }, prefixes)).toBe('provider:google');
    expect(sourceKey({ ip: '40.107.1.1', baseDomain: 'Outlook.com' }, prefixes)).toBe('provider:microsoft');
  });

  it('names another source by its PTR base domain, a look-alike of a provider included', () => {
    expect(sourceKey({ ip: '198.51.100.7', baseDomain: 'evil.example' }, prefixes)).toBe('domain:evil.example');
    expect(sourceKey({ ip: '198.51.100.7', baseDomain: 'google.com.evil.example' }, prefixes)).toBe('domain:google.com.evil.example');
    expect(sourceKey({ ip: '198.51.100.7', baseDomain: 'g00gle.com' }, prefixes)).toBe('domain:g00gle.com');
    expect(providerOf('toString')).toBeUndefined();
    expect(providerOf('__proto__')).toBeUndefined();
  });

  it('names a source without a PTR name by its network', () => {
    expect(sourceKey({ ip: '203.0.113.77', baseDomain: null }, prefixes)).toBe('net:203.0.113.0/24');
    expect(sourceKey({ ip: '2001:db8:abcd:12::1', baseDomain: null }, prefixes)).toBe('net:2001:db8:abcd::/48');
  });
});

describe('networkOf', () => {
  it.each([
    ['203.0.113.77', 24, 48, '203.0.113.0/24'],
    ['203.0.113.77', 32, 48, '203.0.113.77/32'],
    ['203.0.113.77', 8, 48, '203.0.0.0/8'],
    ['255.255.255.255', 24, 48, '255.255.255.0/24'],
    ['0.0.0.0', 24, 48, '0.0.0.0/24'],
    ['::ffff:203.0.113.77', 24, 48, '203.0.113.0/24'],
    ['2001:DB8:ABCD:0012:0000:0000:0000:0001', 24, 48, '2001:db8:abcd::/48'],
    ['2001:db8:abcd:12::1', 24, 64, '2001:db8:abcd:12::/64'],
    ['2001:db8:abcd:12::1', 24, 128, '2001:db8:abcd:12::1/128'],
    ['2001:db8:abcd:12::1', 24, 20, '2001::/20'],
    ['::1', 24, 48, '::/48'],
    ['::', 24, 16, '::/16'],
    ['64:ff9b::192.0.2.33', 24, 96, '64:ff9b::/96'],
    ['fe80::1:2:3:4', 24, 112, 'fe80::1:2:3:0/112'],
    ['not an address', 24, 48, 'not an address'],
    // Not dotted quads: kept as they are, never masked into some other network.
    ['01.2.3.4', 24, 48, '01.2.3.4'],
    ['1.2.3.256', 24, 48, '1.2.3.256'],
    ['1.2.3', 24, 48, '1.2.3'],
    ['1.2.3.4.5', 24, 48, '1.2.3.4.5'],
    ['1..3.4', 24, 48, '1..3.4'],
    ['1.2.3.', 24, 48, '1.2.3.'],
  ])('%s at /%i (v4) or /%i (v6) is %s', (ip, ipv4Prefix, ipv6Prefix, expected) => {
    expect(networkOf(ip, { ipv4Prefix, ipv6Prefix })).toBe(expected);
  });

  it('puts the two halves of a /24 in different networks at /25', () => {
    expect(networkOf('192.0.2.1', { ipv4Prefix: 25, ipv6Prefix: 48 })).toBe('192.0.2.0/25');
    expect(networkOf('192.0.2.200', { ipv4Prefix: 25, ipv6Prefix: 48 })).toBe('192.0.2.128/25');
  });
});
