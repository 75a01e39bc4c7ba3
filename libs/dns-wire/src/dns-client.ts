// The real upstream: a stub resolver that asks a list of recursive servers over UDP, falls back to TCP
// for truncated answers, and retries on the next server when one does not answer.
import { randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { nameProblem, normaliseName } from './dns-name';
import { encodeQuery, type Question } from './dns-message';
import { UpstreamError } from './errors';
import { tcpExchange, udpExchange, type Answered } from './transport';
import { parseUpstreams, systemUpstreams, type UpstreamServer } from './upstream-address';
import type { RecordType, Upstream, UpstreamAnswer } from './upstream';

export interface DnsClientOptions {
  /** The servers, in order of preference: parsed already, or a `DNS_UPSTREAM` string. Default: /etc/resolv.conf. */
  servers?: readonly UpstreamServer[] | string;
  /** Per attempt (a TCP fallback gets its own). Default 2000 ms. */
  timeoutMs?: number;
  /** Attempts after the first, each on the next server in the list. Default 2. */
  retries?: number;
  /** Send an EDNS0 OPT record (1232-byte UDP size). Default true. */
  edns?: boolean;
}

export interface ResolvedDnsClientOptions {
  readonly servers: readonly UpstreamServer[];
  readonly timeoutMs: number;
  readonly retries: number;
  readonly edns: boolean;
}

const RECORD_TYPES: ReadonlySet<string> = new Set<RecordType>(['A', 'AAAA', 'TXT', 'MX', 'PTR', 'CNAME', 'SOA', 'NS']);

export function resolveDnsClientOptions(options: DnsClientOptions = {}): ResolvedDnsClientOptions {
  const servers = typeof options.servers === 'string' ? parseUpstreams(options.servers) : (options.servers ?? systemUpstreams());
  if (servers.length === 0) throw new RangeError('DNS client: no upstream server');
  const timeoutMs = options.timeoutMs ?? 2000;
  if (!(timeoutMs > 0)) throw new RangeError(`DNS client: timeoutMs must be > 0, got ${timeoutMs}`);
  const retries = options.retries ?? 2;
  if (!Number.isInteger(retries) || retries < 0) throw new RangeError(`DNS client: retries must be an integer >= 0, got ${retries}`);
  return { servers: [...servers], timeoutMs, retries, edns: options.edns ?? true };
}

export class DnsClient implements Upstream {
  readonly options: ResolvedDnsClientOptions;
  /**
   * Where the next query starts: the server that answered last. A dead first server then costs one
   * timeout, not one per query.
   */
  private preferred = 0;

  constructor(options: DnsClientOptions = {}) {
    this.options = resolveDnsClientOptions(options);
  }

  async query(name: string, type: RecordType, signal?: AbortSignal): Promise<UpstreamAnswer> {
    const qname = normaliseName(name);
    const problem = nameProblem(qname);
    if (problem) throw new UpstreamError('DNS_BAD_QUERY', `cannot ask ${JSON.stringify(name)}: ${problem}`);
    if (!RECORD_TYPES.has(type)) throw new UpstreamError('DNS_BAD_QUERY', `cannot ask ${qname}: unknown record type ${JSON.stringify(type)}`);

    const { servers, retries } = this.options;
    const attempts = retries + 1;
    const start = this.preferred;
    let lastError: UpstreamError | undefined;
    let lastRefusal: UpstreamAnswer | undefined;
    for (let attempt = 0; attempt < attempts; attempt++) {
      const index = (start + attempt) % servers.length;
      const server = servers[index]!;
      try {
        const answer = await this.ask(server, qname, type, signal);
        // SERVFAIL / REFUSED speak for that server only: ask the next one while some server has not been
        // asked yet; with a single server its SERVFAIL is the answer, not a reason to ask it again.
        const untriedLeft = attempt + 1 < Math.min(attempts, servers.length);
        if ((answer.rcode === 'SERVFAIL' || answer.rcode === 'REFUSED') && untriedLeft) {
          lastRefusal = answer;
          continue;
        }
        this.preferred = index;
        return answer;
      } catch (err) {
        if (!(err instanceof UpstreamError) || err.code === 'DNS_ABORTED') throw err;
        lastError = err;
      }
    }
    // A server that said SERVFAIL gave an answer; that beats a later timeout elsewhere.
    if (lastRefusal) return lastRefusal;
    const err = lastError!;
    throw new UpstreamError(err.code, `${qname} ${type}: no usable answer after ${attempts} attempt(s); last: ${err.message}`, {
      cause: err,
      server: err.server,
    });
  }

  /** One attempt on one server: UDP, then TCP if the answer was truncated. */
  private async ask(server: UpstreamServer, name: string, type: RecordType, signal: AbortSignal | undefined): Promise<UpstreamAnswer> {
    const { edns, timeoutMs } = this.options;
    const opts = { timeoutMs, signal };
    const started = performance.now();
    const question = (): Question => ({ id: randomInt(0x10000), name, type });
    let q = question();
    let reading: Answered = await udpExchange(server, q, encodeQuery(q, edns), opts);
    if (edns && reading.kind === 'answer' && reading.rcode === 'FORMERR' && !reading.hasOpt) {
      // RFC 6891 §7: a server that does not know EDNS may answer FORMERR; ask it again the old way.
      q = question();
      reading = await udpExchange(server, q, encodeQuery(q, false), opts);
    }
    if (reading.kind === 'answer' && reading.truncated) {
      q = question();
      reading = await tcpExchange(server, q, encodeQuery(q, edns), opts);
    }
    if (reading.kind === 'unknown-rcode') {
      throw new UpstreamError('DNS_BAD_RESPONSE', `${server.label}: rcode ${reading.rcode} for ${name} ${type}`, { server: server.label });
    }
    const answer: UpstreamAnswer = {
      rcode: reading.rcode,
      answers: reading.answers,
      server: server.label,
      latencyMs: performance.now() - started,
    };
    if (reading.negativeTtl !== undefined) answer.negativeTtl = reading.negativeTtl;
    return answer;
  }
}
