import net from 'node:net';
import { upstreamServer } from '@dmarc/dns-wire';
import { freePort, startDnsTestServer, type DnsTestServer } from '@dmarc/testing';
import { DnsUpdateError } from './errors';
import { Rfc2136Provider } from './rfc2136-provider';
import { signMessage, splitTsig, type TsigKey } from './tsig';

const key: TsigKey = { name: 'dmarc-autopilot', algorithm: 'hmac-sha256', secret: Buffer.alloc(32, 3) };

/** How the fake primary answers an UPDATE: its RCODE, signed (default) or not, or with a TSIG error, or not at all. */
type Behaviour = { rcode?: number; sign?: 'key' | 'other-secret' | 'none'; tsigError?: number; silent?: boolean; strayFirst?: boolean };

/** A primary over TCP that answers each UPDATE as told, signing over the request's MAC as BIND does. */
async function fakePrimary(behaviour: () => Behaviour): Promise<{ port: number; received: Buffer[]; close(): Promise<void> }> {
  const received: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      if (pending.length < 2 || pending.length < 2 + pending.readUInt16BE(0)) return;
      const request = pending.subarray(2, 2 + pending.readUInt16BE(0));
      received.push(request);
      const b = behaviour();
      if (b.silent) return;
      const { tsig } = splitTsig(request);
      const answer = (id: number) => {
        const header = Buffer.alloc(12);
        header.writeUInt16BE(id, 0);
        header.writeUInt16BE(0x8000 | (5 << 11) | (b.rcode ?? 0), 2);
        const signer = b.sign === 'other-secret' ? { ...key, secret: Buffer.alloc(32, 4) } : key;
        const bytes = b.sign === 'none' ? header : signMessage(header, signer, Math.floor(Date.now() / 1000), { requestMac: tsig!.mac, error: b.tsigError }).signed;
        const framed = Buffer.alloc(2);
        framed.writeUInt16BE(bytes.length);
        socket.write(Buffer.concat([framed, bytes]));
      };
      // An answer to some other id first: not ours, so the client keeps waiting for its own.
      if (b.strayFirst) answer(request.readUInt16BE(0) ^ 0xffff);
      answer(request.readUInt16BE(0));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    received,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

const provider = (port: number, timeoutMs = 2000) => new Rfc2136Provider({ server: upstreamServer('127.0.0.1', port), zone: 'example.test', key, timeoutMs });

async function failure(p: Promise<unknown>): Promise<DnsUpdateError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DnsUpdateError);
  return err as DnsUpdateError;
}

