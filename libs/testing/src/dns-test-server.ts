// An authoritative DNS server for tests, on loopback, over UDP and TCP on one port. Tests set the
// records, make it slow, failing, silent or truncating, and count what it was asked.
//
// It speaks the wire format through dns-packet, the codec @dmarc/dns-wire uses; it does not import
// dns-wire itself (a util library may not depend on a data-access one), so its record shapes are its own.
import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';
import * as packet from 'dns-packet';

export type TestRecordType = 'A' | 'AAAA' | 'TXT' | 'MX' | 'PTR' | 'CNAME' | 'SOA' | 'NS';

export interface TestSoa {
  mname: string;
  rname: string;
  serial?: number;
  refresh?: number;
  retry?: number;
  expire?: number;
  minimum: number;
}

/** The data of one record, per type. TXT: its strings, or one string split at 255 bytes. */
export interface TestRecordData {
  A: string;
  AAAA: string;
  TXT: string | string[];
  MX: { preference: number; exchange: string };
  PTR: string;
  CNAME: string;
  NS: string;
  SOA: TestSoa;
}

export type DnsTestFailure = 'servfail' | 'refused' | 'drop';
export type DnsTestProtocol = 'udp' | 'tcp';

export interface DnsQueryCount {
  total: number;
  udp: number;
  tcp: number;
}

export interface DnsReceivedQuery {
  name: string;
  type: string;
  protocol: DnsTestProtocol;
  at: number;
}

/** What a fallback gives for a name that was never `set`: its records of the asked type (`[]`: NODATA) and their TTL (default 300). */
export interface DnsTestFallbackAnswer {
  records: Array<TestRecordData[TestRecordType]>;
  ttl?: number;
}

/**
 * Answers for names not `set`, computed per query (e.g. a PTR for every in-addr.arpa name, which a benchmark
 * of a million source IPs cannot `set` one by one). undefined: NXDOMAIN, as without a fallback.
 */
export type DnsTestFallback = (name: string, type: string) => DnsTestFallbackAnswer | undefined;

export interface DnsTestServerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: any free port (the same one for UDP and TCP). */
  port?: number;
  /** The negative-answer SOA: its TTL (default 3600) and MINIMUM (default 60); negative TTL = the lower. */
  soaTtl?: number;
  soaMinimum?: number;
  /** How many queries `log` keeps, the most recent ones (default 10,000), so a long benchmark does not grow it forever. */
  logLimit?: number;
}

export interface DnsTestServer {
  /** `host:port`, as DNS_UPSTREAM takes it. */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  /** Sets (replaces) the records of one name and type; `[]` leaves the name existing with none (NODATA). */
  set<T extends TestRecordType>(name: string, type: T, records: TestRecordData[T][], ttl?: number): void;
  /**
   * Answers names that were never `set` (or were removed) from `fallback(name, type)`, the name lower case
   * without the root dot; null removes it. Set names, failures, delays and truncation work as before.
   */
  setFallback(fallback: DnsTestFallback | null): void;
  /** Forgets a name, every type: NXDOMAIN from now on. */
  remove(name: string): void;
  /** Changes the SOA sent with NXDOMAIN / NODATA. */
  setSoa(soa: { ttl?: number; minimum?: number }): void;
  /** Delays every answer, or those for `name` (0 = no delay; a name's delay wins over the global one). */
  delay(ms: number, name?: string): void;
  /** Answers SERVFAIL or REFUSED, or never answers ('drop'); null clears. Globally or for `name`. */
  fail(mode: DnsTestFailure | null, name?: string): void;
  /** Sets TC and sends no records over UDP for `name`, so clients must ask again over TCP. */
  truncate(name: string, on?: boolean): void;
  /** Queries received (dropped ones included), for a name and/or type, total and per protocol. */
  queries(name?: string, type?: string): DnsQueryCount;
  /** The queries received, in order: the last `logLimit` of them (the counters above count them all). */
  readonly log: readonly DnsReceivedQuery[];
  /** Zeroes the counters and the log. */
  resetCounters(): void;
  /** Back to an empty server: records, fallback, delays, failures, truncation, counters. */
  reset(): void;
  close(): Promise<void>;
}

interface RRset {
  ttl: number;
  records: unknown[];
}

const norm = (name: string): string => {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
};

/** RFC 6891: without EDNS a UDP answer may be 512 bytes at most. */
const CLASSIC_UDP_SIZE = 512;

