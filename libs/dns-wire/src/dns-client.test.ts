// The client against real servers on loopback: the test server from @dmarc/testing, and, for what no
// honest server does (forged answers, unknown rcodes, no EDNS), a few lines of raw UDP.
import dgram from 'node:dgram';
import { once } from 'node:events';
import * as packet from 'dns-packet';
import { startDnsTestServer, type DnsTestServer } from '@dmarc/testing';
import { DnsClient } from './dns-client';
import { UpstreamError } from './errors';

jest.setTimeout(10_000);

let server: DnsTestServer;
let second: DnsTestServer;
beforeAll(async () => {
  [server, second] = await Promise.all([startDnsTestServer({ soaMinimum: 45, soaTtl: 900 }), startDnsTestServer()]);
});
afterEach(() => {
  server.reset();
  second.reset();
});
afterAll(async () => {
  await Promise.all([server.close(), second.close()]);
});

const client = (extra: Partial<ConstructorParameters<typeof DnsClient>[0]> = {}) => new DnsClient({ servers: server.address, timeoutMs: 300, ...extra });

async function rejection(p: Promise<unknown>): Promise<UpstreamError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(UpstreamError);
    return err as UpstreamError;
  }
  throw new Error('expected a rejection');
}

describe('DnsClient against the loopback test server', () => {
  it('reads A and AAAA, with their TTLs, the name normalised', async () => {
    server.set('Host.Example.com', 'A', ['192.0.2.1', '192.0.2.2'], 120);
    server.set('host.example.com', 'AAAA', ['2001:db8::1'], 240);
    const a = await client().query('HOST.example.COM.', 'A');
    expect(a).toMatchObject({ rcode: 'NOERROR', server: server.address });
    expect(a.answers).toEqual([
      { type: 'A', name: 'host.example.com', ttl: 120, address: '192.0.2.1' },
      { type: 'A', name: 'host.example.com', ttl: 120, address: '192.0.2.2' },
    ]);
    expect(a.negativeTtl).toBeUndefined();
    expect(a.latencyMs).toBeGreaterThan(0);
    expect((await client().query('host.example.com', 'AAAA')).answers).toEqual([{ type: 'AAAA', name: 'host.example.com', ttl: 240, address: '2001:db8::1' }]);
  });

  it('reads TXT records: several strings, and a long value split in 255-byte strings', async () => {
    const long = `v=DKIM1; k=rsa; p=${'A'.repeat(400)}`;
    server.set('sel._domainkey.example.com', 'TXT', [['v=spf1 ', 'include:_spf.example.net -all'], long, 'ünïcode'], 300);
    const { answers } = await client().query('sel._domainkey.example.com', 'TXT');
    expect(answers).toHaveLength(3);
    expect(answers[0]).toEqual({ type: 'TXT', name: 'sel._domainkey.example.com', ttl: 300, strings: ['v=spf1 ', 'include:_spf.example.net -all'] });
    const split = answers[1]!;
    expect(split.type === 'TXT' && split.strings.map((s) => s.length)).toEqual([255, long.length - 255]);
    expect(split.type === 'TXT' && split.strings.join('')).toBe(long);
    expect(answers[2]).toMatchObject({ strings: ['ünïcode'] });
  });

  it('reads MX, PTR, NS and SOA', async () => {
    server.set('example.com', 'MX', [{ preference: 10, exchange: 'MX1.Example.com.' }, { preference: 20, exchange: 'mx2.example.com' }], 3600);
    server.set('1.2.0.192.in-addr.arpa', 'PTR', ['mail.example.com.'], 86400);
    server.set('example.com', 'NS', ['ns1.example.net'], 172800);
    server.set('example.com', 'SOA', [{ mname: 'NS1.example.net', rname: 'hostmaster.example.com', serial: 2026112501, minimum: 300 }], 3600);
    const c = client();
    expect((await c.query('example.com', 'MX')).answers).toEqual([
      { type: 'MX', name: 'example.com', ttl: 3600, preference: 10, exchange: 'mx1.example.com' },
      { type: 'MX', name: 'example.com', ttl: 3600, preference: 20, exchange: 'mx2.example.com' },
    ]);
    expect((await c.query('1.2.0.192.in-addr.arpa', 'PTR')).answers).toEqual([{ type: 'PTR', name: '1.2.0.192.in-addr.arpa', ttl: 86400, target: 'mail.example.com' }]);
    expect((await c.query('example.com', 'NS')).answers).toEqual([{ type: 'NS', name: 'example.com', ttl: 172800, target: 'ns1.example.net' }]);
    expect((await c.query('example.com', 'SOA')).answers).toEqual([
      { type: 'SOA', name: 'example.com', ttl: 3600, mname: 'ns1.example.net', rname: 'hostmaster.example.com', serial: 2026112501, minimum: 300 },
    ]);
  });

  it('returns a CNAME chain first, then the TXT at its end; a CNAME question gets the CNAME alone', async () => {
    server.set('_dmarc.example.com', 'CNAME', ['_dmarc.hosted.example.net'], 600);
    server.set('_dmarc.hosted.example.net', 'CNAME', ['policy.example.org'], 500);
    server.set('policy.example.org', 'TXT', ['v=DMARC1; p=reject'], 400);
    const { rcode, answers } = await client().query('_dmarc.example.com', 'TXT');
    expect(rcode).toBe('NOERROR');
    expect(answers).toEqual([
      { type: 'CNAME', name: '_dmarc.example.com', ttl: 600, target: '_dmarc.hosted.example.net' },
      { type: 'CNAME', name: '_dmarc.hosted.example.net', ttl: 500, target: 'policy.example.org' },
      { type: 'TXT', name: 'policy.example.org', ttl: 400, strings: ['v=DMARC1; p=reject'] },
    ]);
    expect((await client().query('_dmarc.example.com', 'CNAME')).answers).toEqual([answers[0]]);
  });

  it('NXDOMAIN and NODATA carry the negative TTL min(SOA TTL, SOA minimum)', async () => {
    server.set('exists.example.com', 'A', ['192.0.2.1'], 300);
    const nx = await client().query('missing.example.com', 'TXT');
    expect(nx).toMatchObject({ rcode: 'NXDOMAIN', answers: [], negativeTtl: 45 });
    const nodata = await client().query('exists.example.com', 'TXT');
    expect(nodata).toMatchObject({ rcode: 'NOERROR', answers: [], negativeTtl: 45 });
    server.setSoa({ ttl: 30, minimum: 600 });
    expect((await client().query('missing.example.com', 'TXT')).negativeTtl).toBe(30);
    // The zone's own SOA, when the name lies under one.
    server.set('example.com', 'SOA', [{ mname: 'ns.example.com', rname: 'h.example.com', minimum: 120 }], 3600);
    expect((await client().query('missing.example.com', 'TXT')).negativeTtl).toBe(120);
  });

  it('a removed name becomes NXDOMAIN; a CNAME to nowhere is NXDOMAIN with the chain', async () => {
    server.set('gone.example.com', 'TXT', ['x'], 300);
    server.remove('gone.example.com');
    expect((await client().query('gone.example.com', 'TXT')).rcode).toBe('NXDOMAIN');
    server.set('alias.example.com', 'CNAME', ['nowhere.example.com'], 300);
    const r = await client().query('alias.example.com', 'TXT');
    expect(r).toMatchObject({ rcode: 'NXDOMAIN', negativeTtl: 45 });
    expect(r.answers).toEqual([{ type: 'CNAME', name: 'alias.example.com', ttl: 300, target: 'nowhere.example.com' }]);
  });

  it('resolves SERVFAIL and REFUSED as answers when there is no other server to ask', async () => {
    server.fail('servfail');
    expect(await client().query('example.com', 'TXT')).toMatchObject({ rcode: 'SERVFAIL', answers: [] });
    server.fail('refused');
    expect((await client().query('example.com', 'TXT')).rcode).toBe('REFUSED');
    // One server: SERVFAIL is its answer, not a reason to ask it again.
    expect(server.queries('example.com').total).toBe(2);
  });

  it('asks the next server after a SERVFAIL', async () => {
    server.fail('servfail');
    second.set('example.com', 'TXT', ['ok'], 60);
    const r = await new DnsClient({ servers: `${server.address},${second.address}`, timeoutMs: 300 }).query('example.com', 'TXT');
    expect(r).toMatchObject({ rcode: 'NOERROR', server: second.address });
  });

  it('on a timeout, retries on the next server, and starts there next time', async () => {
    server.fail('drop');
    second.set('example.com', 'A', ['192.0.2.7'], 60);
    const c = new DnsClient({ servers: `${server.address},${second.address}`, timeoutMs: 150, retries: 2 });
    const started = Date.now();
    const r = await c.query('example.com', 'A');
    expect(r).toMatchObject({ rcode: 'NOERROR', server: second.address, answers: [{ address: '192.0.2.7' }] });
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(server.queries('example.com', 'A').udp).toBe(1);
    expect(second.queries('example.com', 'A').udp).toBe(1);
    // The dead server is not asked first again.
    await c.query('example.com', 'A');
    expect(server.queries().total).toBe(1);
    expect(second.queries().total).toBe(2);
  });

  it('gives up with a retriable DNS_TIMEOUT after 1 + retries attempts', async () => {
    server.fail('drop');
    const started = Date.now();
    const err = await rejection(client({ timeoutMs: 100, retries: 2 }).query('example.com', 'TXT'));
    expect(err).toMatchObject({ code: 'DNS_TIMEOUT', retriable: true, server: server.address });
    expect(err.message).toContain('3 attempt(s)');
    expect(err.message).not.toMatch(/\n\s+at /);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(server.queries().udp).toBe(3);
  });

  it('waits out a slow server within the timeout', async () => {
    server.set('slow.example.com', 'A', ['192.0.2.9'], 60);
    server.delay(80, 'slow.example.com');
    const r = await client().query('slow.example.com', 'A');
    expect(r.latencyMs).toBeGreaterThanOrEqual(75);
    expect(r.answers).toHaveLength(1);
  });

  it('asks again over TCP when the UDP answer is truncated', async () => {
    server.set('big.example.com', 'TXT', ['v=spf1 -all'], 60);
    server.truncate('big.example.com');
    const r = await client().query('big.example.com', 'TXT');
    expect(r.answers).toEqual([{ type: 'TXT', name: 'big.example.com', ttl: 60, strings: ['v=spf1 -all'] }]);
    expect(server.queries('big.example.com')).toEqual({ total: 2, udp: 1, tcp: 1 });
  });

  it('an answer larger than the 1232-byte EDNS size comes over TCP', async () => {
    const many = Array.from({ length: 30 }, (_, i) => `record ${i} ${'x'.repeat(60)}`);
    server.set('large.example.com', 'TXT', many, 60);
    const r = await client().query('large.example.com', 'TXT');
    expect(r.answers).toHaveLength(30);
    expect(server.queries('large.example.com')).toEqual({ total: 2, udp: 1, tcp: 1 });
  });

  it('refuses bad questions without sending them', async () => {
    const c = client();
    expect(await rejection(c.query(`${'a'.repeat(64)}.example.com`, 'TXT'))).toMatchObject({ code: 'DNS_BAD_QUERY', retriable: false });
    expect(await rejection(c.query('a..b', 'TXT'))).toMatchObject({ code: 'DNS_BAD_QUERY' });
    expect(await rejection(c.query('example.com', 'ANY' as 'A'))).toMatchObject({ code: 'DNS_BAD_QUERY' });
    expect(server.queries().total).toBe(0);
  });

  it('stops at once when the caller aborts', async () => {
    server.fail('drop');
    const ac = new AbortController();
    const p = client({ timeoutMs: 5000 }).query('example.com', 'TXT', ac.signal);
    setTimeout(() => ac.abort(new Error('shutting down')), 30);
    const started = Date.now();
    expect(await rejection(p)).toMatchObject({ code: 'DNS_ABORTED', retriable: false });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('reports DNS_NETWORK quickly when nothing listens on the port', async () => {
    const closed = await startDnsTestServer();
    await closed.close();
    const started = Date.now();
    const err = await rejection(new DnsClient({ servers: closed.address, timeoutMs: 2000, retries: 1 }).query('example.com', 'A'));
    expect(err).toMatchObject({ code: 'DNS_NETWORK', retriable: true });
    expect(Date.now() - started).toBeLessThan(1500);
  });
});

/** A UDP server that answers each query through `reply`, with whatever bytes it likes, from where it likes. */
async function rawServer(reply: (query: packet.DecodedPacket, send: (msg: packet.Packet | Buffer, from?: dgram.Socket) => void) => void) {
  const socket = dgram.createSocket('udp4');
  const other = dgram.createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  other.bind(0, '127.0.0.1');
  await Promise.all([once(socket, 'listening'), once(other, 'listening')]);
  const queries: packet.DecodedPacket[] = [];
  socket.on('message', (bytes, rinfo) => {
    const query = packet.decode(bytes);
    queries.push(query);
    reply(query, (msg, from = socket) => from.send(Buffer.isBuffer(msg) ? msg : packet.encode(msg), rinfo.port, rinfo.address));
  });
  return {
    address: `127.0.0.1:${socket.address().port}`,
    other,
    queries,
    close: () => Promise.all([new Promise<void>((r) => socket.close(() => r())), new Promise<void>((r) => other.close(() => r()))]),
  };
}

const response = (query: packet.DecodedPacket, overrides: Partial<packet.Packet> = {}): packet.Packet => ({
  type: 'response',
  id: query.id,
  flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE,
  questions: query.questions,
  answers: [{ type: 'A', name: query.questions![0]!.name, ttl: 60, class: 'IN', data: '192.0.2.1' }],
  ...overrides,
});

describe('DnsClient against misbehaving servers', () => {
  it('ignores forged answers (wrong id, wrong question, other source, not a response, junk) and takes the real one', async () => {
    const raw = await rawServer((q, send) => {
      const forged = { answers: [{ type: 'A' as const, name: q.questions![0]!.name, ttl: 86400, class: 'IN' as const, data: '203.0.113.66' }] };
      send(response(q, { ...forged, id: (q.id! + 1) & 0xffff }));
      send(response(q, { ...forged, questions: [{ type: 'A', name: 'other.example.com', class: 'IN' }] }));
      send(response(q, { ...forged, questions: [{ type: 'AAAA', name: q.questions![0]!.name, class: 'IN' }] }));
      send(response(q, { ...forged, type: 'query' }));
      send(response(q, forged), raw.other);
      send(Buffer.from('not dns at all'));
      setTimeout(() => send(response(q)), 20);
    });
    try {
      const r = await new DnsClient({ servers: raw.address, timeoutMs: 500 }).query('victim.example.com', 'A');
      expect(r.answers).toEqual([{ type: 'A', name: 'victim.example.com', ttl: 60, address: '192.0.2.1' }]);
      expect(raw.queries).toHaveLength(1);
    } finally {
      await raw.close();
    }
  });

  it('drops records outside the chain of the question', async () => {
    const raw = await rawServer((q, send) =>
      send(
        response(q, {
          answers: [
            { type: 'A', name: 'bank.example.com', ttl: 86400, class: 'IN', data: '203.0.113.66' },
            { type: 'A', name: q.questions![0]!.name, ttl: 60, class: 'IN', data: '192.0.2.1' },
          ],
        }),
      ),
    );
    try {
      const r = await new DnsClient({ servers: raw.address, timeoutMs: 500 }).query('www.example.com', 'A');
      expect(r.answers).toEqual([{ type: 'A', name: 'www.example.com', ttl: 60, address: '192.0.2.1' }]);
    } finally {
      await raw.close();
    }
  });

  it('only junk from the server: DNS_BAD_RESPONSE, not a bare timeout', async () => {
    const raw = await rawServer((_q, send) => send(Buffer.from([1, 2, 3])));
    try {
      const err = await rejection(new DnsClient({ servers: raw.address, timeoutMs: 100, retries: 0 }).query('example.com', 'A'));
      expect(err).toMatchObject({ code: 'DNS_BAD_RESPONSE', retriable: true });
    } finally {
      await raw.close();
    }
  });

  it('an rcode outside the contract is a bad response', async () => {
    const raw = await rawServer((q, send) => send(response(q, { flags: 9, answers: [] })));
    try {
      expect(await rejection(new DnsClient({ servers: raw.address, timeoutMs: 200, retries: 0 }).query('example.com', 'A'))).toMatchObject({ code: 'DNS_BAD_RESPONSE' });
    } finally {
      await raw.close();
    }
  });

  it('sends EDNS0 with a 1232-byte UDP size, and asks without it a server that answers FORMERR', async () => {
    const raw = await rawServer((q, send) => {
      const edns = q.additionals?.some((a) => a.type === 'OPT');
      send(edns ? response(q, { flags: 1, answers: [] }) : response(q));
    });
    try {
      const r = await new DnsClient({ servers: raw.address, timeoutMs: 500 }).query('old.example.com', 'A');
      expect(r.rcode).toBe('NOERROR');
      const [first, second] = raw.queries;
      expect(first!.additionals).toEqual([expect.objectContaining({ type: 'OPT', udpPayloadSize: 1232 })]);
      expect(second!.additionals).toEqual([]);
      expect(first!.id).not.toBe(second!.id);
    } finally {
      await raw.close();
    }
  });

  it('uses random query ids', async () => {
    const raw = await rawServer((q, send) => send(response(q)));
    try {
      const c = new DnsClient({ servers: raw.address, timeoutMs: 500 });
      for (let i = 0; i < 20; i++) await c.query('example.com', 'A');
      expect(new Set(raw.queries.map((q) => q.id)).size).toBeGreaterThan(15);
    } finally {
      await raw.close();
    }
  });
});
