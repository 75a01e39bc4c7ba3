// The test server on its own, spoken to in raw wire format (dns-packet) over UDP and TCP, so that what
// the DNS client's tests rely on is checked without the client.
import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';
import * as packet from 'dns-packet';
import { startDnsTestServer, type DnsTestServer } from './dns-test-server';

jest.setTimeout(10_000);

let server: DnsTestServer;
beforeEach(async () => {
  server = await startDnsTestServer({ soaMinimum: 30 });
});
afterEach(() => server.close());

const query = (name: string, type: packet.RecordType, id = 1, edns = true): packet.Packet => ({
  type: 'query',
  id,
  flags: packet.RECURSION_DESIRED,
  questions: [{ name, type, class: 'IN' }],
  additionals: edns ? [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] : [],
});

/** One UDP exchange; undefined when nothing came back within `waitMs`. */
async function udp(q: packet.Packet, waitMs = 500): Promise<(packet.DecodedPacket & { rcode?: string }) | undefined> {
  const socket = dgram.createSocket('udp4');
  try {
    socket.send(packet.encode(q), server.port, server.host);
    const got = await Promise.race([once(socket, 'message') as Promise<[Buffer]>, new Promise<undefined>((r) => setTimeout(() => r(undefined), waitMs))]);
    return got && packet.decode(got[0]);
  } finally {
    socket.close();
  }
}

/** Several questions down one TCP connection, written at once; the answers in the order they come. */
async function tcp(qs: packet.Packet[], expected = qs.length): Promise<packet.DecodedPacket[]> {
  const socket = net.connect(server.port, server.host);
  await once(socket, 'connect');
  socket.write(Buffer.concat(qs.map((q) => packet.streamEncode(q))));
  const out: packet.DecodedPacket[] = [];
  let pending = Buffer.alloc(0);
  for await (const chunk of socket) {
    pending = Buffer.concat([pending, chunk as Buffer]);
    while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
      out.push(packet.decode(pending.subarray(2, 2 + pending.readUInt16BE(0))));
      pending = pending.subarray(2 + pending.readUInt16BE(0));
    }
    if (out.length >= expected) break;
  }
  socket.destroy();
  return out;
}