export async function startDnsTestServer(options: DnsTestServerOptions = {}): Promise<DnsTestServer> {
  const host = options.host ?? '127.0.0.1';
  const { udp, tcp, port } = await bindBoth(host, options.port ?? 0);

  const zone = new Map<string, Map<string, RRset>>();
  const soa = { ttl: options.soaTtl ?? 3600, minimum: options.soaMinimum ?? 60 };
  const delays = new Map<string, number>();
  let globalDelay = 0;
  const failures = new Map<string, DnsTestFailure>();
  let globalFailure: DnsTestFailure | null = null;
  let fallback: DnsTestFallback | null = null;
  const truncated = new Set<string>();
  let log: DnsReceivedQuery[] = [];
  const logLimit = options.logLimit ?? 10_000;
  // Counted per name and type, not by scanning the log: a benchmark may send millions of queries.
  let counts = new Map<string, Map<string, DnsQueryCount>>();
  const timers = new Set<NodeJS.Timeout>();
  const connections = new Set<net.Socket>();
  let closed = false;

  function answer(query: packet.DecodedPacket, protocol: DnsTestProtocol): packet.Packet | undefined {
    const question = query.questions?.[0];
    const opt = query.additionals?.find((a): a is packet.OptAnswer => a.type === 'OPT');
    const base = {
      type: 'response' as const,
      id: query.id ?? 0,
      questions: query.questions ?? [],
      additionals: opt ? [{ type: 'OPT' as const, name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] : [],
    };
    const rd = query.flag_rd ? packet.RECURSION_DESIRED : 0;
    if (!question || (query.questions ?? []).length !== 1) return { ...base, flags: rd | RCODE.FORMERR };
    const name = norm(question.name === '.' ? '' : question.name);
    record(name, question.type, protocol);

    const failure = failures.get(name) ?? globalFailure;
    if (failure === 'drop') return undefined;
    if (failure) return { ...base, flags: rd | (failure === 'servfail' ? RCODE.SERVFAIL : RCODE.REFUSED) };

    const flags = rd | packet.AUTHORITATIVE_ANSWER;
    if (protocol === 'udp' && truncated.has(name)) return { ...base, flags: flags | packet.TRUNCATED_RESPONSE };

    // Follow CNAMEs inside our own data, as an authoritative server does for in-zone targets (RFC 1034 §4.3.2).
    const answers: packet.Answer[] = [];
    let owner = name;
    const seen = new Set<string>();
    for (;;) {
      const rrsets = zone.get(owner) ?? fromFallback(owner, question.type);
      if (!rrsets) {
        return { ...base, flags: flags | RCODE.NXDOMAIN, answers, authorities: [negativeSoa(owner)] };
      }
      const cname = rrsets.get('CNAME');
      if (cname && question.type !== 'CNAME' && cname.records.length > 0 && !seen.has(owner)) {
        seen.add(owner);
        answers.push(toAnswer(owner, 'CNAME', cname.ttl, cname.records[0]));
        owner = norm(cname.records[0] as string);
        continue;
      }
      const rrset = rrsets.get(question.type);
      if (!rrset || rrset.records.length === 0) {
        return { ...base, flags, answers, authorities: [negativeSoa(owner)] };
      }
      for (const r of rrset.records) answers.push(toAnswer(owner, question.type, rrset.ttl, r));
      return { ...base, flags, answers };
    }
  }

  /** The fallback's answer as the RRsets of a set name (TXT strings split as `set` does), or undefined. */
  function fromFallback(name: string, type: string): Map<string, RRset> | undefined {
    const found = fallback?.(name, type);
    if (!found) return undefined;
    const records = type === 'TXT' ? found.records.map((r) => txtStrings(r as string | string[])) : found.records;
    return new Map([[type, { ttl: found.ttl ?? 300, records }]]);
  }

  function record(name: string, type: string, protocol: DnsTestProtocol): void {
    let byType = counts.get(name);
    if (!byType) counts.set(name, (byType = new Map()));
    let count = byType.get(type);
    if (!count) byType.set(type, (count = { total: 0, udp: 0, tcp: 0 }));
    count.total++;
    count[protocol]++;
    if (logLimit <= 0) return;
    // Trimmed in halves, not one shift per query, to keep each query O(1) amortised.
    if (log.length >= logLimit * 2) log = log.slice(-logLimit);
    log.push({ name, type, protocol, at: Date.now() });
  }

  /** The SOA of the closest enclosing name that has one set, else a synthetic one at the root. */
  function negativeSoa(name: string): packet.Answer {
    const labels = name === '' ? [] : name.split('.');
    for (let i = 0; i <= labels.length; i++) {
      const owner = labels.slice(i).join('.');
      const set = zone.get(owner)?.get('SOA');
      if (set && set.records.length > 0) return toAnswer(owner, 'SOA', set.ttl, set.records[0]);
    }
    return toAnswer('', 'SOA', soa.ttl, {
      mname: 'ns.test',
      rname: 'hostmaster.test',
      serial: 1,
      refresh: 3600,
      retry: 600,
      expire: 86400,
      minimum: soa.minimum,
    });
  }

  function respond(bytes: Buffer, protocol: DnsTestProtocol, send: (out: Buffer) => void): void {
    let query: packet.DecodedPacket;
    try {
      query = packet.decode(bytes);
    } catch {
      return; // Not DNS: a real server would answer FORMERR if it could read the id; tests gain nothing from it.
    }
    if (query.flag_qr) return;
    const response = answer(query, protocol);
    if (!response) return;
    let out = packet.encode(response);
    if (protocol === 'udp') {
      const opt = query.additionals?.find((a): a is packet.OptAnswer => a.type === 'OPT');
      const limit = Math.max(CLASSIC_UDP_SIZE, opt?.udpPayloadSize ?? CLASSIC_UDP_SIZE);
      // Too big for what the client can take over UDP: tell it to come back over TCP.
      if (out.length > limit) out = packet.encode({ ...response, flags: (response.flags ?? 0) | packet.TRUNCATED_RESPONSE, answers: [], authorities: [] });
    }
    const name = norm(query.questions?.[0]?.name ?? '');
    const wait = delays.get(name) ?? globalDelay;
    if (wait <= 0) return send(out);
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!closed) send(out);
    }, wait);
    timers.add(timer);
  }

  udp.on('message', (bytes, from) => {
    respond(bytes, 'udp', (out) => udp.send(out, from.port, from.address));
  });
  udp.on('error', () => undefined);

  tcp.on('connection', (socket) => {
    connections.add(socket);
    socket.on('close', () => connections.delete(socket));
    socket.on('error', () => undefined);
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 2) {
        const length = pending.readUInt16BE(0);
        if (pending.length < 2 + length) return;
        const bytes = pending.subarray(2, 2 + length);
        pending = pending.subarray(2 + length);
        respond(bytes, 'tcp', (out) => {
          if (socket.destroyed) return;
          const framed = Buffer.alloc(2 + out.length);
          framed.writeUInt16BE(out.length, 0);
          out.copy(framed, 2);
          socket.write(framed);
        });
      }
    });
  });

  const server: DnsTestServer = {
    address: `${host.includes(':') ? `[${host}]` : host}:${port}`,
    host,
    port,
    set(name, type, records, ttl = 300) {
      const owner = norm(name);
      let rrsets = zone.get(owner);
      if (!rrsets) zone.set(owner, (rrsets = new Map()));
      rrsets.set(type, { ttl, records: records.map((r) => (type === 'TXT' ? txtStrings(r as string | string[]) : r)) });
    },
    setFallback(next) {
      fallback = next;
    },
    remove(name) {
      zone.delete(norm(name));
    },
    setSoa(next) {
      if (next.ttl !== undefined) soa.ttl = next.ttl;
      if (next.minimum !== undefined) soa.minimum = next.minimum;
    },
    delay(ms, name) {
      if (name === undefined) globalDelay = ms;
      else if (ms > 0) delays.set(norm(name), ms);
      else delays.delete(norm(name));
    },
    fail(mode, name) {
      if (name === undefined) globalFailure = mode;
      else if (mode) failures.set(norm(name), mode);
      else failures.delete(norm(name));
    },
    truncate(name, on = true) {
      if (on) truncated.add(norm(name));
      else truncated.delete(norm(name));
    },
    queries(name, type) {
      const count: DnsQueryCount = { total: 0, udp: 0, tcp: 0 };
      const byName = name === undefined ? [...counts.values()] : [counts.get(norm(name)) ?? new Map<string, DnsQueryCount>()];
      for (const byType of byName) {
        for (const [t, c] of byType) {
          if (type !== undefined && t !== type) continue;
          count.total += c.total;
          count.udp += c.udp;
          count.tcp += c.tcp;
        }
      }
      return count;
    },
    get log() {
      return log.length > logLimit ? log.slice(-logLimit) : log;
    },
    resetCounters() {
      log = [];
      counts = new Map();
    },
    reset() {
      zone.clear();
      fallback = null;
      delays.clear();
      failures.clear();
      truncated.clear();
      globalDelay = 0;
      globalFailure = null;
      soa.ttl = options.soaTtl ?? 3600;
      soa.minimum = options.soaMinimum ?? 60;
      server.resetCounters();
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const c of connections) c.destroy();
      await Promise.all([new Promise<void>((r) => udp.close(() => r())), new Promise<void>((r) => tcp.close(() => r()))]);
    },
  };
  return server;
}