describe('RFC 2136 provider: the UPDATE and what its answer means', () => {
  let behaviour: Behaviour = {};
  let primary: Awaited<ReturnType<typeof fakePrimary>>;
  beforeAll(async () => {
    primary = await fakePrimary(() => behaviour);
  });
  afterAll(() => primary.close());

  it('sends one signed UPDATE for the name and resolves on a signed NOERROR (ignoring an answer to another id)', async () => {
    behaviour = { strayFirst: true };
    await provider(primary.port).replaceTxt('_dmarc.Example.TEST', 'v=DMARC1; p=reject', 300);
    const { unsigned, tsig } = splitTsig(primary.received.at(-1)!);
    expect(tsig).toMatchObject({ keyName: 'dmarc-autopilot', algorithm: 'hmac-sha256', error: 0 });
    expect(unsigned.toString('latin1')).toContain('v=DMARC1; p=reject');
    expect((unsigned.readUInt16BE(2) >> 11) & 0xf).toBe(5);
  });

  it.each([
    [{ rcode: 9, tsigError: 16 }, 'DNS_UPDATE_NOT_AUTHORIZED', false, /NOTAUTH \(BADSIG\): the key's secret or algorithm differs/],
    [{ rcode: 9, tsigError: 17 }, 'DNS_UPDATE_NOT_AUTHORIZED', false, /NOTAUTH \(BADKEY\): the server does not know a key/],
    [{ rcode: 9, tsigError: 18 }, 'DNS_UPDATE_NOT_AUTHORIZED', false, /NOTAUTH \(BADTIME\): .*clock/],
    [{ rcode: 9 }, 'DNS_UPDATE_NOT_AUTHORIZED', false, /answered NOTAUTH: the server is not authoritative/],
    [{ rcode: 5 }, 'DNS_UPDATE_REFUSED', false, /answered REFUSED: the server does not let this key update the zone/],
    [{ rcode: 10 }, 'DNS_UPDATE_REJECTED', false, /answered NOTZONE/],
    [{ rcode: 4, sign: 'none' }, 'DNS_UPDATE_REJECTED', false, /answered NOTIMP/],
    [{ rcode: 2 }, 'DNS_UPDATE_SERVER_FAILURE', true, /answered SERVFAIL/],
    [{ rcode: 0, sign: 'none' }, 'DNS_UPDATE_BAD_RESPONSE', true, /NOERROR without a TSIG signature/],
    [{ rcode: 0, sign: 'other-secret' }, 'DNS_UPDATE_BAD_RESPONSE', true, /answer NOERROR not trusted: its TSIG MAC does not match/],
  ] as const)('%j -> %s (retriable %s)', async (b, code, retriable, message) => {
    behaviour = b;
    const err = await failure(provider(primary.port).replaceTxt('_dmarc.example.test', 'v=DMARC1; p=none', 300));
    expect({ code: err.code, retriable: err.retriable, server: err.server }).toEqual({ code, retriable, server: `127.0.0.1:${primary.port}` });
    expect(err.message).toMatch(message);
    expect(err.message).toContain('UPDATE of _dmarc.example.test TXT in zone example.test');
  });

  it('times out (retriable) when the server does not answer', async () => {
    behaviour = { silent: true };
    const err = await failure(provider(primary.port, 150).replaceTxt('_dmarc.example.test', 'v=DMARC1; p=none', 300));
    expect({ code: err.code, retriable: err.retriable }).toEqual({ code: 'DNS_UPDATE_TIMEOUT', retriable: true });
    expect(err.message).toMatch(/no answer to UPDATE of _dmarc.example.test TXT in zone example.test within 150 ms/);
  });

  it('reports a refused connection as retriable', async () => {
    const err = await failure(provider(await freePort()).replaceTxt('_dmarc.example.test', 'v=DMARC1; p=none', 300));
    expect({ code: err.code, retriable: err.retriable }).toEqual({ code: 'DNS_UPDATE_NETWORK', retriable: true });
    expect(err.message).toMatch(/ECONNREFUSED/);
  });
});

describe('RFC 2136 provider: reading the record from the server', () => {
  let dns: DnsTestServer;
  beforeAll(async () => {
    dns = await startDnsTestServer();
  });
  afterEach(() => dns.reset());
  afterAll(() => dns.close());

  it('joins each TXT record\'s strings, and reads nothing for a name that does not exist', async () => {
    dns.set('_dmarc.example.test', 'TXT', [['v=DMARC1; p=none; ', 'rua=mailto:a@example.test'], 'other']);
    expect(await provider(dns.port).readTxt('_dmarc.example.test')).toEqual(['v=DMARC1; p=none; rua=mailto:a@example.test', 'other']);
    expect(await provider(dns.port).readTxt('_dmarc.missing.example.test')).toEqual([]);
  });

  it('reports SERVFAIL as retriable and REFUSED as not', async () => {
    dns.fail('servfail');
    expect(await failure(provider(dns.port).readTxt('_dmarc.example.test'))).toMatchObject({ code: 'DNS_UPDATE_SERVER_FAILURE', retriable: true, rcode: 'SERVFAIL' });
    dns.fail('refused');
    expect(await failure(provider(dns.port).readTxt('_dmarc.example.test'))).toMatchObject({ code: 'DNS_UPDATE_REFUSED', retriable: false, rcode: 'REFUSED' });
  });
});