describe('startDnsTestServer', () => {
  it('listens on one free loopback port for UDP and TCP, named by address', () => {
    expect(server.address).toBe(`127.0.0.1:${server.port}`);
    expect(server.port).toBeGreaterThan(0);
  });

  it('answers authoritatively over UDP and over TCP, several questions per connection, and counts each', async () => {
    server.set('example.com', 'A', ['192.0.2.1'], 77);
    server.set('example.com', 'TXT', ['hello'], 88);
    const overUdp = await udp(query('Example.COM.', 'A', 42));
    expect(overUdp).toMatchObject({ id: 42, flag_qr: true, flag_aa: true, rcode: 'NOERROR' });
    expect(overUdp!.answers).toEqual([expect.objectContaining({ name: 'example.com', type: 'A', ttl: 77, data: '192.0.2.1' })]);
    const overTcp = await tcp([query('example.com', 'A', 7), query('example.com', 'TXT', 8)]);
    expect(overTcp.map((m) => m.id)).toEqual([7, 8]);
    expect(overTcp[1]!.answers![0]).toMatchObject({ type: 'TXT', ttl: 88, data: [Buffer.from('hello')] });
    expect(server.queries()).toEqual({ total: 3, udp: 1, tcp: 2 });
    expect(server.queries('EXAMPLE.com.', 'A')).toEqual({ total: 2, udp: 1, tcp: 1 });
    expect(server.queries('example.com', 'TXT')).toEqual({ total: 1, udp: 0, tcp: 1 });
    expect(server.queries('other.example.com')).toEqual({ total: 0, udp: 0, tcp: 0 });
    expect(server.log.map((q) => `${q.protocol} ${q.name} ${q.type}`)).toEqual(['udp example.com A', 'tcp example.com A', 'tcp example.com TXT']);
  });

  it('NXDOMAIN and NODATA carry an SOA whose minimum is configurable', async () => {
    server.set('exists.example.com', 'A', ['192.0.2.1'], 60);
    const nx = await udp(query('nope.example.com', 'A'));
    expect(nx).toMatchObject({ rcode: 'NXDOMAIN', answers: [] });
    expect(nx!.authorities).toEqual([expect.objectContaining({ type: 'SOA', ttl: 3600, data: expect.objectContaining({ minimum: 30 }) })]);
    const nodata = await udp(query('exists.example.com', 'MX'));
    expect(nodata).toMatchObject({ rcode: 'NOERROR', answers: [] });
    expect(nodata!.authorities![0]).toMatchObject({ type: 'SOA' });
    server.set('exists.example.com', 'A', [], 60);
    expect(await udp(query('exists.example.com', 'A'))).toMatchObject({ rcode: 'NOERROR', answers: [] });
  });

  it('fails on demand: SERVFAIL, REFUSED, or silence, globally or per name, over both protocols', async () => {
    server.set('example.com', 'A', ['192.0.2.1'], 60);
    server.fail('servfail', 'example.com');
    expect(await udp(query('example.com', 'A'))).toMatchObject({ rcode: 'SERVFAIL' });
    expect(await udp(query('other.example.com', 'A'))).toMatchObject({ rcode: 'NXDOMAIN' });
    server.fail('refused');
    expect(await udp(query('other.example.com', 'A'))).toMatchObject({ rcode: 'REFUSED' });
    server.fail(null);
    server.fail('drop', 'example.com');
    expect(await udp(query('example.com', 'A'), 150)).toBeUndefined();
    const tcpAnswers = await Promise.race([tcp([query('example.com', 'A')]), new Promise<'silent'>((r) => setTimeout(() => r('silent'), 150))]);
    expect(tcpAnswers).toBe('silent');
    expect(server.queries('example.com')).toMatchObject({ udp: 2, tcp: 1 });
  });

  it('delays answers, per name over the global delay', async () => {
    server.set('example.com', 'A', ['192.0.2.1'], 60);
    server.delay(300);
    server.delay(20, 'example.com');
    let t = Date.now();
    expect(await udp(query('example.com', 'A'))).toBeDefined();
    expect(Date.now() - t).toBeLessThan(250);
    t = Date.now();
    expect(await udp(query('other.example.com', 'A'))).toBeDefined();
    expect(Date.now() - t).toBeGreaterThanOrEqual(290);
  });

  it('truncates on demand over UDP only, and by itself when the answer does not fit the client buffer', async () => {
    server.set('tc.example.com', 'A', ['192.0.2.1'], 60);
    server.truncate('tc.example.com');
    expect(await udp(query('tc.example.com', 'A'))).toMatchObject({ flag_tc: true, answers: [] });
    expect((await tcp([query('tc.example.com', 'A')]))[0]).toMatchObject({ flag_tc: false, answers: [expect.objectContaining({ data: '192.0.2.1' })] });
    server.truncate('tc.example.com', false);
    expect(await udp(query('tc.example.com', 'A'))).toMatchObject({ flag_tc: false });

    server.set('big.example.com', 'TXT', Array.from({ length: 8 }, () => 'x'.repeat(100)), 60);
    expect(await udp(query('big.example.com', 'TXT', 1, false))).toMatchObject({ flag_tc: true, answers: [] }); // > 512 without EDNS
    expect((await udp(query('big.example.com', 'TXT', 1, true)))!.answers).toHaveLength(8); // < 1232 with it
  });

  it('answers names never set from the fallback, set names first, NXDOMAIN where it gives nothing; reset() drops it', async () => {
    server.set('1.2.0.192.in-addr.arpa', 'PTR', ['set.example.com'], 60);
    const asked: string[] = [];
    server.setFallback((name, type) => {
      asked.push(`${name} ${type}`);
      if (type === 'PTR' && name.endsWith('.in-addr.arpa')) return { records: [`host-${name.split('.').slice(0, 4).reverse().join('-')}.senders.example`], ttl: 3600 };
      if (type === 'TXT' && name === '_dmarc.example.com') return { records: ['v=DMARC1; p=reject'] };
      if (name === 'nodata.example.com') return { records: [] };
      return undefined;
    });
    expect((await udp(query('2.2.0.192.IN-ADDR.ARPA.', 'PTR')))!.answers).toEqual([
      expect.objectContaining({ name: '2.2.0.192.in-addr.arpa', type: 'PTR', ttl: 3600, data: 'host-192-0-2-2.senders.example' }),
    ]);
    expect((await udp(query('1.2.0.192.in-addr.arpa', 'PTR')))!.answers![0]).toMatchObject({ data: 'set.example.com', ttl: 60 });
    expect((await tcp([query('_dmarc.example.com', 'TXT')]))[0].answers![0]).toMatchObject({ type: 'TXT', ttl: 300, data: [Buffer.from('v=DMARC1; p=reject')] });
    expect(await udp(query('nodata.example.com', 'TXT'))).toMatchObject({ rcode: 'NOERROR', answers: [] });
    expect(await udp(query('other.example.com', 'TXT'))).toMatchObject({ rcode: 'NXDOMAIN' });
    expect(asked).toEqual(['2.2.0.192.in-addr.arpa PTR', '_dmarc.example.com TXT', 'nodata.example.com TXT', 'other.example.com TXT']);
    expect(server.queries(undefined, 'PTR')).toEqual({ total: 2, udp: 2, tcp: 0 });
    server.reset();
    expect(await udp(query('2.2.0.192.in-addr.arpa', 'PTR'))).toMatchObject({ rcode: 'NXDOMAIN' });
  });

  it('reset() forgets records, failures, delays and counts', async () => {
    server.set('example.com', 'A', ['192.0.2.1'], 60);
    server.fail('servfail');
    server.delay(1000);
    expect(await udp(query('example.com', 'A'), 50)).toBeUndefined();
    server.reset();
    expect(server.queries().total).toBe(0);
    const t = Date.now();
    expect(await udp(query('example.com', 'A'))).toMatchObject({ rcode: 'NXDOMAIN' });
    expect(Date.now() - t).toBeLessThan(500);
  });

  it('keeps the last logLimit queries in the log but counts them all', async () => {
    const small = await startDnsTestServer({ logLimit: 3 });
    try {
      const socket = dgram.createSocket('udp4');
      for (let i = 0; i < 8; i++) {
        socket.send(packet.encode(query(`n${i}.example.com`, 'A', i)), small.port, small.host);
        await once(socket, 'message');
      }
      socket.close();
      expect(small.queries()).toEqual({ total: 8, udp: 8, tcp: 0 });
      expect(small.queries('n7.example.com', 'A').total).toBe(1);
      expect(small.log.map((q) => q.name)).toEqual(['n5.example.com', 'n6.example.com', 'n7.example.com']);
    } finally {
      await small.close();
    }
  });

  it('close() frees the port and drops pending delayed answers', async () => {
    server.delay(5000);
    const socket = dgram.createSocket('udp4');
    socket.send(packet.encode(query('example.com', 'A')), server.port, server.host);
    await new Promise((r) => setTimeout(r, 20));
    socket.close();
    await server.close();
    const again = await startDnsTestServer({ port: server.port });
    expect(again.port).toBe(server.port);
    await again.close();
  });
});