const RCODE = { FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const;

function toAnswer(name: string, type: string, ttl: number, data: unknown): packet.Answer {
  return { name: name === '' ? '.' : name, type, ttl, class: 'IN', data } as packet.Answer;
}

/** A TXT record's character-strings: each at most 255 bytes, so a longer string is cut into several. */
function txtStrings(data: string | string[]): Buffer[] {
  const out: Buffer[] = [];
  for (const s of Array.isArray(data) ? data : [data]) {
    const bytes = Buffer.from(s, 'utf8');
    if (bytes.length === 0) out.push(bytes);
    for (let i = 0; i < bytes.length; i += 255) out.push(bytes.subarray(i, i + 255));
  }
  return out;
}

/** UDP and TCP on the same port: take a UDP port, then try for TCP on it; a few tries if it is taken. */
async function bindBoth(host: string, port: number): Promise<{ udp: dgram.Socket; tcp: net.Server; port: number }> {
  const type = host.includes(':') ? 'udp6' : 'udp4';
  for (let attempt = 0; ; attempt++) {
    const udp = dgram.createSocket(type);
    udp.bind(port, host);
    await once(udp, 'listening');
    const bound = udp.address().port;
    const tcp = net.createServer();
    try {
      tcp.listen(bound, host);
      await once(tcp, 'listening');
      return { udp, tcp, port: bound };
    } catch (err) {
      udp.close();
      tcp.close();
      if (port !== 0 || attempt >= 10) throw err;
    }
  }
}
