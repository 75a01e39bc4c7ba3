// One exchange with one server over UDP or TCP: send the question, wait for the packet that answers it,
// give up at the deadline. Retrying and choosing servers is the client's business, not this file's.
//
// One UDP socket per query, not a shared one per family: each query then leaves from its own random
// ephemeral port, so a forged answer has to guess the port as well as the 16-bit id (RFC 5452 §9.2),
// and the socket is `connect`ed, so the kernel drops datagrams from any other source and reports an
// ICMP "port unreachable" at once instead of letting us wait for the timeout. The cost, creating,
// connecting and closing a socket, was ~80 µs per query (2,000 in a row, 2 shared cores, Node 20),
// small beside a resolver's round trip, and the cache in front keeps queries near one per name per TTL.
import dgram from 'node:dgram';
import net from 'node:net';
import { describeCause, UpstreamError } from './errors';
import { readResponse, type Question, type Reading } from './dns-message';
import type { UpstreamServer } from './upstream-address';

export type Answered = Exclude<Reading, { kind: 'not-ours' }>;

export interface ExchangeOptions {
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

export function udpExchange(server: UpstreamServer, q: Question, query: Buffer, opts: ExchangeOptions): Promise<Answered> {
  return exchange<Answered>(server, `${q.name} ${q.type}`, opts, (done, fail) => {
    const socket = dgram.createSocket(server.family === 6 ? 'udp6' : 'udp4');
    // A packet we could not read may be junk from anyone; keep waiting, but say so if nothing better comes.
    let unreadable: unknown;
    socket.on('error', (err) => fail(new UpstreamError('DNS_NETWORK', `${server.label}: ${describeCause(err)}`, { cause: err, server: server.label })));
    socket.on('message', (bytes, from) => {
      if (from.address.split('%')[0] !== server.host.split('%')[0] || from.port !== server.port) return;
      let reading: Reading;
      try {
        reading = readResponse(bytes, q);
      } catch (err) {
        unreadable = err;
        return;
      }
      if (reading.kind !== 'not-ours') done(reading);
    });
    socket.connect(server.port, server.host, () => socket.send(query));
    return {
      close: () => socket.close(),
      onTimeout: () =>
        unreadable === undefined
          ? undefined
          : new UpstreamError('DNS_BAD_RESPONSE', `${server.label}: unreadable answer over UDP (${describeCause(unreadable)})`, { cause: unreadable, server: server.label }),
    };
  });
}

export function tcpExchange(server: UpstreamServer, q: Question, query: Buffer, opts: ExchangeOptions): Promise<Answered> {
  return tcpMessageExchange(server, query, `${q.name} ${q.type}`, opts, (bytes) => {
    const reading = readResponse(bytes, q);
    return reading.kind === 'not-ours' ? undefined : reading;
  });
}

/**
 * One message out over TCP (RFC 1035 §4.2.2 framing), and the first message back that `read` accepts:
 * `read` returns undefined for a message that is not the answer (keep waiting) and throws for one that
 * cannot be read. For exchanges other than a question (a dynamic UPDATE): `what` names it in a timeout.
 */
export function tcpMessageExchange<T>(server: UpstreamServer, message: Buffer, what: string, opts: ExchangeOptions, read: (bytes: Buffer) => T | undefined): Promise<T> {
  return exchange<T>(server, what, opts, (done, fail) => {
    const socket = net.connect({ host: server.host, port: server.port, family: server.family });
    socket.setNoDelay(true);
    let pending: Buffer = Buffer.alloc(0);
    const framed = Buffer.alloc(2 + message.length);
    framed.writeUInt16BE(message.length, 0);
    message.copy(framed, 2);
    socket.on('connect', () => socket.write(framed));
    socket.on('error', (err) => fail(new UpstreamError('DNS_NETWORK', `${server.label} (TCP): ${describeCause(err)}`, { cause: err, server: server.label })));
    socket.on('close', () => fail(new UpstreamError('DNS_NETWORK', `${server.label} (TCP): connection closed before the answer`, { server: server.label })));
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 2) {
        const length = pending.readUInt16BE(0);
        if (pending.length < 2 + length) return;
        const bytes = pending.subarray(2, 2 + length);
        pending = pending.subarray(2 + length);
        let result: T | undefined;
        try {
          result = read(bytes);
        } catch (err) {
          // Over TCP the peer is the server we connected to: an unreadable answer is its fault, not noise.
          return fail(new UpstreamError('DNS_BAD_RESPONSE', `${server.label}: unreadable answer over TCP (${describeCause(err)})`, { cause: err, server: server.label }));
        }
        if (result !== undefined) return done(result);
      }
    });
    return { close: () => socket.destroy(), onTimeout: () => undefined };
  });
}

type Start<T> = (
  done: (result: T) => void,
  fail: (err: UpstreamError) => void,
) => { close(): void; onTimeout(): UpstreamError | undefined };

/** The settle-once skeleton both transports share: deadline, abort, cleanup. `what` names the exchange in a timeout. */
function exchange<T>(server: UpstreamServer, what: string, opts: ExchangeOptions, start: Start<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (opts.signal?.aborted) return reject(aborted(opts.signal, server));
    let settled = false;
    let io: ReturnType<Start<T>> | undefined;
    const finish = (f: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      io?.close();
      f();
    };
    const onAbort = () => finish(() => reject(aborted(opts.signal!, server)));
    const timer = setTimeout(
      () =>
        finish(() =>
          reject(io?.onTimeout() ?? new UpstreamError('DNS_TIMEOUT', `${server.label}: no answer to ${what} within ${opts.timeoutMs} ms`, { server: server.label })),
        ),
      opts.timeoutMs,
    );
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      io = start(
        (result) => finish(() => resolve(result)),
        (err) => finish(() => reject(err)),
      );
    } catch (err) {
      finish(() => reject(new UpstreamError('DNS_NETWORK', `${server.label}: ${describeCause(err)}`, { cause: err, server: server.label })));
    }
    // start() may have settled synchronously before io was assigned.
    if (settled) io?.close();
  });
}

function aborted(signal: AbortSignal, server: UpstreamServer): UpstreamError {
  return new UpstreamError('DNS_ABORTED', 'DNS query aborted', { cause: signal.reason, server: server.label });
}
