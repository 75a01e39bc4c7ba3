import { DnsCache } from '@dmarc/dns-cache';
import type { RecordType, Upstream, UpstreamAnswer } from '@dmarc/dns-wire';
import { installErrorHandler } from '@dmarc/service-runtime';
import Fastify, { type FastifyInstance } from 'fastify';
import { registerDnsRoutes } from './dns-routes';

class TableUpstream implements Upstream {
  readonly asked: string[] = [];
  failing = false;

  async query(name: string, type: RecordType): Promise<UpstreamAnswer> {
    this.asked.push(`${type} ${name}`);
    if (this.failing) return { rcode: 'SERVFAIL', answers: [], server: 'test', latencyMs: 1 };
    if (name === 'example.test' && type === 'TXT') {
      return { rcode: 'NOERROR', answers: [{ type: 'TXT', name, ttl: 300, strings: ['v=spf1 -all'] }], server: 'test', latencyMs: 1 };
    }
    return { rcode: 'NXDOMAIN', answers: [], negativeTtl: 60, server: 'test', latencyMs: 1 };
  }
}

describe('dns routes', () => {
  let app: FastifyInstance;
  let upstream: TableUpstream;
  let cache: DnsCache;
  let base: string;
  const checked: string[] = [];

  beforeEach(async () => {
    upstream = new TableUpstream();
    cache = new DnsCache({ upstream });
    app = Fastify();
    installErrorHandler(app);
    registerDnsRoutes(app, {
      cache,
      checkDomain: async (domain) => {
        checked.push(domain);
        return { domain };
      },
    });
    // A real socket: light-my-request's inject pulls in an ESM-only dependency jest cannot load.
    base = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterEach(async () => {
    cache.close();
    await app.close();
  });

  const get = async (url: string) => {
    const res = await fetch(`${base}${url}`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it('answers a lookup with where it came from and its state', async () => {
    const first = await get('/v1/dns/txt/Example.TEST.');
    expect(first).toEqual({
      status: 200,
      body: expect.objectContaining({ name: 'example.test', type: 'TXT', rcode: 'NOERROR', ttl: 300, source: 'upstream', state: 'fresh' }),
    });
    expect((first.body.answers as Array<{ strings: string[] }>)[0].strings).toEqual(['v=spf1 -all']);
    expect((await get('/v1/dns/TXT/example.test')).body).toMatchObject({ source: 'l1', state: 'fresh' });
    expect((await get('/v1/dns/MX/missing.test')).body).toMatchObject({ rcode: 'NXDOMAIN', state: 'negative', answers: [] });
    expect(upstream.asked).toEqual(['TXT example.test', 'MX missing.test']);
  });

  it('takes a name of 253 characters and refuses 254, an unknown type and bad labels with a 400 naming the field, never asking', async () => {
    const label = 'a'.repeat(61);
    const name253 = `${label}.${label}.${label}.${label}.bbbbb`;
    expect(name253).toHaveLength(253);
    expect((await get(`/v1/dns/A/${name253}`)).status).toBe(200);
    upstream.asked.length = 0;
    for (const [url, field, error] of [
      [`/v1/dns/A/${name253}c`, 'name', 'DNS_INVALID_NAME'],
      ['/v1/dns/SRV/example.test', 'type', 'DNS_UNSUPPORTED_TYPE'],
      ['/v1/dns/TXT/a..b', 'name', 'DNS_INVALID_NAME'],
      ['/v1/dns/TXT/-a.test', 'name', 'DNS_INVALID_NAME'],
      ['/v1/dns/TXT/a%20b.test', 'name', 'DNS_INVALID_NAME'],
      ['/v1/dns/TXT/tenant%3Ax%3Aa.test', 'name', 'DNS_INVALID_NAME'],
      ['/v1/domains/a..b/dns-check', 'domain', 'DNS_INVALID_NAME'],
    ]) {
      expect({ url, ...(await get(url)) }).toEqual({ url, status: 400, body: expect.objectContaining({ error, field, message: expect.any(String) }) });
    }
    expect(upstream.asked).toEqual([]);
    expect(checked).toEqual([]);
  });

  it('is a 502 when the upstream fails with nothing stale to serve', async () => {
    upstream.failing = true;
    expect(await get('/v1/dns/TXT/down.test')).toEqual({ status: 502, body: expect.objectContaining({ error: 'DNS_UPSTREAM_FAILED' }) });
  });

  it('checks a domain under its normalised name', async () => {
    expect(await get('/v1/domains/Example.Test./dns-check')).toEqual({ status: 200, body: { domain: 'example.test' } });
  });
});
