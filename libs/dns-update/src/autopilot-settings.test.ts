import { InvalidInputError } from '@dmarc/tenant-admin';
import { parseAutopilotSettings, type AutopilotSettingsInput } from './autopilot-settings';
import { isInternalAddress } from './server-address';

const valid: AutopilotSettingsInput = { host: '192.0.2.53', zone: 'example.com', keyName: 'dmarc-autopilot', algorithm: 'hmac-sha256', secret: Buffer.alloc(32, 9).toString('base64') };

/** The field and message of the error the input gives. */
function refusal(input: Partial<AutopilotSettingsInput> | Record<string, unknown>, domain = 'example.com'): { field?: string; message: string } {
  try {
    parseAutopilotSettings(domain, { ...valid, ...input } as AutopilotSettingsInput);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidInputError);
    const e = err as InvalidInputError;
    expect(e).toMatchObject({ statusCode: 400, code: 'VALIDATION_FAILED' });
    return { field: e.field, message: e.message };
  }
  throw new Error('accepted');
}

describe('autopilot settings', () => {
  it('fills the defaults and normalises names and the algorithm', () => {
    expect(parseAutopilotSettings('example.com', { ...valid, keyName: 'Key.Example.COM.', algorithm: 'HMAC-SHA512', zone: 'Example.com.' })).toEqual({
      domain: 'example.com',
      provider: 'rfc2136',
      host: '192.0.2.53',
      port: 53,
      zone: 'example.com',
      keyName: 'key.example.com',
      algorithm: 'hmac-sha512',
      ttl: 300,
      secret: valid.secret,
    });
  });

  it('takes the domain, a parent of it or _dmarc.<domain> itself as the zone', () => {
    for (const zone of ['mail.example.com', 'example.com', '_dmarc.mail.example.com']) {
      expect(parseAutopilotSettings('mail.example.com', { ...valid, zone }).zone).toBe(zone);
    }
  });

  it.each([
    [{ provider: 'route53' }, 'provider', /one of rfc2136/],
    [{ host: 'ns1.example.com' }, 'host', /IPv4 or IPv6 address/],
    [{ host: '0.0.0.0' }, 'host', /unicast/],
    [{ host: '::' }, 'host', /unicast/],
    [{ host: '239.1.1.1' }, 'host', /unicast/],
    [{ host: '255.255.255.255' }, 'host', /unicast/],
    [{ host: '' }, 'host', /IPv4 or IPv6/],
    [{ port: 0 }, 'port', /1 to 65535/],
    [{ port: 65536 }, 'port', /1 to 65535/],
    [{ port: 53.5 }, 'port', /integer/],
    [{ zone: 'other.com' }, 'zone', /zone must contain _dmarc.example.com/],
    [{ zone: 'ample.com' }, 'zone', /zone must contain/],
    [{ zone: 'com' }, 'zone', /two labels/],
    [{ zone: 'a..com' }, 'zone', /empty label/],
    [{ zone: 'x}:tenant:2.com' }, 'zone', /not a valid domain name/],
    [{ keyName: '' }, 'keyName', /empty name/],
    [{ keyName: 'key name' }, 'keyName', /not a valid key name/],
    [{ keyName: 'key;evil' }, 'keyName', /letters, digits, hyphens and underscores/],
    [{ keyName: `${'k'.repeat(64)}` }, 'keyName', /label of 64 characters/],
    [{ algorithm: 'hmac-md5' }, 'algorithm', /hmac-sha256, hmac-sha384, hmac-sha512/],
    [{ algorithm: 'hmac-sha1' }, 'algorithm', /one of/],
    [{ secret: 'not base64!' }, 'secret', /base64/],
    [{ secret: 'abc' }, 'secret', /base64/],
    [{ secret: '' }, 'secret', /base64/],
    [{ secret: Buffer.alloc(8).toString('base64') }, 'secret', /16-512 bytes, not 8/],
    [{ ttl: 10 }, 'ttl', /60 to 86400/],
    [{ ttl: 100_000 }, 'ttl', /60 to 86400/],
  ])('refuses %j naming %s', (input, field, reason) => {
    const r = refusal(input);
    expect(r.field).toBe(field);
    expect(r.message).toMatch(reason);
  });
});

describe('internal server addresses', () => {
  it('are loopback, private, shared and link-local, in IPv4, IPv6 and IPv4-mapped form', () => {
    for (const host of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '100.64.0.1', '169.254.169.254', '::1', 'fd00::1', 'fe80::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1']) {
      expect({ host, internal: isInternalAddress(host) }).toEqual({ host, internal: true });
    }
    for (const host of ['192.0.2.53', '8.8.8.8', '172.32.0.1', '2001:db8::53', '::ffff:8.8.8.8', 'example.com']) {
      expect({ host, internal: isInternalAddress(host) }).toEqual({ host, internal: false });
    }
  });
});
